#!/usr/bin/env bash
# The graceful VM stop with a real Linux guest: Debian's kernel, an
# initramfs with the ACPI button driver, evdev and busybox acpid
# (acpid-init.sh), `vessel start` then `vessel stop` (acpid-inner.sh).
# With a hardware-backed /dev/kvm it runs here; otherwise (a software KVM
# such as PVM cannot boot a stock kernel) inside the nested KVM host of
# tests/harness (about a minute), unless MANAGE_NESTED=0 or there is no
# qemu-system-x86_64. Prints "ok acpid_power_button", "FAIL ..." or
# "SKIP ..."; exits non-zero on failure.
#   env: VESSEL, MANAGE_NESTED
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/../harness/lib.sh"
: "${VESSEL:?}"

if have_hw_kvm; then
	mode=direct
elif [ "${MANAGE_NESTED:-1}" != 0 ] && command -v qemu-system-x86_64 >/dev/null; then
	mode=nested
else
	echo "SKIP acpid_power_button: no hardware KVM, and no nested host (MANAGE_NESTED=0 or no qemu-system-x86_64)"
	exit 0
fi
kv=$("$HARNESS_DIR/fetch-kernel.sh") || { echo "FAIL acpid_power_button: no kernel"; exit 1; }
eval "$kv"
# Not $CACHE/tmp: that is a fresh tmpfs inside the nested host.
mkdir -p "$CACHE"
dir=$(mktemp -d "$CACHE/manage-acpid.XXXXXX")
trap 'rm -rf "$dir"' EXIT
if ! "$HARNESS_DIR/mkinitramfs.sh" "$dir/initrd.cpio.gz" \
	--init "$HERE/acpid-init.sh" --modules "button evdev" >"$dir/mk.log" 2>&1; then
	echo "FAIL acpid_power_button: cannot build the initramfs"
	sed 's/^/    | /' "$dir/mk.log" | tail -n 20
	exit 1
fi
cp "$KERNEL" "$dir/vmlinuz"
cat >"$dir/acpid.yaml" <<YAML
name: acpid-guest
memory: 256M
kernel: vmlinuz
initrd: initrd.cpio.gz
cmdline: console=ttyS0
YAML
export TEST_ACPID_DIR=$dir VESSEL
if [ $mode = direct ]; then
	"$HERE/acpid-inner.sh"
else
	"$HARNESS_DIR/nested-host.sh" "$HERE/acpid-inner.sh"
fi

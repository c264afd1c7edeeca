#!/usr/bin/env bash
# Prepares examples/images/ (Debian's kernel and a busybox initramfs) and
# boots examples/hello.yaml. Where /dev/kvm is not hardware-backed (no
# kvm_intel/kvm_amd), the guest boots inside the nested KVM host the tests
# use, with the console still on this terminal.
#   examples/hello.sh            prepare and boot
#   examples/hello.sh --prepare  only prepare the images
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
images=$here/images
mkdir -p "$images"

eval "$("$repo/tests/harness/fetch-kernel.sh")"
ln -sf "$KERNEL" "$images/vmlinuz"
if [ ! -s "$images/hello-initrd.img" ] || [ "$here/hello-init.sh" -nt "$images/hello-initrd.img" ]; then
	"$repo/tests/harness/mkinitramfs.sh" "$images/hello-initrd.img" \
		--init "$here/hello-init.sh" --moddir "$MODDIR"
fi
[ "${1:-}" = --prepare ] && exit 0
# Inside the nested host there is no terminal: the same guest, told by its
# cmdline to run a few commands itself and power off.
if [ "${1:-}" = --inside ]; then
	sed -e "s|^kernel: .*|kernel: $images/vmlinuz|" \
	    -e "s|^initrd: .*|initrd: $images/hello-initrd.img|" \
	    -e "s|^cmdline: \(.*\)|cmdline: \1 vessel_demo|" \
	    "$here/hello.yaml" >"$images/hello-demo.yaml"
	exec "$repo/vessel" run "$images/hello-demo.yaml" </dev/null
fi

if [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
	exec "$repo/vessel" run "$here/hello.yaml"
fi
echo "hello: /dev/kvm is not hardware-backed here; booting inside the nested KVM host (~1 min)." >&2
echo "hello: there the console is not interactive: the guest runs a few commands itself." >&2
exec "$repo/tests/harness/nested-host.sh" "$here/hello.sh" --inside

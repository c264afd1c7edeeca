#!/usr/bin/env bash
# guest-cpu-info.sh [VMM [FLAVOUR]]: boots Debian's kernel of FLAVOUR
# (amd64, the default, or rt-amd64: see fetch-kernel.sh) with 2 vCPUs under VMM
# (default: the repo's ./vessel; tests/harness/qemu-vessel.sh runs QEMU with
# -cpu host instead) and prints what the guest saw of its CPU: CPUID leaves
# (incl. KVM's 0x40000001 paravirt features), /proc/cpuinfo flags, the
# clocksource and clockevents, the PV/timer lines of dmesg, interrupt counts.
# For comparing what vessel and QEMU give a guest; needs /dev/kvm, so on a
# machine without one, e.g.:
#   tests/harness/nested-host.sh tests/harness/guest-cpu-info.sh $PWD/vessel rt-amd64
set -euo pipefail
# shellcheck source=tests/harness/lib.sh
. "$(dirname "$0")/lib.sh"

vmm=${1:-$REPO/vessel}
eval "$(KERNEL_FLAVOUR=${2:-amd64} "$HARNESS_DIR/fetch-kernel.sh")"
work=$(mktemp -d "${TMPDIR:-/tmp}/guest-cpu-info.XXXXXX")
trap 'rm -rf "$work"' EXIT
run_timeout 300 "$HARNESS_DIR/mkinitramfs.sh" "$work/initrd.cpio.gz" \
	--init "$HARNESS_DIR/guest-cpu-info-init.sh" --modules "cpuid msr" \
	--moddir "$MODDIR" >/dev/null
cat >"$work/guest.yaml" <<YAML
name: cpu-info
vcpus: 2
memory: 512M
kernel: $KERNEL
initrd: initrd.cpio.gz
cmdline: "console=ttyS0 panic=-1"
on_reboot: exit
YAML
rc=0
run_timeout 180 "$vmm" run "$work/guest.yaml" </dev/null >"$work/console" 2>"$work/stderr" || rc=$?
tr -d '\r' <"$work/console" | sed -n 's/^CI //p'
if ! grep -q '^CI END' "$work/console"; then
	log "the guest did not finish (status $rc); its console's last lines and the VMM's stderr:"
	tail -n 30 "$work/console" >&2
	tail -n 20 "$work/stderr" >&2
	exit 1
fi

#!/usr/bin/env bash
# The virtio test guest booted with acpi=off, 2 vCPUs, one virtio-blk disk
# (16 MiB the host filled with random bytes). Without ACPI the kernel finds
# the CPUs and the interrupt routing in vessel's MP table and reaches PCI
# config space through mechanism 1 (ports 0xcf8/0xcfc) instead of MCFG's
# ECAM. Asserts, from what the guest printed: the kernel ran without ACPI
# (no /sys/firmware/acpi; "ACPI: Interpreter disabled"; no MCFG/MMCONFIG
# use), it used the MP table ("MP-table" in the log) and brought up 2 CPUs;
# PCI config type 1; the virtio functions are on PCI (vendor 0x1af4), one
# virtio-blk (0x1042) bound to virtio-pci, and /dev/vda sits on it; vda has
# the image's size and its sha256 is the host's.
# Ending: without ACPI the guest cannot power vessel's machine off (its
# only power-off path is the ACPI PM1 control register; Linux with
# acpi=off turns `poweroff -f` into a halt, as on hardware). A reset would
# do (i8042, exit 3 with on_reboot: exit), but `reboot -f` with acpi=off
# currently freezes the whole guest under vessel (not under QEMU): an open
# bug, see the session notes. So once the guest has printed VT-DONE the
# test stops vessel with SIGTERM, which must end it with status 143.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

img=$T/disk.img
dd if=/dev/urandom of="$img" bs=1M count=16 status=none
sum=$(sha256sum <"$img" | cut -d' ' -f1)
info "host: disk image 16 MiB, sha256 $sum"

virtio_guest t16 <<'SH'
vt_wait_dev /dev/vda
echo "VT-NPROC=$(nproc)"
echo "VT-CPUS-ONLINE=$(cat /sys/devices/system/cpu/online)"
if [ -e /sys/firmware/acpi ]; then echo "VT-ACPI-SYSFS=present"; else echo "VT-ACPI-SYSFS=absent"; fi
for d in /sys/bus/pci/devices/*; do
	drv=none
	[ ! -e "$d/driver" ] || drv=$(basename "$(readlink "$d/driver")")
	echo "VT-PCI=${d##*/} $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class") $drv"
done
echo "VT-VDA-SYSFS=$(readlink -f /sys/block/vda)"
echo "VT-VDA-SECTORS=$(cat /sys/block/vda/size)"
echo "VT-VDA-SHA256=$(sha256sum /dev/vda | cut -d' ' -f1)"
dmesg | grep -iE 'ACPI|MP-table|MPTABLE|MP Spec|configuration type|MMCONFIG|ECAM|MCFG|smpboot|Brought up' |
	sed 's/^/VT-DMESG: /'
echo "VT-DONE"
# No ACPI, no power-off (see the test's header): wait to be stopped.
sleep 600
SH
write_config t16 <<YAML
name: t16
vcpus: 2
memory: 512M
kernel: vmlinuz
initrd: t16-initrd.cpio.gz
cmdline: "$GUEST_CMDLINE acpi=off vessel_cmdline_token=$T_CMDTOKEN"
on_reboot: exit
disks:
  - path: disk.img
    readonly: true
YAML

vm_start
wait_output '^VT-DONE$' "$VM_TIMEOUT"
vm_signal TERM
vm_wait 30
expect_booted
expect_no_output '^VESSEL-INSMOD-FAILED='
expect_no_output '^VESSEL-TEST-EXIT='
expect_output '^VT-DONE$'

# Ran without ACPI.
grep -q ' acpi=off' <<<"$(guest_value VESSEL-CMDLINE)" || vfail "the guest's cmdline lacks acpi=off"
[ "$(guest_value VT-ACPI-SYSFS)" = absent ] || vfail "/sys/firmware/acpi exists in the guest: ACPI was not off"
expect_output 'VT-DMESG: .*ACPI: Interpreter disabled'
expect_no_output 'VT-DMESG: .*(MMCONFIG|ECAM|MCFG).*(at|for) \[mem'
expect_no_output '^VT-DMESG: .*ACPI: (RSDP|XSDT|RSDT|FACP|DSDT|MADT|APIC) '
# The MP table instead: CPUs and routing from it, PCI through 0xcf8/0xcfc.
expect_output 'VT-DMESG: .*MP-table'
expect_output 'VT-DMESG: .*PCI: Using configuration type 1'
[ "$(guest_value VT-NPROC)" = 2 ] || vfail "the guest has $(guest_value VT-NPROC) CPUs online, want 2 (from the MP table)"
[ "$(guest_value VT-CPUS-ONLINE)" = 0-1 ] || vfail "online CPUs '$(guest_value VT-CPUS-ONLINE)', want 0-1"
expect_output 'VT-DMESG: .*Brought up 1 node, 2 CPUs'

# The virtio devices on PCI.
grep '^VT-PCI=' "$T/console" | while read -r l; do info "guest: $l"; done
nvirtio=$(count_output '^VT-PCI=[^ ]+ 0x1af4 ')
nblk=$(count_output '^VT-PCI=[^ ]+ 0x1af4 0x1042 ')
[ "$nvirtio" -ge 1 ] || vfail "no PCI function with vendor 0x1af4 (virtio) in the guest"
[ "$nblk" = 1 ] || vfail "the guest sees $nblk virtio-blk PCI functions (1af4:1042), want 1"
blkfn=$(grep -m1 -E '^VT-PCI=[^ ]+ 0x1af4 0x1042 ' "$T/console" | sed 's/^VT-PCI=//')
read -r bdf _ _ _ drv <<<"$blkfn"
[ "$drv" = virtio-pci ] || vfail "the virtio-blk function $bdf is bound to '$drv', want virtio-pci"
vda=$(guest_value VT-VDA-SYSFS)
info "guest: /sys/block/vda -> $vda"
[[ $vda == */"$bdf"/virtio*/block/vda ]] || vfail "/dev/vda ($vda) is not the virtio device on PCI function $bdf"

# The disk's content.
[ "$(guest_value VT-VDA-SECTORS)" = $((16 * 2048)) ] ||
	vfail "vda has $(guest_value VT-VDA-SECTORS) sectors, want $((16 * 2048)) (16 MiB)"
gsum=$(guest_value VT-VDA-SHA256)
info "guest: sha256 of /dev/vda $gsum"
[ "$gsum" = "$sum" ] || vfail "the guest read /dev/vda with sha256 $gsum, the host wrote $sum"

# The ending: stopped by SIGTERM (see the header).
expect_rc 143 "vessel stopped by SIGTERM"
pass

#!/usr/bin/env bash
# examples/disk-net.yaml as a user boots it (`make hello EXAMPLE=disk-net`):
# examples/hello.sh prepares the kernel, the initramfs with the virtio
# modules and the 16 MiB ext4 disk; the guest, told to run its demo and
# power off (vessel_demo, as hello.sh does without a terminal), mounts
# /dev/vda and prints the greeting stored in it, and brings eth0 up with
# the MAC from the file. vessel creates the tap (there was none before)
# and removes it on exit.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

ex=$REPO/examples
run_timeout 300 "$ex/hello.sh" --prepare >"$T/prepare.log" 2>&1 ||
	fail "examples/hello.sh --prepare failed: $(tail -n 5 "$T/prepare.log")"
img=$T/hello-disk.img
cp "$ex/images/hello-disk.img" "$img"   # the guest writes: a copy
write_config disk-net <<YAML
$(sed -e "s|^kernel: .*|kernel: $ex/images/vmlinuz|" \
	-e "s|^initrd: .*|initrd: $ex/images/hello-initrd.img|" \
	-e "s|^  - path: images/hello-disk.img|  - path: $img|" \
	-e "s|^cmdline: \(.*\)|cmdline: \1 vessel_demo|" \
	-e "s|^name: .*|name: t17-disk-net|" \
	"$ex/disk-net.yaml")
YAML
tap=$(sed -n 's/^  - tap: *\([^ #]*\).*/\1/p' "$CFG")
[ -n "$tap" ] || fail "examples/disk-net.yaml names no tap"
! ip link show "$tap" >/dev/null 2>&1 || fail "tap $tap exists before the test"

vm_start
wait_output '^VESSEL-USERSPACE-OK$'
vm_wait 60
expect_rc 0 "the guest powered off"
expect_output '^Disk: /dev/vda \(16 MiB\) mounted on /mnt\.$'
expect_output '^Hello from the ext4 disk examples/images/hello-disk.img, read through virtio-blk\.$'
expect_output '^NIC: eth0, MAC 52:54:00:12:34:56\.$'
expect_output 'eth0: .*link/ether 52:54:00:12:34:56'
! ip link show "$tap" >/dev/null 2>&1 || fail "tap $tap still exists after vessel exited"
info "the guest read the example disk and saw its NIC (on tap $tap, which vessel created and removed)"
pass

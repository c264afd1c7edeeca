#!/usr/bin/env bash
# virtio-blk under a real filesystem: a 256 MiB sparse image (cache: none, on
# an ext4 scratch filesystem so vessel really uses O_DIRECT + libaio; checked
# in /proc/PID/fdinfo). The guest (2 vCPUs) makes an ext4 filesystem on
# /dev/vda, writes a 64 MiB file from /dev/urandom, prints its sha256, syncs,
# unmounts, drops its caches, mounts again read-only and hashes the file read
# back from the disk, then powers off: vessel exits 0. The disk's serial
# (VIRTIO_BLK_T_GET_ID) starts with "vessel". On the host: e2fsck -fn finds
# the filesystem clean and debugfs dumps a file with the guest's checksum.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

ensure_cmds e2fsprogs:debugfs e2fsprogs:e2fsck
host_ext4_dir "$T/fs" 512
img=$T/fs/disk.img
truncate -s 256M "$img"

virtio_guest t10 <<'SH'
vt_wait_dev /dev/vda
echo "VT-SERIAL=$(cat /sys/block/vda/serial)"
echo "VT-SECTORS=$(cat /sys/block/vda/size)"
echo "VT-MKFS=$(command -v mkfs.ext4)"
mkfs.ext4 -q -F /dev/vda
echo "VT-MKFS-DONE"
mount -t ext4 /dev/vda /mnt
t0=$(vt_uptime_ms)
dd if=/dev/urandom of=/mnt/file bs=1M count=64 2>/dev/null
sync
echo "VT-WRITE-MS=$(($(vt_uptime_ms) - t0))"
echo "VT-FILE-SIZE=$(stat -c %s /mnt/file)"
echo "VT-SHA256=$(sha256sum /mnt/file | cut -d' ' -f1)"
umount /mnt
echo "VT-UMOUNTED"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro /dev/vda /mnt
t0=$(vt_uptime_ms)
echo "VT-SHA256-REREAD=$(sha256sum /mnt/file | cut -d' ' -f1)"
echo "VT-READ-MS=$(($(vt_uptime_ms) - t0))"
umount /mnt
sync
echo "VT-DONE"
SH
virtio_config t10 512M 2 <<'YAML'
disks:
  - path: fs/disk.img
    cache: none
YAML

vm_start
wait_output '^VESSEL-TEST-START$'
expect_direct_rw "$img"
wait_output '^VESSEL-TEST-EXIT=' "$VM_TIMEOUT"
vm_wait 60
expect_booted
expect_guest_ok
expect_output '^VT-DONE$'
expect_rc 0 "guest powered off"

serial=$(guest_value VT-SERIAL)
info "guest: /sys/block/vda/serial '$serial'"
[[ $serial == vessel* ]] || vfail "vda's serial (GET_ID) is '$serial', want it to start with 'vessel'"
sectors=$(guest_value VT-SECTORS)
[ "$sectors" = $((256 * 2048)) ] || vfail "vda has $sectors sectors, want $((256 * 2048)) (256 MiB)"
[ "$(guest_value VT-MKFS)" = /usr/local/sbin/mkfs.ext4 ] || vfail "the guest did not use e2fsprogs' mkfs.ext4"
size=$(guest_value VT-FILE-SIZE)
[ "$size" = $((64 << 20)) ] || vfail "the guest's file has $size bytes, want $((64 << 20))"
sum=$(guest_value VT-SHA256)
[[ $sum =~ ^[0-9a-f]{64}$ ]] || vfail "no sha256 from the guest (got '$sum')"
[ "$(guest_value VT-SHA256-REREAD)" = "$sum" ] ||
	vfail "the file read back after a remount hashes to $(guest_value VT-SHA256-REREAD), written $sum"
info "guest: 64 MiB written + synced in $(guest_value VT-WRITE-MS) ms, read back in $(guest_value VT-READ-MS) ms"

# The host's view of the image.
out=$(e2fsck -fn "$img" 2>&1) || vfail "e2fsck -fn on the image: status $?: $out"
info "e2fsck: $(tail -n1 <<<"$out")"
debugfs -R "dump /file $T/file.out" "$img" 2>"$T/debugfs.err" ||
	vfail "debugfs dump failed: $(cat "$T/debugfs.err")"
[ -f "$T/file.out" ] || vfail "debugfs did not dump /file: $(cat "$T/debugfs.err")"
hsize=$(stat -c %s "$T/file.out")
hsum=$(sha256sum "$T/file.out" | cut -d' ' -f1)
info "host: /file in the image: $hsize bytes, sha256 $hsum"
[ "$hsize" = "$size" ] || vfail "/file in the image has $hsize bytes, the guest wrote $size"
[ "$hsum" = "$sum" ] || vfail "/file in the image hashes to $hsum, the guest's to $sum"
pass

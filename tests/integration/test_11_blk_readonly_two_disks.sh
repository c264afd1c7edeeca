#!/usr/bin/env bash
# Two disks, in file order: vda a read-only 8 MiB image (cache: none, which
# falls back to the page cache on tmpfs) starting with a string the host
# wrote, vdb a writable 24 MiB image (cache: writeback); rng: false.
# In the guest: vda and vdb have the sizes of the first and second image, the
# disk serials differ, vda is read-only (sysfs ro, blockdev --getro) and
# reads back the host's string; writing to vda fails, also after
# `blockdev --setrw` (then the device itself must refuse it), and the image
# is unchanged; a write to vdb at 1 MiB (conv=fsync) lands in the image.
# There are two virtio-blk PCI functions (1af4:1042) and no virtio-rng
# (1af4:1044). On the host: vessel opened vda O_RDONLY and vdb O_RDWR, and a
# second vessel on the same writable image is refused (flock) with status 1
# while the first runs.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

ro_img=$T/ro.img rw_img=$T/rw.img
ro_str="VESSEL-RO-$(random_token)"
rw_str="VESSEL-RW-$(random_token)"
truncate -s 8M "$ro_img"
printf '%s\n' "$ro_str" | dd of="$ro_img" conv=notrunc status=none
truncate -s 24M "$rw_img"
ro_sum=$(sha256sum <"$ro_img")

virtio_guest t11 <<SH
vt_wait_dev /dev/vda
vt_wait_dev /dev/vdb
for d in vda vdb; do
	echo "VT-\$d-SECTORS=\$(cat /sys/block/\$d/size)"
	echo "VT-\$d-SERIAL=\$(cat /sys/block/\$d/serial)"
	echo "VT-\$d-RO=\$(cat /sys/block/\$d/ro)"
	echo "VT-\$d-GETRO=\$(blockdev --getro /dev/\$d)"
done
echo "VT-PCI-BLK=\$(grep -l 0x1042 /sys/bus/pci/devices/*/device | wc -l)"
echo "VT-PCI-RNG=\$(grep -l 0x1044 /sys/bus/pci/devices/*/device | wc -l)"
echo "VT-RO-READ=\$(head -c ${#ro_str} /dev/vda)"
rc=0
dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>&1 || rc=\$?
echo "VT-RO-WRITE-RC=\$rc"
rc=0
blockdev --setrw /dev/vda 2>&1 || rc=\$?
echo "VT-SETRW-RC=\$rc GETRO-NOW=\$(blockdev --getro /dev/vda)"
rc=0
dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>&1 || rc=\$?
echo "VT-RO-WRITE2-RC=\$rc"
echo "VT-RW-READY"
printf '%s\n' "$rw_str" | dd of=/dev/vdb bs=512 seek=2048 conv=fsync 2>/dev/null
echo "VT-RW-WRITTEN"
# Until the host has tried a second vessel on vdb's image (it types a line).
echo "VT-WAITING-FOR-HOST"
read -r reply
echo "VT-HOST-SAID=\$reply"
SH
virtio_config t11 256M <<'YAML'
disks:
  - path: ro.img
    readonly: true
    cache: none
  - path: rw.img
    readonly: false
    cache: writeback
rng: false
YAML

vm_start
wait_output '^VESSEL-TEST-START$'
ro_flags=$(vm_fd_flags "$ro_img")
rw_flags=$(vm_fd_flags "$rw_img")
info "vessel's descriptors: ro.img flags '$ro_flags', rw.img flags '$rw_flags'"
{ [ -n "$ro_flags" ] && [ -n "$rw_flags" ]; } || vfail "vessel has no descriptor open on one of the images"
for f in $ro_flags; do (((8#$f & 3) == 0)) || vfail "the readonly image is open for writing (flags $f)"; done
for f in $rw_flags; do (((8#$f & 3) == 2)) || vfail "the writable image is not open O_RDWR (flags $f)"; done

# A second VM on the writable image must be refused while this one runs.
write_config second <<YAML
name: t11b
memory: 128M
kernel: vmlinuz
initrd: t11-initrd.cpio.gz
cmdline: "$GUEST_CMDLINE"
disks:
  - path: rw.img
YAML
rc2=0
timeout -k 5 30 "$VESSEL" run "$T/second.yaml" </dev/null >"$T/second.out" 2>"$T/second.err" || rc2=$?
info "second vessel on rw.img: status $rc2: $(head -c 300 "$T/second.err" | tr '\n' ' ')"
kill -0 "$VM_PID" 2>/dev/null || vfail "the first vessel died while the second one started"
CFG=$T/t11.yaml
[ "$rc2" = 1 ] || vfail "a second vessel on the same writable image exited $rc2, want 1 (image locked)"
grep -qiE 'lock|in use|busy' "$T/second.err" || vfail "the second vessel's error does not mention the lock: $(cat "$T/second.err")"
wait_output '^VT-WAITING-FOR-HOST$' 60
vm_send "host-done"
wait_output '^VT-HOST-SAID=host-done$' 30

wait_output '^VESSEL-TEST-EXIT=' "$VM_TIMEOUT"
vm_wait 60
expect_booted
expect_guest_ok
expect_rc 0 "guest powered off"

# Order and sizes: vda is the first image (8 MiB), vdb the second (24 MiB).
[ "$(guest_value VT-vda-SECTORS)" = $((8 * 2048)) ] ||
	vfail "vda has $(guest_value VT-vda-SECTORS) sectors, want $((8 * 2048)) (the first disk, 8 MiB)"
[ "$(guest_value VT-vdb-SECTORS)" = $((24 * 2048)) ] ||
	vfail "vdb has $(guest_value VT-vdb-SECTORS) sectors, want $((24 * 2048)) (the second disk, 24 MiB)"
s1=$(guest_value VT-vda-SERIAL) s2=$(guest_value VT-vdb-SERIAL)
info "serials: vda '$s1', vdb '$s2'"
[[ $s1 == vessel* && $s2 == vessel* && $s1 != "$s2" ]] || vfail "disk serials '$s1' and '$s2': want two different ones starting with 'vessel'"
[ "$(guest_value VT-vda-RO)" = 1 ] || vfail "/sys/block/vda/ro is '$(guest_value VT-vda-RO)', want 1"
[ "$(guest_value VT-vda-GETRO)" = 1 ] || vfail "blockdev --getro /dev/vda is '$(guest_value VT-vda-GETRO)', want 1"
[ "$(guest_value VT-vdb-RO)" = 0 ] || vfail "/sys/block/vdb/ro is '$(guest_value VT-vdb-RO)', want 0"
[ "$(guest_value VT-PCI-BLK)" = 2 ] || vfail "the guest sees $(guest_value VT-PCI-BLK) virtio-blk PCI functions, want 2"
[ "$(guest_value VT-PCI-RNG)" = 0 ] || vfail "rng: false, yet the guest sees $(guest_value VT-PCI-RNG) virtio-rng PCI functions"

# The read-only disk: readable, not writable, unchanged.
[ "$(guest_value VT-RO-READ)" = "$ro_str" ] ||
	vfail "vda's first bytes read '$(guest_value VT-RO-READ)', the host wrote '$ro_str'"
[ "$(guest_value VT-RO-WRITE-RC)" != 0 ] || vfail "writing to the read-only vda succeeded"
info "after blockdev --setrw: $(grep -m1 '^VT-SETRW-RC=' "$T/console")"
[ "$(guest_value VT-RO-WRITE2-RC)" != 0 ] || vfail "after blockdev --setrw, writing to the read-only vda succeeded"
[ "$(sha256sum <"$ro_img")" = "$ro_sum" ] || vfail "the read-only image changed"

# The writable disk: the guest's write is in the image.
got=$(image_bytes "$rw_img" $((1 << 20)) ${#rw_str})
[ "$got" = "$rw_str" ] || vfail "rw.img at 1 MiB holds '$got', the guest wrote '$rw_str'"
pass

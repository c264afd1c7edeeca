#!/usr/bin/env bash
# Incremental backups of a stopped VM's disk from its persistent dirty
# bitmap (IMAGE.vbitmap, issue #13): a 1 GiB sparse image (32 MiB of
# random data, the rest a hole) on an ext4 scratch filesystem (O_DIRECT),
# backed up once (a full read: no bitmap yet).
# 1. The guest writes 10 MiB (1% of the disk) with dd and powers off: the
#    next backup reads at most 2% of the disk (its bytes read counted),
#    stores about 1%, and restores byte-identical (cmp).
# 2. The VM runs twice more, stopped cleanly each time (a poweroff, then
#    SIGTERM), writing 2 MiB and 1 MiB: the backup is still incremental,
#    reading only those two chunks (their 3 MiB of data).
# 3. The VM is SIGKILLed while it runs, after a write: the backup reads
#    everything (every data extent), says why ("did not stop cleanly"),
#    and restores byte-identical.
# test-timeout: 600
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (a loop mount)"
host_ext4_dir "$T/fs" 256
img=$T/fs/d.img R=$T/repo
truncate -s 1G "$img"
dd if=/dev/urandom of="$img" bs=1M count=32 seek=64 conv=notrunc status=none
size=$((1 << 30)) max_read=$(((1 << 30) / 50))

# backup N: `vessel backup --json` into $R as $T/bN.json.
backup() {
	info "vessel backup (#$1)"
	"$VESSEL" backup --json "$CFG" "$R" >"$T/b$1.json" 2>"$T/b$1.err" ||
		fail "backup #$1 failed: $(cat "$T/b$1.err")"
	info "backup #$1: read $(jget "$T/b$1.json" bytes_read), stored $(jget "$T/b$1.json" bytes_new) new, incremental $(jget "$T/b$1.json" incremental d) $(jget "$T/b$1.json" full_reason d)"
}

# restored N: backup N restores to an image identical to the disk's.
restored() {
	local id
	id=$(jget "$T/b$1.json" id)
	"$VESSEL" backup restore "$R" "$id" --to "$T/out$1" >/dev/null 2>"$T/r$1.err" ||
		fail "restore of $id failed: $(cat "$T/r$1.err")"
	cmp -s "$img" "$T/out$1/d.img" || fail "backup #$1 ($id) restores an image that differs from the disk"
	rm -rf "$T/out$1"
}

# guest NAME SCRIPT: the guest runs SCRIPT (its disk is /dev/vda); one
# guest name for all (its backups follow each other).
guest() {
	virtio_guest "$1"
	virtio_config "$1" 256M <<YAML
disks:
  - path: fs/d.img
    cache: none
YAML
	sed -i 's/^name: .*/name: t35/' "$CFG"
}

# 1. 10 MiB at 300 MiB (chunks 75..77), then a poweroff.
guest t35a <<'SH'
vt_wait_dev /dev/vda
dd if=/dev/urandom of=/dev/vda bs=1M count=10 seek=300 conv=fsync 2>/dev/null
echo "VT-WROTE"
SH
backup 0
[ "$(jget "$T/b0.json" incremental d)" = False ] || fail "the first backup was incremental"
[ -s "$img.vbitmap" ] || fail "the backup left no dirty bitmap beside the image"
vm_run
expect_booted
expect_guest_ok
expect_output '^VT-WROTE$'
backup 1
[ "$(jget "$T/b1.json" incremental d)" = True ] || fail "after a clean stop the backup was not incremental: $(jget "$T/b1.json" full_reason d)"
read1=$(jget "$T/b1.json" bytes_read) new1=$(jget "$T/b1.json" bytes_new)
[ "$read1" -le "$max_read" ] || fail "the backup read $read1 bytes of a 1 GiB disk after 10 MiB changed (at most $max_read)"
[ "$read1" -ge $((10 << 20)) ] || fail "the backup read only $read1 bytes: it missed what the guest wrote"
[ "$new1" -ge $((9 << 20)) ] && [ "$new1" -le $((16 << 20)) ] || fail "the backup stored $new1 bytes after 10 MiB changed"
[ "$(jget "$T/b1.json" bytes_logical)" = "$size" ] || fail "the backup is not logically full"
restored 1

# 2. Two clean stops: a poweroff after 2 MiB at 600 MiB (chunk 150), then
#    SIGTERM after 1 MiB at 801 MiB (chunk 200).
guest t35b <<'SH'
vt_wait_dev /dev/vda
dd if=/dev/urandom of=/dev/vda bs=1M count=2 seek=600 conv=fsync 2>/dev/null
SH
vm_run
expect_guest_ok
guest t35c <<'SH'
vt_wait_dev /dev/vda
dd if=/dev/urandom of=/dev/vda bs=1M count=1 seek=801 conv=fsync 2>/dev/null
echo "VT-WROTE"
sleep 600
SH
vm_start
wait_output '^VT-WROTE$' 120
vm_signal TERM
vm_wait 60
info "vessel after SIGTERM: status $RC"
backup 2
[ "$(jget "$T/b2.json" incremental d)" = True ] || fail "after two clean stops the backup was not incremental: $(jget "$T/b2.json" full_reason d)"
# Of those two chunks, only their data (holes are never read).
[ "$(jget "$T/b2.json" bytes_read)" = $((3 << 20)) ] || fail "the backup read $(jget "$T/b2.json" bytes_read) bytes, not the 3 MiB of the two chunks written"
[ "$(jget "$T/b2.json" chunks_new)" = 2 ] || fail "the backup stored $(jget "$T/b2.json" chunks_new) new chunks, not 2"
restored 2

# 3. SIGKILL while it runs.
guest t35d <<'SH'
vt_wait_dev /dev/vda
dd if=/dev/urandom of=/dev/vda bs=1M count=1 seek=900 conv=fsync 2>/dev/null
echo "VT-WROTE"
sleep 600
SH
vm_start
wait_output '^VT-WROTE$' 120
vm_signal KILL
vm_wait 30
expect_rc 137 "SIGKILL"
info "vessel backup (#3, text)"
"$VESSEL" backup "$CFG" "$R" >"$T/b3.out" 2>&1 || fail "backup #3 failed: $(cat "$T/b3.out")"
cat "$T/b3.out"
grep -q "disk0 .*full read: the VM did not stop cleanly" "$T/b3.out" || fail "after a SIGKILL the backup did not say it read everything, and why"
# The data extents: the 32 MiB, and the 10 + 2 + 1 + 1 MiB written.
read3=$(sed -n 's/.*disk0 .*: read \([0-9.]*\) MiB of.*/\1/p' "$T/b3.out")
[ -n "$read3" ] && python3 -c "import sys; sys.exit(not float('$read3') >= 46)" || fail "after a SIGKILL the backup read ${read3:-?} MiB, not every data extent (46 MiB)"
backup 4
[ "$(jget "$T/b4.json" incremental d)" = True ] || fail "the backup after the full read was not incremental"
[ "$(jget "$T/b4.json" bytes_read)" = 0 ] || fail "nothing changed, yet the backup read $(jget "$T/b4.json" bytes_read) bytes"
restored 4
pass

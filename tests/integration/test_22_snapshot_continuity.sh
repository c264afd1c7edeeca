#!/usr/bin/env bash
# Snapshot and restore continue the guest where it was (issue #12).
# A guest (1 vCPU, 256 MiB) keeps a file open on an ext4 virtio-blk disk
# (cache: none, on a host ext4 so vessel uses O_DIRECT) and every 100 ms
# prints TICK N with its uptime and CLOCK_MONOTONIC and appends "line N" to
# the file. The host pauses it, copies the disk image (the copy that goes
# with the snapshot, as the README says), snapshots it (a paused VM stays
# paused), kills it (`vessel stop --force`), puts the copy back and
# restores it in the foreground (`vessel restore DIR`): there is no boot
# banner, the counter goes on from the last TICK before the pause, uptime
# and CLOCK_MONOTONIC do not go back. Then the guest is told "stop" on its
# console: it closes the file, syncs, unmounts and powers off (status 0).
# On the host, debugfs reads the file from the image: "line 1" .. "line N"
# without a gap or a repeat, the lines from before the pause and from after
# the restore all there.
# test-timeout: 300
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

ensure_cmds e2fsprogs:debugfs e2fsprogs:mkfs.ext4
snap_init
host_ext4_dir "$T/fs" 256
img=$T/fs/disk.img
truncate -s 64M "$img"
mkfs.ext4 -q -F "$img" || fail "mkfs.ext4 $img failed"
name=t22
snap=$T/snap

virtio_guest t22 <<SH
$SNAP_GUEST_FUNCS
vt_wait_dev /dev/vda
mount -t ext4 /dev/vda /mnt
exec 3>>/mnt/ticks
SNAP_FD3=1
echo "VT-FILE-OPEN"
snap_ticker 0.1
exec 3>&-
echo "VT-FILE-LINES=\$(wc -l </mnt/ticks)"
echo "VT-FILE-LAST=\$(tail -n 1 /mnt/ticks)"
sync
umount /mnt
echo "VT-UMOUNTED"
SH
virtio_config t22 256M 1 <<YAML
disks:
  - path: fs/disk.img
    cache: none
YAML

# Life 1: boot, tick.
snap_start "$CFG" "$name"
snap_wait '^VT-FILE-OPEN$'
snap_wait_ticks 10

# Pause: the counter holds still.
snap_ok pause pause "$name"
sleep 0.5
paused_at=$(snap_last_tick)
sleep 1.5
[ "$(snap_last_tick)" = "$paused_at" ] ||
	snap_fail "the guest printed TICK $(snap_last_tick) after TICK $paused_at while paused"
info "paused at TICK $paused_at"
cp --sparse=always "$img" "$T/fs/disk.snap.img" || fail "copying the paused guest's image failed"
snap_ok snapshot snapshot "$name" "$snap"
for f in config.yaml state; do
	[ -s "$snap/$f" ] || snap_fail "the snapshot has no $f (it holds: $(ls -A "$snap" | tr '\n' ' '))"
done
[ -e "$snap/memory" ] || [ -e "$snap/memory.z" ] || snap_fail "the snapshot has no memory file"
info "snapshot in $SNAP_CMD_MS ms: $(du -sh "$snap" | cut -f1) on disk, state $(stat -c %s "$snap/state") bytes"
sleep 0.5
[ "$(snap_last_tick)" = "$paused_at" ] ||
	snap_fail "the paused guest ran on after the snapshot (TICK $(snap_last_tick), paused at $paused_at)"

# Kill it, put back the image as it was at the snapshot.
snap_ok stop stop --force "$name"
mv -f "$T/fs/disk.snap.img" "$img"

# Life 2: restored in the foreground; the counter goes on.
snap_restore_fg "$snap"
snap_wait_ticks 15 120
snap_expect_continued 1 $((paused_at + 1)) $((paused_at + 2))
vm_send stop
snap_wait '^VESSEL-TEST-EXIT=' 120
snap_fg_wait 60
[ "$RC" = 0 ] || snap_fail "vessel restore exited $RC after the guest powered off, want 0: $(tail -n 5 "$T/restore-fg.err")"
[ "$(snap_value VESSEL-TEST-EXIT)" = 0 ] || snap_fail "the guest's script failed after the restore (VESSEL-TEST-EXIT=$(snap_value VESSEL-TEST-EXIT))"
snap_expect_continued 1 $((paused_at + 1)) $((paused_at + 2))
last=$(snap_value TICKER-STOPPED)
lines=$(snap_value VT-FILE-LINES)
info "the guest: last TICK $last, the file has $lines lines, the last '$(snap_value VT-FILE-LAST)'"
[ "$lines" = "$last" ] || snap_fail "the guest's file has $lines lines, but it ticked $last times"
[ "$(snap_value VT-FILE-LAST)" = "line $last" ] || snap_fail "the file's last line is '$(snap_value VT-FILE-LAST)', want 'line $last'"
grep -q '^VT-UMOUNTED$' "$SNAP_CON" || snap_fail "the guest did not unmount its disk"

# The host's view of the file on the image.
debugfs -R "dump /ticks $T/ticks.out" "$img" 2>"$T/debugfs.err" ||
	snap_fail "debugfs dump failed: $(cat "$T/debugfs.err")"
[ -f "$T/ticks.out" ] || snap_fail "debugfs found no /ticks in the image: $(cat "$T/debugfs.err")"
bad=$(awk '$0 != "line " NR { print "line " NR " of the file is \"" $0 "\""; exit }' "$T/ticks.out")
[ -z "$bad" ] || snap_fail "the file on the image: $bad"
n=$(wc -l <"$T/ticks.out")
info "host: the image's /ticks has lines 1..$n"
[ "$n" = "$last" ] || snap_fail "the image's /ticks has $n lines, the guest wrote $last"
[ "$n" -ge $((paused_at + 10)) ] || snap_fail "only $n lines, paused at $paused_at: the writes after the restore are missing"
pass

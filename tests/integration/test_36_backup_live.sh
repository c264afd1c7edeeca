#!/usr/bin/env bash
# A live backup of a running VM (`vessel backup NAME REPO` while NAME
# runs; issue #13, "Consistent while running"): copy-before-write in the
# block layer makes the backup see the disk as it was when it began.
# The guest (1 vCPU, 256 MiB) makes an ext4 filesystem on its 96 MiB disk
# (the image on an ext4 scratch filesystem, so that vessel uses O_DIRECT
# and libaio as on a real host), fills 40 MiB of it with random data (so
# that the backup takes a while), then appends numbered records "REC N"
# to /log, one at a time, each followed by a rewrite of one of 8 files of
# 256 KiB spread over the disk and a `sync`, printing "REC N" on its
# console once it is on the disk. The backup runs while it does. Then:
# - the backup succeeded and says copy-before-write saved chunks (the
#   guest wrote to chunks it had not read yet);
# - the restored image (`vessel backup restore`), its journal replayed as
#   after a power cut (`e2fsck -p`, which refuses any real repair), passes
#   `e2fsck -fn`; its /log holds exactly the
#   records 1..K with no gap, no duplicate and nothing torn, and K is at
#   least the last record the guest had synced when the backup began and
#   at most the last it had synced when the backup ended;
# - a second backup, cut short by `vessel stop --force`, fails saying why
#   and is not listed;
# - the guest wrote on during and after the backup: the live image, once
#   the guest is stopped (its journal replayed), holds records past K, and
#   is clean as well.
# test-timeout: 600
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (a loop mount)"
ensure_cmds e2fsprogs:debugfs e2fsprogs:e2fsck
snap_init
host_ext4_dir "$T/fs" 512
truncate -s 96M "$T/fs/disk.img"
name=t36
RECS=100000          # until stopped

virtio_guest "$name" <<SH
vt_wait_dev /dev/vda
mkfs.ext4 -q -F /dev/vda
mount -t ext4 /dev/vda /mnt
dd if=/dev/urandom of=/mnt/fill bs=1M count=40 conv=fsync 2>/dev/null
: >/mnt/log
sync
echo "VT-READY"
i=0
while [ \$i -lt $RECS ]; do
	i=\$((i + 1))
	echo "REC \$i" >>/mnt/log
	dd if=/dev/urandom of=/mnt/f.\$((i % 8)) bs=64k count=4 2>/dev/null
	sync
	echo "REC \$i"
done
SH
virtio_config "$name" 256M 1 <<YAML
disks:
  - path: fs/disk.img
YAML

# last_rec: the last record the guest reported on the disk (0: none).
last_rec() { snap_con; awk '$1 == "REC" { n = $2 } END { print n + 0 }' "$SNAP_CON"; }
recs_grow() { # N SECS: N more records within SECS
	local want=$(($(last_rec) + $1)) end=$(($(date +%s) + $2))
	while [ "$(last_rec)" -lt "$want" ]; do
		[ "$(date +%s)" -lt "$end" ] || snap_fail "the guest wrote nothing for ${2}s (last REC $(last_rec), want $want)"
		sleep 0.2
	done
}
# check_log IMAGE WHAT: IMAGE's /log is "REC 1".."REC K", in order, whole;
# prints K.
check_log() {
	debugfs -R "dump /log $T/log.out" "$1" >/dev/null 2>&1 || fail "$2: no /log in the image"
	awk -v what="$2" '
		$0 != "REC " NR { printf "%s: line %d is \"%s\", want \"REC %d\"\n", what, NR, $0, NR; bad = 1; exit }
		END { if (!bad) print NR }' "$T/log.out" >"$T/log.check"
	grep -q '^[0-9][0-9]*$' "$T/log.check" || fail "$(cat "$T/log.check"); the log: $(head -c 400 "$T/log.out" | tr '\n' ' ')"
	cat "$T/log.check"
}

snap_start "$CFG" "$name"
snap_wait '^VT-READY$' 240
recs_grow 5 120

snap_connect_reply() { # JSON: one request line to the control socket, its reply
	python3 - "$VESSEL_RUN_DIR/$name/control" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())
PY
}

# Bad requests are refused; the guest runs on.
for req in '{"op":"backup"}' '{"op":"backup","repo":"relative"}' '{"op":"backup","repo":7}' \
	'{"op":"backup","repo":"/nonexistent/repo"}' '{"op":"backup","repo":"/a\u0000b"}'; do
	r=$(snap_connect_reply "$req")
	info "$req -> $r"
	case $r in *'"ok":false'*) ;; *) snap_fail "$req was not refused: $r" ;; esac
done
[ "$(mig_state "$VESSEL_RUN_DIR" "$name")" = running ] || snap_fail "after the bad requests $name is '$(mig_state "$VESSEL_RUN_DIR" "$name")'"

# The backup, while the guest writes; a second one meanwhile is refused.
before=$(last_rec)
info "vessel backup --json $name $T/fs/repo (in the background)"
( rc=0; timeout -k 5 300 "$VESSEL" backup --json "$name" "$T/fs/repo" </dev/null >"$T/backup.out" 2>"$T/backup.err" || rc=$?
  echo "$rc" >"$T/backup.status" ) &
bk_pid=$!
# (the second "backing up" note: the first was the bad request's)
snap_wait '^\[vessel: backing up\]$' 60 2
r=$(snap_connect_reply "{\"op\":\"backup\",\"repo\":\"$T/fs/repo\"}")
info "a second backup meanwhile: $r"
case $r in *'"ok":false'*already*) ;; *) snap_fail "a second backup while one runs was not refused: $r" ;; esac
wait "$bk_pid" || true
after=$(last_rec)
[ "$(cat "$T/backup.status")" = 0 ] || snap_fail "vessel backup exited $(cat "$T/backup.status"): $(cat "$T/backup.err")"
info "backup: $(tr '\n' ' ' <"$T/backup.out")"
info "the guest had synced record $before when the backup began, $after when it ended"
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$T/backup.out" "$1"; }
id=$(field id)
[ -n "$id" ] || snap_fail "no id in vessel backup --json's output"
[ "$(field live)" = True ] || snap_fail "the backup does not say it was taken live"
copies=$(field cbw_chunks)
[ "${copies:-0}" -gt 0 ] || snap_fail "copy-before-write saved no chunk: the guest wrote nothing the backup had not read yet (cbw_chunks '${copies:-}')"
[ "$after" -gt "$before" ] || snap_fail "the guest synced no record during the backup ($before before, $after after)"

# The guest writes on. A second backup is cut short by a hard stop of the
# guest: it fails, and nothing of it is recorded.
recs_grow 5 120
( rc=0; timeout -k 5 300 "$VESSEL" backup "$name" "$T/fs/repo" </dev/null >"$T/backup2.out" 2>"$T/backup2.err" || rc=$?
  echo "$rc" >"$T/backup2.status" ) &
bk_pid=$!
snap_wait '^\[vessel: backing up\]$' 60 3
snap_ok stop stop --force "$name"
wait "$bk_pid" || true
mig_wait_gone "$VESSEL_RUN_DIR" "$name" stop
snap_life_end 15
if [ "$(cat "$T/backup2.status")" = 0 ]; then
	info "the second backup ended before the stop: not checked ($(cat "$T/backup2.out"))"
else
	info "the backup cut short: status $(cat "$T/backup2.status"): $(cat "$T/backup2.err")"
	grep -qE 'during the backup|rebooting or stopping' "$T/backup2.err" || fail "the cut-short backup does not say why: $(cat "$T/backup2.err")"
	"$VESSEL" backup list --json "$T/fs/repo" >"$T/list.json" || fail "backup list failed"
	nb=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/list.json")
	[ "$nb" = 1 ] || fail "$nb backups listed after the cut-short one, want 1: $(cat "$T/list.json")"
fi

# The backup: restored, its journal replayed, clean, a prefix of the records.
snap_ok restore backup restore "$T/fs/repo" "$id" --to "$T/fs/restored"
img=$T/fs/restored/disk.img
[ "$(stat -c %s "$img")" = $((96 << 20)) ] || fail "the restored image is $(stat -c %s "$img") bytes"
# As after a power cut: preen replays the journal and releases orphans,
# and refuses (status 4) anything more.
rc=0
e2fsck -p "$img" >"$T/preen.out" 2>&1 || rc=$?
info "e2fsck -p on the restored image: status $rc; $(tail -n 2 "$T/preen.out" | tr '\n' ' ')"
[ "$rc" -le 1 ] || fail "e2fsck -p finds the restored image inconsistent (status $rc): $(tail -n 20 "$T/preen.out")"
e2fsck -fn "$img" >"$T/fsck.out" 2>&1 || fail "e2fsck -fn on the restored image: $(tail -n 20 "$T/fsck.out")"
info "restored image: $(tail -n 1 "$T/fsck.out")"
k=$(check_log "$img" "the restored image")
info "the restored /log holds records 1..$k"
[ "$k" -ge "$before" ] || fail "the backup lacks records the guest had synced before it began: $k < $before"
[ "$k" -le "$after" ] || fail "the backup holds records synced after it ended: $k > $after"

# The live disk (stopped hard: its journal replayed too): records past the
# backup's.
rc=0
e2fsck -p "$T/fs/disk.img" >"$T/preen-live.out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || fail "e2fsck -p finds the live image inconsistent (status $rc): $(tail -n 20 "$T/preen-live.out")"
e2fsck -fn "$T/fs/disk.img" >"$T/fsck-live.out" 2>&1 || fail "e2fsck -fn on the live image: $(tail -n 20 "$T/fsck-live.out")"
n=$(check_log "$T/fs/disk.img" "the live image")
info "the live /log holds records 1..$n"
[ "$n" -gt "$k" ] || fail "the live disk has no record after the backup's ($n <= $k)"
"$VESSEL" backup verify "$T/fs/repo" >"$T/verify.out" 2>&1 || fail "verify: $(cat "$T/verify.out")"
pass

#!/usr/bin/env bash
# Live migration with the disks copied (`vessel migrate --with-disks`,
# issue #16) between two "hosts" that share no storage: two network
# namespaces joined by a veth pair (10.86.2.1 the source, 10.86.2.2 the
# destination); the source's image is in src/, the destination receives
# into dst/ (`vessel receive --dir`), both on an ext4 scratch filesystem
# (so that vessel uses O_DIRECT, as it would on a real host).
# The guest (1 vCPU, 256 MiB) makes an ext4 filesystem on its 64 MiB disk
# and then, 80 times, 0.3 s apart, rewrites one of 16 files (256 KiB from
# /dev/urandom, fsynced) and prints "SUM I K SHA256" for file K (the pace
# is low: the nested host's kernel has crashed under heavier guest I/O,
# see the harness's retries); then it unmounts, drops
# its caches, mounts read-only, prints "REREAD K SHA256" for each file as
# read back from the disk, and unmounts again.
# While it writes:
# 1. A destination without --dir refuses a guest whose disks come along,
#    with a message saying so: the guest goes on writing on the source.
# 2. A destination killed while the disk is being copied (--bandwidth 4M)
#    leaves a partial image and a list of what it made; the next `vessel
#    receive` removes both (its own copy could not be made otherwise: an
#    existing image is never overwritten).
# 3. A migration that succeeds: the image is copied while the guest
#    writes, blocks written during the copy are sent again, and the guest
#    goes on writing on the destination (no boot in between) with the
#    image in dst/. At the end every REREAD checksum, read from the
#    destination's disk, is the last SUM of that file; after the guest
#    powered off, e2fsck finds the destination image clean, and the files dumped from
#    it on the host have the guest's checksums.
# test-timeout: 480
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces, a loop mount)"
ensure_cmds iproute2:ip e2fsprogs:debugfs e2fsprogs:e2fsck
snap_init
SRC_RUN=$T/run DST_RUN=$T/run-dst
mkdir -m 0700 "$DST_RUN"
host_ext4_dir "$T/fs" 768
mkdir "$T/fs/src" "$T/fs/dst"
truncate -s 64M "$T/fs/src/disk.img"
name=t34
mig_two_hosts 2
ns_dst=$MIG_NS_DST
at_exit "VESSEL_RUN_DIR=$DST_RUN timeout 60 $VESSEL stop --force $name >/dev/null 2>&1"

ROUNDS=80
virtio_guest "$name" <<SH
vt_wait_dev /dev/vda
mkfs.ext4 -q -F /dev/vda
mount -t ext4 /dev/vda /mnt
echo "VT-READY"
[ -p /tmp/never ] || mkfifo /tmp/never
exec 8<>/tmp/never
i=0
while [ \$i -lt $ROUNDS ]; do
	i=\$((i + 1))
	k=\$((i % 16))
	dd if=/dev/urandom of=/mnt/f.\$k bs=64k count=4 conv=fsync 2>/dev/null
	echo "SUM \$i \$k \$(sha256sum /mnt/f.\$k | cut -d' ' -f1)"
	read -r -t 0.3 _x <&8 || :
done
sync
umount /mnt
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro /dev/vda /mnt
k=0
while [ \$k -lt 16 ]; do
	echo "REREAD \$k \$(sha256sum /mnt/f.\$k | cut -d' ' -f1)"
	k=\$((k + 1))
done
umount /mnt
echo "VT-DONE"
SH
virtio_config "$name" 256M 1 <<YAML
disks:
  - path: fs/src/disk.img
YAML

# last_sum: the number of the current life's last SUM line (0: none).
last_sum() { snap_con; awk '$1 == "SUM" { n = $2 } END { print n + 0 }' "$SNAP_CON"; }
# sums_grow N SECS: the guest writes on: N more SUM lines within SECS.
sums_grow() {
	local want=$(($(last_sum) + $1)) end=$(($(date +%s) + $2))
	while [ "$(last_sum)" -lt "$want" ]; do
		[ "$(date +%s)" -lt "$end" ] || snap_fail "the guest wrote nothing for ${2}s (last SUM $(last_sum), want $want)"
		sleep 0.2
	done
}

mig_start_on_source "$CFG" "$name"
snap_wait '^VT-READY$'
sums_grow 10 120

# 1. No --dir: refused.
mig_receive_bg recv0 10.86.2.2:4444 120 ip netns exec "$ns_dst"
snap_cmd mig0 migrate --with-disks "$name" 10.86.2.2:4444
wait "$RECV_PID" || true
[ "$SRC" = 1 ] || snap_fail "a migration with disks to a receiver without --dir exited $SRC, want 1"
grep -q -- '--dir' "$T/mig0.err" || snap_fail "the refusal does not say what is missing: $(cat "$T/mig0.err")"
info "refused: $(head -c 300 "$T/mig0.err")"
[ "$(mig_state "$SRC_RUN" "$name")" = running ] || snap_fail "after the refusal the source says '$(mig_state "$SRC_RUN" "$name")'"
sums_grow 3 30

# 2. The destination dies while the disk is copied.
mig_receive_dir() { # OUT: vessel receive --dir $T/fs/dst in the background
	: >"$T/$1.err"
	VESSEL_RUN_DIR=$DST_RUN ip netns exec "$ns_dst" timeout -k 5 300 "$VESSEL" receive \
		--listen 10.86.2.2:4444 --timeout 120 --dir "$T/fs/dst" </dev/null >"$T/$1.out" 2>"$T/$1.err" &
	RECV_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'waiting for a migration' "$T/$1.err" && return 0
		sleep 0.1
	done
	snap_fail "vessel receive did not start listening: $(cat "$T/$1.err")"
}
mig_receive_dir recv1
info "vessel migrate --with-disks --bandwidth 4M (the destination is killed after 2 s)"
( rc=0; timeout -k 5 300 "$VESSEL" migrate --with-disks --bandwidth 4M "$name" 10.86.2.2:4444 \
	</dev/null >"$T/mig1.out" 2>"$T/mig1.err" || rc=$?; echo "$rc" >"$T/mig1.status" ) &
mig_pid=$!
sleep 2
pkill -9 -o -f "^$VESSEL receive --listen 10.86.2.2:4444" 2>/dev/null || true
wait "$RECV_PID" 2>/dev/null || true
wait "$mig_pid" || true
[ "$(cat "$T/mig1.status")" = 1 ] ||
	snap_fail "vessel migrate to a killed destination exited $(cat "$T/mig1.status"), want 1: $(cat "$T/mig1.out" "$T/mig1.err")"
info "migration to a killed destination: $(head -c 300 "$T/mig1.err")"
[ -e "$T/fs/dst/disk.img" ] || snap_fail "the killed destination had not begun the image (no dst/disk.img): too fast to test"
lists=$(ls "$T/fs/dst"/incoming.*.disks 2>/dev/null || true)
[ -n "$lists" ] || snap_fail "no list of the images the killed receiver made: $(ls -la "$T/fs/dst")"
info "left by the killed receiver: $(ls "$T/fs/dst" | tr '\n' ' ')"
[ "$(mig_state "$SRC_RUN" "$name")" = running ] || snap_fail "after the failed migration the source says '$(mig_state "$SRC_RUN" "$name")'"
sums_grow 3 30

# 3. A migration that succeeds.
mig_receive_dir recv2
moved_at=$(last_sum)
snap_ok mig2 migrate --with-disks --bandwidth 50M "$name" 10.86.2.2:4444
wait "$RECV_PID" || snap_fail "vessel receive exited $?: $(cat "$T/recv2.err")"
info "migrate: $(tr '\n' ' ' <"$T/mig2.out")"
info "receive: $(cat "$T/recv2.out")"
grep -qE "^$name: migrated to 10.86.2.2:4444: downtime [0-9]+ ms" "$T/mig2.out" ||
	snap_fail "vessel migrate's report: $(cat "$T/mig2.out")"
for l in $lists; do
	[ ! -e "$l" ] || snap_fail "the killed receiver's list is still there: $l"
done
! ls "$T/fs/dst"/incoming.* >/dev/null 2>&1 || snap_fail "left in dst/: $(ls "$T/fs/dst")"
snap_life_end 15
src_last=$(last_sum)
[ "$src_last" -lt $((ROUNDS - 20)) ] ||
	snap_fail "the guest had written $src_last of $ROUNDS files when it moved: too late to see it write on"
[ -z "$(mig_state "$SRC_RUN" "$name")" ] || snap_fail "the source still lists $name after the migration"
export VESSEL_RUN_DIR=$DST_RUN
[ "$(mig_state "$DST_RUN" "$name")" = running ] || snap_fail "the destination lists $name as '$(mig_state "$DST_RUN" "$name")', want running"
src_con=$SNAP_CON
snap_follow "$name"
snap_wait '^VT-DONE$' 240
snap_con
! grep -qE '^VT-READY$|Linux version [0-9]' "$SNAP_CON" || snap_fail "the guest booted afresh on the destination"
first=$(awk '$1 == "SUM" { print $2; exit }' "$SNAP_CON")
info "on the source up to SUM $src_last (migration begun at $moved_at), on the destination from SUM $first"
[ -n "$first" ] && [ "$first" -le $((src_last + 2)) ] && [ "$first" -ge $((src_last - 5)) ] ||
	snap_fail "the destination's first SUM is '${first:-none}', the source's last $src_last"

# Every file as read back from the destination's disk is as last written
# (some of them on the source, the others on the destination).
cat "$src_con" "$SNAP_CON" | awk '$1 == "SUM" { s[$3] = $4 } $1 == "REREAD" { r[$2] = $3 }
	END { for (k = 0; k < 16; k++) if (s[k] == "" || s[k] != r[k]) print "file " k ": last written " s[k] ", read back " r[k] }' >"$T/diff"
[ ! -s "$T/diff" ] || snap_fail "the destination's disk does not hold what the guest wrote: $(head -n 5 "$T/diff")"
info "all 16 files read back from the destination's disk as last written"

# The guest powers off after its script.
mig_wait_gone "$DST_RUN" "$name" "power off on the destination"
snap_life_end 15
[ -f "$T/fs/dst/disk.img" ] || fail "no image in dst/ after the migration"
[ "$(stat -c %s "$T/fs/dst/disk.img")" = $((64 << 20)) ] || fail "dst/disk.img is $(stat -c %s "$T/fs/dst/disk.img") bytes, want 64 MiB"
e2fsck -fn "$T/fs/dst/disk.img" >"$T/fsck.out" 2>&1 || fail "e2fsck -fn on the destination image: $(tail -n 20 "$T/fsck.out")"
info "e2fsck: $(tail -n 1 "$T/fsck.out")"
for k in 0 5 15; do
	want=$(cat "$src_con" "$SNAP_CON" | awk -v k="$k" '$1 == "SUM" && $3 == k { s = $4 } END { print s }')
	got=$(debugfs -R "dump /f.$k $T/f.$k" "$T/fs/dst/disk.img" >/dev/null 2>&1 && sha256sum "$T/f.$k" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "f.$k dumped from the destination image: sha256 '$got', the guest wrote '$want'"
done
info "files dumped from dst/disk.img on the host have the guest's checksums"
pass

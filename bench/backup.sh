#!/usr/bin/env bash
# Backup benchmark (no KVM): one 2 GiB image, 25% random data, the rest
# zeros (allocated) and holes. Side by side: vessel's full backup, a
# vzdump-style `gzip -1` stream of the raw image, `tar -S -czf`; vessel's
# second backup after 1% changed (a stopped image: read in full, ~1%
# stored); the second of two clones; restore beside gunzip.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
tv='' tg='' tt='' ti='' tr='' tu=''   # set by timed()
W=$(mktemp -d "${BENCH_WORK:-/tmp}/backup.XXXXXX")
trap 'rm -rf "$W"' EXIT
img=$W/disk.img
truncate -s 2G "$img"
for i in $(seq 0 7); do   # 8 x 64 MiB random = 512 MiB = 25%
	dd if=/dev/urandom of="$img" bs=1M count=64 seek=$((i * 256)) conv=notrunc status=none
	dd if=/dev/zero of="$img" bs=1M count=64 seek=$((i * 256 + 64)) conv=notrunc status=none
done
sync
printf 'kind: vm\nkernel: %s\ndisks:\n  - path: %s\n' "$img" "$img" >"$W/g.yaml"

# timed VAR CMD...: runs CMD (caches dropped first), VAR = seconds.
timed() {
	local var=$1 t0 t1
	shift
	sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	bench_now t0
	"$@"
	bench_now t1
	printf -v "$var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')"
}
mibs() { awk -v s="$1" 'BEGIN { printf "%.0f", 2048 / s }'; }

bench_metric backup_full_s "full backup of a 2 GiB image (25% data)" s
bench_metric backup_full_mibs "full backup throughput" MiB/s
timed tv "$VESSEL" backup --json "$W/g.yaml" "$W/repo" >"$W/full.json"
timed tg sh -c "gzip -1 -c '$img' >'$W/img.gz'"
timed tt tar -S -czf "$W/img.tgz" -C "$W" disk.img
bench_sample backup_full_s vessel "$tv"
bench_sample backup_full_s gzip-1 "$tg"
bench_sample backup_full_s tar-Sz "$tt"
bench_sample backup_full_mibs vessel "$(mibs "$tv")"
bench_sample backup_full_mibs gzip-1 "$(mibs "$tg")"
bench_sample backup_full_mibs tar-Sz "$(mibs "$tt")"

for i in $(seq 0 19); do   # 1% = 20 MiB, in 1 MiB pieces
	dd if=/dev/urandom of="$img" bs=1M count=1 seek=$((i * 100)) conv=notrunc status=none
done
bench_metric backup_incr_s "second backup after 1% changed (stopped image: read in full)" s
bench_metric backup_incr_new_mib "  stored by it" MiB
timed ti "$VESSEL" backup --json "$W/g.yaml" "$W/repo" >"$W/incr.json"
bench_sample backup_incr_s vessel "$ti"
bench_sample backup_incr_new_mib vessel "$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["bytes_new"] / 1048576, 1))' "$W/incr.json")"

cp --sparse=always "$img" "$W/clone.img"
dd if=/dev/urandom of="$W/clone.img" bs=1M count=4 seek=1000 conv=notrunc status=none
printf 'kind: vm\nname: clone\nkernel: %s\ndisks:\n  - path: %s\n' "$img" "$W/clone.img" >"$W/clone.yaml"
bench_metric backup_clone_new_pct "second of two clones: stored / first's stored" %
"$VESSEL" backup --json "$W/clone.yaml" "$W/repo" >"$W/clone.json"
bench_sample backup_clone_new_pct vessel "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["bytes_new"]; b=json.load(open(sys.argv[2]))["bytes_new"]; print(round(100 * b / a, 2))' "$W/full.json" "$W/clone.json")"

bench_metric restore_mibs "restore throughput (2 GiB image)" MiB/s
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/full.json")
timed tr "$VESSEL" backup restore "$W/repo" "$id" --to "$W/out"
timed tu sh -c "gunzip -c '$W/img.gz' >'$W/gunzip.img'"
bench_sample restore_mibs vessel "$(mibs "$tr")"
bench_sample restore_mibs gunzip "$(mibs "$tu")"
bench_note all "backup: 2 GiB image, 512 MiB random in 64 MiB extents, 512 MiB zeros, 1 GiB holes; page cache dropped before each run; incremental of a stopped image reads it all (no dirty bitmap before phase 2)"

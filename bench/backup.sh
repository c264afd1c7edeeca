#!/usr/bin/env bash
# Backup benchmark (issue #13): one 2 GiB image, 25% random data, the rest
# zeros (allocated) and holes. Side by side: vessel's full backup (of the
# stopped image; no dirty bitmap yet, so it reads all the data), a
# vzdump-style `gzip -1` stream of the raw image, `tar -S -czf`. Then the
# incremental backups, with 1% of the image (20 MiB) changed through
# vessel, so that its dirty bitmap is trusted, each time in fresh places:
#   stopped: a VM (the image its disk) writes 20 x 1 MiB with O_DIRECT
#            and powers off; the stopped image's backup reads only the
#            chunks the VM marked;
#   live:    the VM (`vessel start`) writes and waits, and is backed up
#            while it runs (`vessel backup NAME`): copy-before-write, its
#            in-memory marks.
# Each twice: the 20 MiB in one run (a file written, as the #13 test's 1%;
# 6 chunks of 4 MiB), and scattered, one MiB per 100 MiB (20 chunks: the
# case where chunk granularity costs 4x, reported beside it).
# Then the second of two clones, and restore beside gunzip. Goals: full
# backup >= 2x gzip -1's throughput; incremental <= 0.05x the full
# backup's time; the second clone stores <= 5% of the first's. The rows
# the goals are judged on (the full backup, the 20 MiB in one run) are run
# BENCH_BACKUP_RUNS times (3) and their ratios are of medians: one run of
# each sat inside the nested host's run-to-run spread around the goal.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_BACKUP_RUNS:-3}
[[ $runs =~ ^[1-9]$ ]] || die "BENCH_BACKUP_RUNS must be 1 to 9, not '$runs'"
tv='' tg='' tt='' ti='' ts='' tl='' tls='' tr='' tu=''   # set by timed()
bench_virtio_setup
W=$(mktemp -d "${BENCH_WORK:-/tmp}/backup.XXXXXX")
# vessel runs from a copy beside the image, as bench/oci.sh's does: the
# build tree is, in the nested host, a 9p mount without a page cache for
# it (cache=mmap), so after each cache drop every exec would read the
# binary over 9p again, a cost of the test harness that the incremental
# backup (well under a second) would carry and the full one hardly.
cp "$VESSEL" "$W/vessel"
VESSEL=$W/vessel
export VESSEL_RUN_DIR=$W/run
mkdir -m 0700 "$VESSEL_RUN_DIR"
trap 'timeout 60 "$VESSEL" stop --force g >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
img=$W/disk.img
truncate -s 2G "$img"
for i in $(seq 0 7); do   # 8 x 64 MiB random = 512 MiB = 25%
	dd if=/dev/urandom of="$img" bs=1M count=64 seek=$((i * 256)) conv=notrunc status=none
	dd if=/dev/zero of="$img" bs=1M count=64 seek=$((i * 256 + 64)) conv=notrunc status=none
done
sync

# The guest: writes 20 x 1 MiB at bench_off + bench_step * i MiB, then
# (with bench_hold=1 on its cmdline) waits to be stopped, else powers off.
mkdir -p "$W/script"
cat >"$W/script/test.sh" <<'SH'
vt_wait_dev /dev/vda
off=$(sed -n 's/.*bench_off=\([0-9]*\).*/\1/p' /proc/cmdline)
step=$(sed -n 's/.*bench_step=\([0-9]*\).*/\1/p' /proc/cmdline)
i=0
while [ $i -lt 20 ]; do
	dd if=/dev/urandom of=/dev/vda bs=1M count=1 seek=$((i * step + off)) oflag=direct conv=fsync 2>/dev/null
	i=$((i + 1))
done
echo "BENCH-WROTE"
case $(cat /proc/cmdline) in *bench_hold=1*) sleep 100000 ;; esac
SH
(cd "$W/script" && echo test.sh | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$W/script.cpio.gz"
cat "$BENCH_VIRTIO_INITRD" "$W/script.cpio.gz" >"$W/initrd.cpio.gz"
cp "$BENCH_KERNEL" "$W/vmlinuz"
# g.yaml: the definition backed up; run-N.yaml: the same guest writing at
# another offset (one name: its backups follow each other).
yaml() { # FILE CMDLINE-EXTRA
	printf 'name: g\nvcpus: 1\nmemory: 256M\nkernel: vmlinuz\ninitrd: initrd.cpio.gz\ncmdline: "console=ttyS0 quiet %s"\non_reboot: exit\ndisks:\n  - path: %s\n' \
		"$2" "$img" >"$1"
}
yaml "$W/g.yaml" ""

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
# jdisk FILE KEY: a field of a backup's --json, of its disk.
jdisk() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disks"][0][sys.argv[2]])' "$1" "$2"; }
jmib() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))[sys.argv[2]] / 1048576, 1))' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# median N...: the median of the numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

bench_metric backup_full_s "full backup of a 2 GiB image (25% data)" s
bench_metric backup_full_mibs "full backup throughput (goal: vessel >= 2x gzip-1)" MiB/s
# Each full backup into an empty repository; the last one stays (the
# incrementals follow it).
tvs=()
for _ in $(seq 1 "$runs"); do
	rm -rf "$W/repo"
	timed tv "$VESSEL" backup --json "$W/g.yaml" "$W/repo" >"$W/full.json"
	tvs+=("$tv")
	bench_sample backup_full_s vessel "$tv"
	bench_sample backup_full_mibs vessel "$(mibs "$tv")"
done
tv=$(median "${tvs[@]}")
timed tg sh -c "gzip -1 -c '$img' >'$W/img.gz'"
timed tt tar -S -czf "$W/img.tgz" -C "$W" disk.img
# The scratch dir is a tmpfs of half the RAM in the nested host: what is
# measured goes as soon as it is.
rm -f "$W/img.tgz"
bench_sample backup_full_s gzip-1 "$tg"
bench_sample backup_full_s tar-Sz "$tt"
bench_sample backup_full_mibs gzip-1 "$(mibs "$tg")"
bench_sample backup_full_mibs tar-Sz "$(mibs "$tt")"

# incremental VAR ID LABEL MODE CMDLINE: the VM writes its 1% (CMDLINE:
# where), then the backup of the stopped image (MODE stopped: the VM powered
# off, a clean stop, the bitmap written clean) or of the running VM (live),
# timed as ID; VAR = its seconds.
incremental() {
	local var=$1 id=$2 label=$3 mode=$4 cmdline=$5 j=$W/$2.json
	bench_metric "$id" "$label" s
	bench_metric "${id}_read_mib" "  read by it" MiB
	bench_metric "${id}_new_mib" "  stored by it" MiB
	if [ "$mode" = stopped ]; then
		yaml "$W/run.yaml" "$cmdline"
		timeout -k 5 "${BENCH_VM_TIMEOUT:-180}" "$VESSEL" run "$W/run.yaml" </dev/null >"$W/run.console" 2>&1 ||
			die "the guest writing 1% failed: $(tail -n 5 "$W/run.console")"
		grep -q BENCH-WROTE "$W/run.console" || die "the guest did not write its 1%: $(tail -n 5 "$W/run.console")"
		timed "$var" "$VESSEL" backup --json "$W/g.yaml" "$W/repo" >"$j"
	else
		yaml "$W/run.yaml" "$cmdline bench_hold=1"
		"$VESSEL" start "$W/run.yaml" >/dev/null 2>"$W/start.err" || die "vessel start: $(cat "$W/start.err")"
		for _ in $(seq 1 "${BENCH_VM_TIMEOUT:-180}"); do
			! "$VESSEL" logs g 2>/dev/null | grep -q BENCH-WROTE || break
			sleep 1
		done
		"$VESSEL" logs g 2>/dev/null | grep -q BENCH-WROTE || die "the running guest did not write its 1%"
		timed "$var" "$VESSEL" backup --json g "$W/repo" >"$j"
		"$VESSEL" stop --force g >/dev/null 2>&1 || true
	fi
	[ "$(jdisk "$j" incremental)" = True ] || die "the $mode incremental backup read in full: $(jdisk "$j" full_reason)"
	bench_sample "$id" vessel "${!var}"
	bench_sample "${id}_read_mib" vessel "$(jmib "$j" bytes_read)"
	bench_sample "${id}_new_mib" vessel "$(jmib "$j" bytes_new)"
}
# The 20 MiB in one run start 6 MiB into an extent of random data (6
# chunks), in a fresh extent each time: 6, 262, 518 MiB (stopped), 1030,
# 1286, 1542 MiB (live); the scattered ones at 0 and 50 MiB, 100 apart.
tis=() tls_=()
for k in $(seq 0 $((runs - 1))); do
	incremental ti backup_incr_s "incremental backup, 1% (20 MiB in one run) changed by the VM, stopped image (goal: <= 0.05x full)" \
		stopped "bench_off=$((k % 4 * 256 + 6)) bench_step=1"
	tis+=("$ti")
done
incremental ts backup_incr_scat_s "incremental backup, 1% scattered (20 x 1 MiB, one per 100 MiB), stopped image" \
	stopped "bench_off=0 bench_step=100"
for k in $(seq 0 $((runs - 1))); do
	incremental tl backup_incr_live_s "incremental backup, 1% (20 MiB in one run), of the running VM (goal: <= 0.05x full)" \
		live "bench_off=$(((k % 4 + 4) * 256 + 6)) bench_step=1"
	tls_+=("$tl")
done
incremental tls backup_incr_live_scat_s "incremental backup, 1% scattered, of the running VM" \
	live "bench_off=50 bench_step=100"
ti=$(median "${tis[@]}") tl=$(median "${tls_[@]}")

# The clone: the image itself, renamed (its guest is done with it): the
# same bytes as a copy, without a second copy on the scratch tmpfs, which
# has no room for one beside the repository and the gzip stream.
mv "$img" "$W/clone.img"
dd if=/dev/urandom of="$W/clone.img" bs=1M count=4 seek=1000 conv=notrunc status=none
printf 'kind: vm\nname: clone\nkernel: %s\ndisks:\n  - path: %s\n' "$W/vmlinuz" "$W/clone.img" >"$W/clone.yaml"
bench_metric backup_clone_new_pct "second of two clones: stored / first's stored (goal: <= 5%)" %
"$VESSEL" backup --json "$W/clone.yaml" "$W/repo" >"$W/clone.json"
rm -f "$W/clone.img" "$img"
clone_pct=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["bytes_new"]; b=json.load(open(sys.argv[2]))["bytes_new"]; print(round(100 * b / a, 2))' "$W/full.json" "$W/clone.json")
bench_sample backup_clone_new_pct vessel "$clone_pct"

bench_metric restore_mibs "restore throughput (2 GiB image)" MiB/s
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/full.json")
timed tr "$VESSEL" backup restore "$W/repo" "$id" --to "$W/out"
rm -rf "$W/out" "$W/repo"
timed tu sh -c "gunzip -c '$W/img.gz' >'$W/gunzip.img'"
rm -f "$W/gunzip.img"
bench_sample restore_mibs vessel "$(mibs "$tr")"
bench_sample restore_mibs gunzip "$(mibs "$tu")"

goal() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN { print ((op == "ge" ? v >= g : v <= g) ? "met" : "NOT met") }'; }
full_x=$(ratio "$(mibs "$tv")" "$(mibs "$tg")") incr_x=$(ratio "$ti" "$tv") live_x=$(ratio "$tl" "$tv")
scat_x=$(ratio "$ts" "$tv") lscat_x=$(ratio "$tls" "$tv")
bench_note all "backup: 2 GiB image on tmpfs, full backup and the 20 MiB in one run $runs times each (ratios of medians), 512 MiB random in 64 MiB extents, 512 MiB zeros, 1 GiB holes; page cache dropped before each timed run; vessel run from a copy on the scratch tmpfs. Incremental: 1% (20 MiB) written by a VM whose disk is the image, with the dirty bitmap trusted (after the full backup), each time in fresh places: in one run (6 of the 512 chunks of 4 MiB) or scattered (20 x 1 MiB, one per 100 MiB: 20 chunks); stopped = after that VM powered off, live = of the running VM. Goals: full >= 2x gzip-1 throughput: ${full_x}x, $(goal "$full_x" 2 ge); incremental (20 MiB in one run) <= 0.05x full: stopped ${incr_x}x, $(goal "$incr_x" 0.05 le), live ${live_x}x, $(goal "$live_x" 0.05 le); scattered, no goal (every MiB costs its whole chunk: about 20 of the 128 chunks of data the full backup hashes, so about 0.16x is its floor): stopped ${scat_x}x, live ${lscat_x}x; second clone <= 5%: ${clone_pct}%, $(goal "$clone_pct" 5 le)"

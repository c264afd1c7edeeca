#!/usr/bin/env bash
# bench/snapshot.sh: saving and restoring a running guest (issue #12),
# vessel against QEMU q35 in the same run, same kernel and initramfs.
# The guest: 1 vCPU, 1 GiB, the virtio test guests' initramfs with a
# script that fills 256 MiB of a tmpfs (so 256 MiB of guest RAM hold
# non-zero data), prints SNAP-READY and then a line "TN" every 10 ms (N
# counting up; a builtin `read -t` is the sleep). BENCH_SNAP_FILL says
# with what: `files` (the default) copies of the initramfs's own files
# over and over (busybox and kernel modules: program code and data, what
# a guest's page cache and heap hold), `urandom` random bytes (the worst
# case: nothing compresses).
#   vessel: `vessel start FILE`; save: `vessel snapshot NAME DIR` (pause,
#     save, resume; timed around the command); restore: `vessel restore
#     DIR` (foreground, console on stdout).
#   vessel-z: the same running guest, saved with `vessel snapshot
#     --compress` (memory.z, zstd level 1); restored from that.
#   qemu-q35: the same guest under `qemu-system-x86_64 -accel kvm -cpu
#     host -M q35 ...` with QMP on a pipe; save: `migrate` to "exec:cat >
#     FILE" (timed from the command until the MIGRATION event says
#     completed; migration events on, max-bandwidth raised so QEMU's
#     default 128 MiB/s cap does not throttle a save to a local file), then
#     `cont`; restore: the same command line plus `-incoming "exec:cat
#     FILE"` (QEMU runs the guest when the load completes).
# Metrics (BENCH_WARMUP unmeasured rounds, then BENCH_RUNS of saves and
# BENCH_RUNS of restores (a failed save or restore counts as one failed
# run of 2 x BENCH_RUNS), sides taking
# turns within a round):
#   snapshot.save     time to save, ms
#   snapshot.size     what the save put on disk (du: allocated blocks,
#                     not apparent size), MiB
#   snapshot.restore  from launching the restoring VMM until the guest's
#                     first complete "TN" line on its console, ms
# The goals (issue #12): restore <= 0.2x QEMU's time, save time and size
# <= 0.5x QEMU's; a footnote says which are met. Run it through run.sh.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_RUNS:-5}
warmup=${BENCH_WARMUP:-1}
mem_mib=${BENCH_SNAP_MEM_MIB:-1024}
fill_mib=${BENCH_SNAP_FILL_MIB:-256}
fill=${BENCH_SNAP_FILL:-files}
case $fill in
files) fill_cmd='set -- $(find /bin /sbin /lib /usr -type f 2>/dev/null); [ $# -gt 0 ] || exit 1; while :; do for f; do cat "$f" || exit; done; done'
	fill_what="copies of the initramfs's own files (busybox, kernel modules)" ;;
urandom) fill_cmd='cat /dev/urandom'
	fill_what="/dev/urandom (nothing compresses)" ;;
*) die "BENCH_SNAP_FILL must be files or urandom, not '$fill'" ;;
esac
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, not '$warmup'"
bench_virtio_setup
sides=(vessel vessel-z qemu-q35)

bench_metric snapshot.save "snapshot: save a ${mem_mib} MiB guest that touched ${fill_mib} MiB (goal: vessel <= 0.5x QEMU)" ms
bench_metric snapshot.size "snapshot: size on disk (du) (goal: vessel <= 0.5x QEMU)" MiB
bench_metric snapshot.restore "snapshot: restore, VMM launch → the guest's next console line (goal: vessel <= 0.2x QEMU)" ms

d=$(mktemp -d "$BENCH_WORK/snap.XXXXXX")
export VESSEL_RUN_DIR=$d/run
mkdir -m 0700 "$VESSEL_RUN_DIR"
name="bench-snap"
cmdline=$BENCH_VIRTIO_CMDLINE

# The guest's script, appended to the virtio initramfs as /test.sh.
mkdir -p "$d/script"
cat >"$d/script/test.sh" <<SH
mount -t tmpfs -o size=$((fill_mib + 16))m tmpfs /mnt
( $fill_cmd ) | head -c $((fill_mib << 20)) >/mnt/fill
echo "SNAP-FILLED=\$(stat -c %s /mnt/fill)"
mkfifo /tmp/never
exec 9<>/tmp/never
echo SNAP-READY
i=0
while :; do
	i=\$((i + 1))
	echo "T\$i"
	read -r -t 0.01 x <&9 || :
done
SH
bench_q35_guest "$d" "$name" "$mem_mib" "$cmdline"
bench_note vessel-z "snapshot: the vessel side's running guest, saved with \`vessel snapshot --compress NAME DIR\` (memory.z: zstd level 1, two threads) and restored from that"
bench_note vessel "snapshot: \`vessel start\` ($("$VESSEL" version 2>/dev/null | head -n1 || echo '?')): vcpus: 1, memory: ${mem_mib}M, rng: false, the virtio initramfs plus the script; save: \`vessel snapshot NAME DIR\`, timed around the command (its process start included); size: \`du\` of DIR (config.yaml, state, the sparse memory file); restore: \`vessel restore DIR\`"
bench_note qemu-q35 "snapshot: $("$BENCH_QEMU" --version | head -n1 | sed 's/ *Copyright.*//'): \`$qargs\`; save: QMP migrate-set-capabilities events=on, migrate-set-parameters max-bandwidth=$((64 << 30)) (default 128 MiB/s), then \`migrate\` to \"exec:cat > FILE\" timed until the MIGRATION event \"completed\", then \`cont\`; size: \`du\` of FILE; restore: the same command line plus -incoming \"exec:cat FILE\""

declare -A failed why dead
for side in "${sides[@]}"; do failed[$side]=0 why[$side]='' dead[$side]=''; done
fail_run() { # SIDE WHY
	failed[$1]=$((failed[$1] + 1))
	case "; ${why[$1]}; " in *"; $2; "*) ;; *) why[$1]+="${why[$1]:+; }$2" ;; esac
}

qpid='' vlogs='' rpid=''
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	[ -z "$qpid" ] || kill -KILL "$qpid" 2>/dev/null || true
	[ -z "$rpid" ] || kill -KILL "$rpid" 2>/dev/null || true
	timeout 60 "$VESSEL" stop --force "$name" >/dev/null 2>&1 || true
	[ -z "$vlogs" ] || kill "$vlogs" 2>/dev/null || true
	wait 2>/dev/null || true
	mkdir -p "$BENCH_OUT/logs"
	for f in "$d"/*.console "$d"/*.err; do
		[ ! -s "$f" ] || tr -d '\r' <"$f" >"$BENCH_OUT/logs/snapshot-$(basename "$f")" 2>/dev/null || true
	done
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# ---- QMP over a pipe chardev ----------------------------------------------
QI='' QO=''
# qmp_open PATH: opens PATH.in/.out (made before QEMU starts), reads the
# greeting and leaves capability negotiation.
qmp_open() {
	exec {QI}<>"$1.in" {QO}<>"$1.out"
	qmp_read_until '"QMP"' 60 || return 1
	qmp '{"execute": "qmp_capabilities"}'
}
qmp_close() {
	[ -z "$QI" ] || exec {QI}>&-
	[ -z "$QO" ] || exec {QO}<&-
	QI='' QO=''
}

# ---- the sources: boot both, side by side -----------------------------------
log "snapshot: booting the ${mem_mib} MiB guests (each fills ${fill_mib} MiB)"
vessel_console=$d/vessel-source.console
qemu_console=$d/qemu-source.console
# boot_source SIDE: starts SIDE's source guest (not waiting for it); an
# error in dead[SIDE].
boot_source() {
	if [ "$1" = vessel ]; then
		timeout 60 "$VESSEL" stop --force "$name" >/dev/null 2>&1 || true
		[ -z "$vlogs" ] || { kill "$vlogs" 2>/dev/null || true; wait "$vlogs" 2>/dev/null || true; }
		vlogs=''
		if timeout 120 "$VESSEL" start "$d/vessel.yaml" >"$d/vessel-start.err" 2>&1; then
			timeout -k 5 3600 "$VESSEL" logs -f "$name" >"$vessel_console" 2>&1 </dev/null &
			vlogs=$!
		else
			dead[vessel]="vessel start failed: $(head -c 200 "$d/vessel-start.err")"
		fi
		return
	fi
	[ -z "$qpid" ] || { kill -KILL "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true; }
	qmp_close
	rm -f "$d/qmp.in" "$d/qmp.out"
	mkfifo "$d/qmp.in" "$d/qmp.out"
	qemu_cmd "$d/qmp"
	timeout -k 5 3600 "${BENCH_CMD[@]}" </dev/null >"$qemu_console" 2>"$d/qemu-source.err" &
	qpid=$!
	qmp_open "$d/qmp" || { dead[qemu-q35]="no QMP greeting from QEMU"; return; }
	qmp '{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "events", "state": true}]}}' &&
		qmp "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"max-bandwidth\": $((64 << 30))}}" ||
		dead[qemu-q35]="QMP migration setup failed: $QMP_LINE"
}
# source_ready SIDE: waits for SIDE's source to fill its memory and tick.
source_ready() {
	local f p rc=0
	if [ "$1" = vessel ]; then f=$vessel_console p=$vlogs; else f=$qemu_console p=$qpid; fi
	wait_console "$f" SNAP-READY "$((BENCH_VM_TIMEOUT + 300))" "$p" || rc=$?
	if [ "$rc" -eq 0 ] && ! ticking "$f" 60 "$p"; then rc=1; fi
	[ "$rc" -eq 0 ] || dead[$1]="the guest did not fill its memory and tick (status $rc)"
}
sources=(vessel qemu-q35)
for side in "${sources[@]}"; do boot_source "$side"; done
for side in "${sources[@]}"; do
	[ -z "${dead[$side]}" ] || continue
	source_ready "$side"
	if [ -n "${dead[$side]}" ]; then
		# The nested host now and then crashes a guest by itself (a
		# triple fault while it fills its memory, for either VMM): one
		# more boot, the failed one's console kept in the log.
		log "snapshot: $side ${dead[$side]}; console tail:"
		tail -n 20 "$([ "$side" = vessel ] && echo "$vessel_console" || echo "$qemu_console")" | tr -d '\r' >&2
		[ "$side" = vessel ] || tail -n 20 "$d/qemu-source.err" >&2
		log "snapshot: $side: booting its source guest once more"
		dead[$side]=''
		boot_source "$side"
		[ -n "${dead[$side]}" ] || source_ready "$side"
	fi
	if [ -n "${dead[$side]}" ]; then
		log "snapshot: $side ${dead[$side]} (second boot)"
	else
		f=$vessel_console
		[ "$side" = vessel ] || f=$qemu_console
		log "snapshot: $side is up: $(grep -a -m1 SNAP-FILLED "$f" | tr -d '\r')"
	fi
done

# ---- save ----------------------------------------------------------------
declare -A vdir=([vessel]='' [vessel-z]='')
qfile=''
for ((r = 1 - warmup; r <= runs; r++)); do
	if [ "$r" -le 0 ]; then round="warm-up $((1 - r))"; else round="run $r"; fi
	for side in "${sides[@]}"; do
		[ "$side" != vessel-z ] || [ -z "${dead[vessel]}" ] || dead[vessel-z]=${dead[vessel]}
		[ -z "${dead[$side]}" ] || { [ "$r" -le 0 ] || fail_run "$side" "${dead[$side]}"; continue; }
		err='' us=''
		if [ "$side" != qemu-q35 ]; then
			new=$d/$side-snap.$r
			opt=()
			[ "$side" = vessel ] || opt=(--compress)
			bench_now t0
			rc=0
			timeout -k 5 600 "$VESSEL" snapshot "${opt[@]}" "$name" "$new" </dev/null >"$d/vessel-snapshot.out" 2>"$d/vessel-snapshot.err" || rc=$?
			bench_now t1
			us=$((t1 - t0))
			if [ "$rc" -ne 0 ]; then
				err="vessel snapshot ${opt[*]} exited $rc: $(head -c 200 "$d/vessel-snapshot.err")"
				rm -rf "$new"
			else
				# the restores take the last good save
				[ -z "${vdir[$side]}" ] || rm -rf "${vdir[$side]}"
				vdir[$side]=$new
				kib=$(du -sk "$new" | cut -f1)
				ticking "$vessel_console" 60 "$vlogs" || err="the guest did not tick after the snapshot"
			fi
		else
			new=$d/qemu-snap.$r
			bench_now t0
			if ! qmp "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:cat > $new\"}}"; then
				err="migrate failed: $QMP_LINE"
			elif ! qmp_read_until '"MIGRATION".*"status": *"(completed|failed|cancelled)"' 600 ||
				[[ $QMP_LINE != *completed* ]]; then
				err="the migration did not complete: $(grep -a MIGRATION "$d/qmp.log" | tail -n 1)"
			fi
			bench_now t1
			us=$((t1 - t0))
			if [ -n "$err" ]; then
				# a QEMU whose migration went wrong is not asked again
				rm -f "$new"
				dead[$side]=$err
			else
				[ -z "$qfile" ] || rm -f "$qfile"
				qfile=$new
				# cat may still be writing what QEMU gave it.
				for ((i = 0; i < 50; i++)); do
					s1=$(stat -c %s "$qfile")
					sleep 0.1
					[ "$(stat -c %s "$qfile")" != "$s1" ] || break
				done
				kib=$(du -sk "$qfile" | cut -f1)
				if ! qmp '{"execute": "cont"}'; then
					err="cont after the migration failed: $QMP_LINE"
					dead[$side]=$err
				elif ! ticking "$qemu_console" 60 "$qpid"; then
					err="the guest did not tick after cont"
					dead[$side]=$err
				fi
			fi
		fi
		if [ -n "$err" ]; then
			log "snapshot $round: save $side: FAILED ($err)"
			[ "$r" -le 0 ] || fail_run "$side" "save: $err"
			continue
		fi
		bench_us_ms "$us" ms
		kib_fmt_mib "$kib" mib
		log "snapshot $round: save $side: $ms ms, $mib MiB on disk"
		if [ "$r" -gt 0 ]; then
			bench_sample snapshot.save "$side" "$ms"
			bench_sample snapshot.size "$side" "$mib"
		fi
	done
done

# The sources go; the saves of the last round are restored.
timeout 60 "$VESSEL" stop --force "$name" >/dev/null 2>&1 || true
[ -z "$vlogs" ] || { kill "$vlogs" 2>/dev/null || true; wait "$vlogs" 2>/dev/null || true; }
vlogs=''
if [ -n "$qpid" ]; then
	qmp '{"execute": "quit"}' || true
	for ((i = 0; i < 50; i++)); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	qpid=''
fi
qmp_close
for side in vessel vessel-z; do
	[ -n "${vdir[$side]}" ] || dead[$side]=${dead[$side]:-"no snapshot to restore"}
done
[ -n "$qfile" ] || dead[qemu-q35]=${dead[qemu-q35]:-"no snapshot to restore"}

# ---- restore -------------------------------------------------------------
# restore_once SIDE TAG: launches the restore, times it until the first
# complete "TN" line, then stops it. Sets R_US, or R_WHY.
restore_once() {
	local side=$1 tag=$2 fifo line t0 t1='' rfd rc=0
	fifo=$d/$tag.fifo
	rm -f "$fifo" "$d/rq.in" "$d/rq.out"
	mkfifo "$fifo"
	R_US='' R_WHY=''
	if [ "$side" != qemu-q35 ]; then
		BENCH_CMD=("$VESSEL" restore "${vdir[$side]}")
	else
		mkfifo "$d/rq.in" "$d/rq.out"
		qemu_cmd "$d/rq"
		BENCH_CMD+=(-incoming "exec:cat $qfile")
	fi
	: >"$d/$tag.console"
	bench_now t0
	timeout -k 5 "$BENCH_VM_TIMEOUT" "${BENCH_CMD[@]}" </dev/null >"$fifo" 2>"$d/$tag.err" &
	rpid=$!
	[ "$side" != qemu-q35 ] || exec {QI}<>"$d/rq.in" {QO}<>"$d/rq.out"
	exec {rfd}<"$fifo"
	while IFS= read -r -u "$rfd" line; do
		line=${line%$'\r'}
		if [[ $line =~ ^T[0-9]+$ ]]; then
			bench_now t1
			printf '%s\n' "$line" >>"$d/$tag.console"
			break
		fi
		printf '%s\n' "$line" >>"$d/$tag.console"
	done
	kill -TERM "$rpid" 2>/dev/null || true
	exec {rfd}<&-
	wait "$rpid" || rc=$?
	rpid=''
	qmp_close
	rm -f "$fifo"
	if [ -n "$t1" ]; then
		R_US=$((t1 - t0))
	elif [ "$rc" -eq 124 ]; then
		R_WHY="no console line within ${BENCH_VM_TIMEOUT}s"
	else
		R_WHY="exited $rc before the guest printed: $(tail -n 2 "$d/$tag.err" | tr '\n' ' ' | cut -c1-200)"
	fi
}

for ((r = 1 - warmup; r <= runs; r++)); do
	if [ "$r" -le 0 ]; then round="warm-up $((1 - r))"; else round="run $r"; fi
	for side in "${sides[@]}"; do
		if [ -n "${dead[$side]}" ]; then
			[ "$r" -le 0 ] || fail_run "$side" "restore: ${dead[$side]}"
			continue
		fi
		restore_once "$side" "restore-$side-$r"
		if [ -n "$R_WHY" ]; then
			log "snapshot $round: restore $side: FAILED ($R_WHY)"
			[ "$r" -le 0 ] || fail_run "$side" "restore: $R_WHY"
			continue
		fi
		bench_us_ms "$R_US" ms
		log "snapshot $round: restore $side: $ms ms to $(tail -n 1 "$d/restore-$side-$r.console")"
		[ "$r" -le 0 ] || bench_sample snapshot.restore "$side" "$ms"
	done
done

for side in "${sides[@]}"; do
	bench_run_fail_note snapshot "$side" "${failed[$side]}" $((runs * 2)) "${why[$side]}"
done

# The goals, from the medians.
median() { # ID SIDE
	awk -F'\t' -v id="$1" -v s="$2" '$1 == id && $2 == s { print $3 }' "$BENCH_OUT/samples.tsv" 2>/dev/null | bench_stats | awk '{ print $2 }'
}
goals=''
for g in "snapshot.save 0.5 save-time vessel" "snapshot.size 0.5 size vessel" "snapshot.restore 0.2 restore vessel" \
	"snapshot.save 0.5 save-time vessel-z" "snapshot.size 0.5 size vessel-z" "snapshot.restore 0.2 restore vessel-z"; do
	read -r id goal label vs <<<"$g"
	label="$vs $label"
	v=$(median "$id" "$vs") q=$(median "$id" qemu-q35)
	if [ -z "$v" ] || [ -z "$q" ]; then
		goals+="${goals:+; }$label: n/a"
	else
		goals+="${goals:+; }$(awk -v v="$v" -v q="$q" -v g="$goal" -v l="$label" 'BEGIN {
			r = (q > 0) ? v / q : 0
			printf "%s %.2fx (goal <= %sx: %s)", l, r, g, (q > 0 && r <= g) ? "met" : "NOT met" }')"
	fi
done
bench_note all "snapshot: $runs measured rounds after $warmup warm-up round(s), vessel and QEMU in turn; the guest (1 vCPU, ${mem_mib} MiB, kernel ${BENCH_KVERSION:-?}) filled ${fill_mib} MiB of a tmpfs with $fill_what and prints a line every 10 ms; each side saves its own running guest (both up side by side), then each restores its last save, one VM at a time. Goals (issue #12): $goals"
exit 0

#!/usr/bin/env bash
# bench/migrate.sh: live migration (issue #16), vessel against QEMU q35 in
# the same run, same kernel and initramfs, over the same veth link.
# Two network namespaces joined by a veth pair (10.87.0.1 and 10.87.0.2)
# are the two "hosts"; each side's guest moves back and forth between them
# (run 1 A -> B, run 2 B -> A, ...), so one boot per side serves every run.
# The guest: 1 vCPU, 1 GiB, the virtio test guests' initramfs with a
# script that fills 256 MiB of a tmpfs with copies of the initramfs's own
# files (so 256 MiB of guest RAM hold non-zero data), then prints a line
# "TN" every 0.1 s; a line "busy TOKEN" on its console starts the load,
# `dd if=/mnt/fill of=/mnt/fill bs=1M conv=notrunc` in a loop (every pass
# rewrites, so dirties, all 256 MiB, with the same non-zero data: no zero
# pages to skip), "idle TOKEN" stops it after the pass it is in.
#   vessel: `vessel start FILE` in namespace A, `vessel receive --listen
#     ADDR:PORT` in the other namespace (own VESSEL_RUN_DIR each), `vessel
#     migrate --json --max-downtime D --timeout T NAME ADDR:PORT`; downtime,
#     total time, rounds and bytes sent from its final JSON object.
#   qemu-q35: `qemu-system-x86_64 -accel kvm -cpu host -M q35 ...` with QMP
#     on a pipe; the destination is the same command line plus `-incoming
#     tcp:ADDR:PORT` in the other namespace; QMP `migrate` to
#     "tcp:ADDR:PORT" with QEMU's default settings; downtime, total time,
#     bytes (ram.transferred) and rounds (ram.dirty-sync-count) from
#     `query-migrate` once it says completed; cancelled (migrate_cancel)
#     after T, like vessel's --timeout.
#   qemu-q35-dl: the same with `migrate-set-parameters downtime-limit=D`,
#     vessel's --max-downtime; only when that differs from QEMU's default
#     (300 ms: then qemu-q35 already is that).
# Loads (BENCH_MIGRATE_LOADS, "idle busy"): idle, the guest only ticks;
# busy, the load runs during the migration (on the migrating side's guest
# only: the other side's guest stays idle). A migration that does not
# converge is a failed run, in the footnotes with the reason.
# Metrics, per load (BENCH_MIGRATE_RUNS runs per side, 3; sides take turns
# within a round):
#   migrate.LOAD.pause     the guest's pause as it happened: the source's
#                          stop to the destination's resume, ms, on this
#                          machine's wall clock (QEMU: its STOP and RESUME
#                          QMP events; vessel: migrate's paused_at_us and
#                          the time vessel receive prints)
#   migrate.LOAD.downtime  the guest's pause as the migrating VMM reports it, ms
#                          (not the same span: see the footnote)
#   migrate.LOAD.total     the whole migration as it reports it, s
#   migrate.LOAD.sent      bytes sent (vessel) / transferred (QEMU), MiB
#   migrate.LOAD.rounds    vessel's rounds / QEMU's dirty-sync-count
#   migrate.LOAD.dest      vessel: the destination's part of its downtime
# The goals (issue #16): downtime <= 0.5x QEMU's, judged on the pause,
# total <= 1.0x; a footnote says which the medians meet. Run it through
# run.sh.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_MIGRATE_RUNS:-3}
mem_mib=${BENCH_MIGRATE_MEM_MIB:-1024}
fill_mib=${BENCH_MIGRATE_FILL_MIB:-256}
dt_ms=${BENCH_MIGRATE_DOWNTIME_MS:-300}
busy_dt_ms=${BENCH_MIGRATE_BUSY_DOWNTIME_MS:-$dt_ms}
mig_timeout=${BENCH_MIGRATE_TIMEOUT:-60}
read -r -a loads <<<"${BENCH_MIGRATE_LOADS:-idle busy}"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_MIGRATE_RUNS must be a positive integer, not '$runs'"
for v in mem_mib fill_mib dt_ms busy_dt_ms mig_timeout; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
for l in "${loads[@]}"; do
	case $l in idle | busy) ;; *) die "BENCH_MIGRATE_LOADS: idle and/or busy, not '$l'" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "the migrate benchmark needs root (network namespaces)"
ensure_cmds iproute2:ip
bench_virtio_setup

d=$(mktemp -d "$BENCH_WORK/mig.XXXXXX")
name="bench-mig"
cmdline=$BENCH_VIRTIO_CMDLINE
sfx=$(random_token | cut -c1-6)
ns=("vbm-a-$sfx" "vbm-b-$sfx")
ip_of=(10.87.0.1 10.87.0.2)
rundir=("$d/run-a" "$d/run-b")
mkdir -m 0700 "${rundir[@]}"
port=4470

# The guest's script, appended to the virtio initramfs as /test.sh.
mkdir -p "$d/script"
cat >"$d/script/test.sh" <<SH
stty -echo 2>/dev/null || true
mount -t tmpfs -o size=$((fill_mib + 16))m tmpfs /mnt
( set -- \$(find /bin /sbin /lib /usr -type f 2>/dev/null); [ \$# -gt 0 ] || exit 1; while :; do for f; do cat "\$f" || exit; done; done ) | head -c $((fill_mib << 20)) >/mnt/fill
echo "MIG-FILLED=\$(stat -c %s /mnt/fill)"
mkfifo /tmp/never
# The console's reader, a process of its own (busybox read -t drops a
# line it times out in): "busy TOKEN" raises the flag, "idle TOKEN"
# lowers it.
exec 9<&0
(while read -r c tok; do
	case \$c in
	busy) echo "\$tok" >/tmp/busy.new && mv /tmp/busy.new /tmp/busy ;;
	idle) rm -f /tmp/busy ;;
	esac
done) <&9 &
exec 9<&-
# The load: while the flag is up, rewrite all of /mnt/fill in place.
(
	exec 8<>/tmp/never
	on='' n=0
	while :; do
		if [ -e /tmp/busy ]; then
			if [ -z "\$on" ]; then
				read -r on </tmp/busy || on=x
				n=0
				read -r up _x </proc/uptime
				echo "MIG-BUSY-\$on \$up"
			fi
			dd if=/mnt/fill of=/mnt/fill bs=1M conv=notrunc 2>/dev/null
			n=\$((n + 1))
			read -r up _x </proc/uptime
			echo "P\$on.\$n \$up"
		else
			[ -z "\$on" ] || echo "MIG-IDLE-\$on"
			on=''
			read -r -t 0.2 _x <&8 || :
		fi
	done
) &
exec 8<>/tmp/never
echo MIG-READY
i=0
while :; do
	i=\$((i + 1))
	echo "T\$i"
	read -r -t 0.1 _x <&8 || :
done
SH
bench_q35_guest "$d" "$name" "$mem_mib" "$cmdline"

declare -A failed why dead nruns
fail_run() { # SIDE LOAD WHY
	local k=$1
	failed[$k]=$((${failed[$k]:-0} + 1))
	case "; ${why[$k]:-}; " in *"; $2: $3; "*) ;; *) why[$k]+="${why[$k]:+; }$2: $3" ;; esac
}

# ---- clean-up ------------------------------------------------------------
declare -A QIN QOUT
vcur=0 vlogs='' recv_pid='' mig_pid=''
qsrc='' qdst='' qcur=0
declare -A QPID QFD
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local p i
	for p in "${QPID[@]}" "$recv_pid" "$mig_pid"; do
		[ -z "$p" ] || kill -TERM "$p" 2>/dev/null || true
	done
	for i in 0 1; do
		VESSEL_RUN_DIR=${rundir[$i]} timeout 60 "$VESSEL" stop --force "$name" >/dev/null 2>&1 || true
	done
	[ -z "$vlogs" ] || kill "$vlogs" 2>/dev/null || true
	sleep 1
	for p in "${QPID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "${ns[0]}" 2>/dev/null || true
	ip netns del "${ns[1]}" 2>/dev/null || true
	mkdir -p "$BENCH_OUT/logs"
	for f in "$d"/*.console "$d"/*.err "$d"/*.out "$d"/qmp.log; do
		[ ! -s "$f" ] || tr -d '\r' <"$f" >"$BENCH_OUT/logs/migrate-$(basename "$f")" 2>/dev/null || true
	done
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# ---- the two "hosts" -------------------------------------------------------
ip netns add "${ns[0]}" || die "cannot create network namespaces"
ip netns add "${ns[1]}" || die "cannot create network namespaces"
ip link add "vbm0-$sfx" netns "${ns[0]}" type veth peer name "vbm1-$sfx" netns "${ns[1]}" ||
	die "cannot create a veth pair"
for i in 0 1; do
	ip -n "${ns[$i]}" addr add "${ip_of[$i]}/24" dev "vbm$i-$sfx"
	ip -n "${ns[$i]}" link set lo up
	ip -n "${ns[$i]}" link set "vbm$i-$sfx" up
done

# ---- QMP over a pipe chardev, one per QEMU (QI/QO: the one in use) --------
QI='' QO=''
qmp_use() { QI=${QIN[$1]} QO=${QOUT[$1]}; }
# qmp_open ID PATH: opens PATH.in/.out (made before QEMU starts) as ID's,
# reads the greeting and leaves capability negotiation.
qmp_open() {
	local fdi fdo
	exec {fdi}<>"$2.in" {fdo}<>"$2.out"
	QIN[$1]=$fdi QOUT[$1]=$fdo
	qmp_use "$1"
	qmp_read_until '"QMP"' 120 || return 1
	qmp '{"execute": "qmp_capabilities"}'
}
qmp_close() { # ID
	local fdi=${QIN[$1]:-} fdo=${QOUT[$1]:-}
	[ -z "$fdi" ] || exec {fdi}>&-
	[ -z "$fdo" ] || exec {fdo}<&-
	unset "QIN[$1]" "QOUT[$1]"
}
# qmp_event_gap EVENT1 EVENT2: ms from one QMP event's timestamp to the
# other's ({"timestamp": {"seconds": S, "microseconds": U}, ...}).
qmp_event_gap() {
	local s1 u1 s2 u2
	jnum "$1" seconds s1
	jnum "$1" microseconds u1
	jnum "$2" seconds s2
	jnum "$2" microseconds u2
	[ -n "$s1" ] && [ -n "$u1" ] && [ -n "$s2" ] && [ -n "$u2" ] || return 0
	awk -v a="$s1" -v b="$u1" -v c="$s2" -v e="$u2" 'BEGIN { printf "%.1f", ((c - a) * 1000000 + (e - b)) / 1000 }'
}
# jnum JSON KEY VAR: VAR = the first number "KEY": N in JSON (or nothing).
jnum() {
	local _re="\"$2\": *([0-9]+)"
	if [[ $1 =~ $_re ]]; then printf -v "$3" '%s' "${BASH_REMATCH[1]}"; else printf -v "$3" '%s' ''; fi
}

# ---- QEMU instances ---------------------------------------------------------
# Each QEMU (ID q1, q2, ...) runs in a namespace, its console in
# $d/ID.console, stdin a FIFO held open here (QFD), QMP on $d/ID.qmp.
qseq=0
# qemu_launch NS_INDEX [INCOMING_URI]: starts a QEMU; sets QNEW (its ID).
qemu_launch() {
	local id fd
	qseq=$((qseq + 1))
	id=q$qseq
	rm -f "$d/$id.qmp.in" "$d/$id.qmp.out" "$d/$id.in"
	mkfifo "$d/$id.qmp.in" "$d/$id.qmp.out" "$d/$id.in"
	exec {fd}<>"$d/$id.in"
	qemu_cmd "$d/$id.qmp"
	[ -z "${2:-}" ] || BENCH_CMD+=(-incoming "$2")
	: >"$d/$id.console"
	ip netns exec "${ns[$1]}" timeout -k 5 3600 "${BENCH_CMD[@]}" <"$d/$id.in" >"$d/$id.console" 2>"$d/$id.err" &
	QPID[$id]=$! QFD[$id]=$fd QNEW=$id
}
# qemu_end ID: quits (QMP) or kills QEMU ID.
qemu_end() {
	local id=$1 i pid=${QPID[$1]:-}
	[ -n "$pid" ] || return 0
	if [ -n "${QIN[$id]:-}" ]; then
		qmp_use "$id"
		qmp '{"execute": "quit"}' || true
	fi
	for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	qmp_close "$id"
	local fd=${QFD[$id]}
	exec {fd}>&-
	unset "QPID[$id]" "QFD[$id]"
}
qemu_send() { printf '%s\n' "$2" >&"${QFD[$1]}"; } # ID LINE

# ---- vessel ----------------------------------------------------------------
vseq=0 vconsole=''
# vessel_follow: a new console file for the guest's life in rundir[vcur].
vessel_follow() {
	[ -z "$vlogs" ] || { kill "$vlogs" 2>/dev/null || true; wait "$vlogs" 2>/dev/null || true; }
	vseq=$((vseq + 1))
	vconsole=$d/vessel-$vseq.console
	VESSEL_RUN_DIR=${rundir[$vcur]} timeout -k 5 3600 "$VESSEL" logs -f "$name" >"$vconsole" 2>&1 </dev/null &
	vlogs=$!
}
vessel_send() { # LINE
	printf '%s\n' "$1" | VESSEL_RUN_DIR=${rundir[$vcur]} timeout -k 5 30 "$VESSEL" console "$name" >/dev/null 2>>"$d/vessel-console.err" || true
}

# ---- boot both, side by side --------------------------------------------------
log "migrate: booting the ${mem_mib} MiB guests (each fills ${fill_mib} MiB)"
# boot SIDE: starts SIDE's guest in namespace A (not waiting for it).
boot() {
	if [ "$1" = vessel ]; then
		vcur=0
		VESSEL_RUN_DIR=${rundir[0]} timeout 60 "$VESSEL" stop --force "$name" >/dev/null 2>&1 || true
		if VESSEL_RUN_DIR=${rundir[0]} ip netns exec "${ns[0]}" timeout 120 "$VESSEL" start "$d/vessel.yaml" \
			</dev/null >"$d/vessel-start.err" 2>&1; then
			vessel_follow
		else
			dead[vessel]="vessel start failed: $(head -c 200 "$d/vessel-start.err")"
		fi
		return
	fi
	[ -z "$qsrc" ] || qemu_end "$qsrc"
	qemu_launch 0
	qsrc=$QNEW qcur=0
	qmp_open "$qsrc" "$d/$qsrc.qmp" || dead[qemu]="no QMP greeting from QEMU"
}
# ready SIDE: waits for SIDE's guest to fill its memory and tick.
ready() {
	local f p rc=0
	if [ "$1" = vessel ]; then f=$vconsole p=$vlogs; else f=$d/$qsrc.console p=${QPID[$qsrc]}; fi
	wait_console "$f" '^MIG-READY' "$((BENCH_VM_TIMEOUT + 300))" "$p" || rc=$?
	if [ "$rc" -eq 0 ] && ! ticking "$f" 60 "$p"; then rc=1; fi
	[ "$rc" -eq 0 ] || dead[$1]="the guest did not fill its memory and tick (status $rc)"
}
dead[vessel]='' dead[qemu]=''
for side in vessel qemu; do boot "$side"; done
for side in vessel qemu; do
	[ -z "${dead[$side]}" ] || continue
	ready "$side"
	if [ -n "${dead[$side]}" ]; then
		log "migrate: $side ${dead[$side]}; console tail:"
		if [ "$side" = vessel ]; then tail -n 20 "$vconsole"; else tail -n 20 "$d/$qsrc.console" "$d/$qsrc.err"; fi | tr -d '\r' >&2
		log "migrate: $side: booting its guest once more"
		dead[$side]=''
		boot "$side"
		[ -n "${dead[$side]}" ] || ready "$side"
	fi
	if [ -n "${dead[$side]}" ]; then
		log "migrate: $side ${dead[$side]} (second boot)"
	else
		f=$vconsole
		[ "$side" = vessel ] || f=$d/$qsrc.console
		log "migrate: $side is up: $(grep -a -m1 MIG-FILLED "$f" | tr -d '\r')"
	fi
done

# QEMU's defaults, for the footnote and the sides.
qdefault_dl='' qdefault_bw=''
if [ -z "${dead[qemu]}" ]; then
	qmp_use "$qsrc"
	if qmp '{"execute": "query-migrate-parameters"}'; then
		jnum "$QMP_LINE" downtime-limit qdefault_dl
		jnum "$QMP_LINE" max-bandwidth qdefault_bw
	fi
fi
log "migrate: QEMU's defaults: downtime-limit ${qdefault_dl:-?} ms, max-bandwidth ${qdefault_bw:-?} B/s"

# ---- one migration ------------------------------------------------------------
# load_on SIDE TOKEN / load_off SIDE TOKEN: the current guest of SIDE starts
# (and has done 2 passes) / stops its dirtying load. Status 1 on time out.
cur_console() { if [ "$1" = vessel ]; then echo "$vconsole"; else echo "$d/$qsrc.console"; fi; }
send() { if [ "$1" = vessel ]; then vessel_send "$2"; else qemu_send "$qsrc" "$2"; fi; }
load_on() {
	local f
	f=$(cur_console "$1")
	send "$1" "busy $2"
	wait_console "$f" "^P$2\\.2 " 120 || { send "$1" "busy $2"; wait_console "$f" "^P$2\\.2 " 120; } || return 1
}
load_off() {
	local f
	f=$(cur_console "$1")
	send "$1" "idle $2"
	wait_console "$f" "^MIG-IDLE-$2" 120 || { send "$1" "idle $2"; wait_console "$f" "^MIG-IDLE-$2" 60; } || return 1
}
# dirty_rate FILE... TOKEN: "N MiB/s" from the load's pass lines PTOKEN.K
# (guest uptime at the end of pass K), over the passes in these files.
dirty_rate() {
	local tok=${*: -1}
	tr -d '\r' <<<"$(cat "${@:1:$#-1}" 2>/dev/null)" | awk -v t="P$tok." -v mib="$fill_mib" '
		index($0, t) == 1 && NF == 2 { n++; if (n == 1) a = $2; b = $2 }
		END { if (n > 1 && b > a) printf "%.0f", (n - 1) * mib / (b - a) }'
}

# M_DOWN M_TOTAL_S M_MIB M_ROUNDS (or M_WHY) after each migration.
mig_vessel() { # DOWNTIME_MS
	local to=$((1 - vcur)) rc=0 line='' i
	local addr=${ip_of[$to]}:$port
	M_WHY=''
	: >"$d/recv.err"
	VESSEL_RUN_DIR=${rundir[$to]} ip netns exec "${ns[$to]}" timeout -k 5 $((mig_timeout + 180)) \
		"$VESSEL" receive --listen "$addr" --timeout $((mig_timeout + 60)) \
		</dev/null >"$d/recv.out" 2>"$d/recv.err" &
	recv_pid=$!
	for ((i = 0; i < 300; i++)); do
		! grep -q 'waiting for a migration' "$d/recv.err" || break
		kill -0 "$recv_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q 'waiting for a migration' "$d/recv.err"; then
		M_WHY="vessel receive did not listen: $(head -c 200 "$d/recv.err")"
		kill "$recv_pid" 2>/dev/null || true
		wait "$recv_pid" 2>/dev/null || true
		recv_pid=''
		return
	fi
	VESSEL_RUN_DIR=${rundir[$vcur]} timeout -k 5 $((mig_timeout + 150)) "$VESSEL" migrate --json \
		--max-downtime "${1}ms" --timeout "${mig_timeout}s" "$name" "$addr" \
		</dev/null >"$d/migrate.out" 2>"$d/migrate.err" || rc=$?
	cat "$d/migrate.out" >>"$d/vessel-migrate.out"
	cat "$d/migrate.err" >>"$d/vessel-migrate.err"
	while IFS= read -r l; do line=$l; done <"$d/migrate.out"
	# the receiver ends once the guest runs there, or on the ABORT
	for ((i = 0; i < 600; i++)); do kill -0 "$recv_pid" 2>/dev/null || break; sleep 0.1; done
	kill "$recv_pid" 2>/dev/null || true
	local rrc=0
	wait "$recv_pid" 2>/dev/null || rrc=$?
	recv_pid=''
	cat "$d/recv.out" "$d/recv.err" >>"$d/vessel-receive.out"
	if [ "$rc" -ne 0 ] || [[ $line != *'"ok":true'* ]]; then
		M_WHY="vessel migrate exited $rc: $(tr '\n' ' ' <"$d/migrate.err" | head -c 300)"
		return
	fi
	jnum "$line" downtime_ms M_DOWN
	jnum "$line" total_ms M_TOTAL_S
	jnum "$line" sent M_MIB
	jnum "$line" rounds M_ROUNDS
	# the destination's part of the downtime: from the stream's last
	# frame to the guest running there (vessel receive says it)
	M_DEST=$(sed -nE 's/.*; running ([0-9]+) ms after the last frame.*/\1/p' "$d/recv.out" | tail -n 1)
	# the guest-visible pause, as for QEMU: the source's pause to the
	# destination's running, both on this machine's wall clock (us)
	local p0 p1
	jnum "$line" paused_at_us p0
	p1=$(sed -nE 's/.*; at ([0-9]+) us of the wall clock.*/\1/p' "$d/recv.out" | tail -n 1)
	M_GAP=''
	[ -z "$p0" ] || [ -z "$p1" ] || M_GAP=$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
	# where vessel's downtime went (its final JSON object's downtime_parts)
	local part v
	M_PARTS=''
	for part in pause last state handover answer; do
		jnum "$line" "${part}_ms" v
		M_PARTS+="${M_PARTS:+ }$part ${v:-?}"
	done
	M_TOTAL_S=$(awk -v v="$M_TOTAL_S" 'BEGIN { printf "%.3f", v / 1000 }')
	M_MIB=$(awk -v v="$M_MIB" 'BEGIN { printf "%.1f", v / 1048576 }')
	grep -a '"progress"' "$d/migrate.out" | tail -n 3 | sed 's/^/  /' >&2 || true
	[ "$rrc" -eq 0 ] || log "migrate: vessel receive exited $rrc after a migration that succeeded"
	vcur=$to
	vessel_follow
	ticking "$vconsole" 60 "$vlogs" || M_WHY="the guest did not tick on the destination"
}
mig_qemu() { # DOWNTIME_MS or "" (QEMU's default)
	local to=$((1 - qcur)) st='' end line qr qb
	local addr=${ip_of[$to]}:$port
	M_WHY=''
	qemu_launch "$to" "tcp:$addr"
	qdst=$QNEW
	if ! qmp_open "$qdst" "$d/$qdst.qmp"; then
		M_WHY="the destination QEMU did not answer on QMP: $(tail -n 2 "$d/$qdst.err" | tr '\n' ' ')"
		qemu_end "$qdst"
		return
	fi
	qmp_use "$qsrc"
	if [ -n "$1" ]; then
		qmp "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": $1}}" ||
			{ M_WHY="migrate-set-parameters failed: $QMP_LINE"; qemu_end "$qdst"; return; }
	elif [ -n "$qdefault_dl" ]; then
		qmp "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": $qdefault_dl}}" || true
	fi
	local mark
	mark=$(wc -l <"$d/qmp.log")
	if ! qmp "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:$addr\"}}"; then
		M_WHY="migrate failed: $QMP_LINE"
		qemu_end "$qdst"
		return
	fi
	end=$((EPOCHSECONDS + mig_timeout))
	while :; do
		sleep 0.5
		qmp '{"execute": "query-migrate"}' || continue
		line=$QMP_LINE
		[[ $line =~ \"status\":\ *\"([a-z-]+)\" ]] && st=${BASH_REMATCH[1]}
		case $st in completed | failed | cancelled) break ;; esac
		if [ "$EPOCHSECONDS" -ge "$end" ]; then
			log "migrate: QEMU has not completed after ${mig_timeout}s: $line"
			qmp '{"execute": "migrate_cancel"}' || true
			qmp_read_until '.' 5 || true
			sleep 2
			st=timeout
			break
		fi
	done
	if [ "$st" != completed ]; then
		if [ "$st" = timeout ]; then
			jnum "$line" dirty-sync-count qr
			jnum "$line" transferred qb
			M_WHY="did not converge within ${mig_timeout}s (cancelled after ${qr:-?} rounds, $((${qb:-0} >> 20)) MiB sent)"
		else
			M_WHY="the migration ended $st: $line"
		fi
		qemu_end "$qdst"
		return
	fi
	jnum "$line" downtime M_DOWN
	jnum "$line" total-time M_TOTAL_S
	jnum "$line" transferred M_MIB
	jnum "$line" dirty-sync-count M_ROUNDS
	# Seen once: "completed" with a downtime and total time of 0. Not a
	# measurement: the run counts as failed rather than as 0 ms.
	if [ "${M_DOWN:-0}" = 0 ] || [ "${M_TOTAL_S:-0}" = 0 ]; then
		M_WHY="QEMU reported no downtime or total time: $line"
	fi
	# the guest-visible pause: the source's STOP event (read while polling)
	# to the destination's RESUME, both stamped with the wall clock
	local stop
	stop=$(tail -n +"$((mark + 1))" "$d/qmp.log" | grep '"event": *"STOP"' | tail -n 1)
	qmp_use "$qdst"
	M_GAP=''
	if [ -n "$stop" ] && qmp_read_until '"event": *"RESUME"' 10; then
		M_GAP=$(qmp_event_gap "$stop" "$QMP_LINE")
	fi
	qmp_use "$qsrc"
	M_TOTAL_S=$(awk -v v="$M_TOTAL_S" 'BEGIN { printf "%.3f", v / 1000 }')
	M_MIB=$(awk -v v="$M_MIB" 'BEGIN { printf "%.1f", v / 1048576 }')
	qemu_end "$qsrc"
	qsrc=$qdst qcur=$to qdst=''
	ticking "$d/$qsrc.console" 60 "${QPID[$qsrc]}" || M_WHY="the guest did not tick on the destination"
}

# ---- the runs -------------------------------------------------------------------
vver=$("$VESSEL" version 2>/dev/null | head -n1 || echo '?')
qver=$("$BENCH_QEMU" --version | head -n1 | sed 's/ *Copyright.*//')
bench_note vessel "migrate: \`vessel start\` ($vver): vcpus: 1, memory: ${mem_mib}M, rng: false, the virtio initramfs plus the script, in one namespace; \`vessel receive --listen ADDR:PORT\` in the other (its own VESSEL_RUN_DIR); \`vessel migrate --json --max-downtime D --timeout ${mig_timeout}s NAME ADDR:PORT\`; downtime_ms, total_ms, rounds and sent from its final JSON object"
bench_note qemu-q35 "migrate: $qver: \`$qargs\` in one namespace, the same plus \`-incoming tcp:ADDR:PORT\` in the other; QMP \`migrate\` to \"tcp:ADDR:PORT\" with QEMU's default settings (downtime-limit ${qdefault_dl:-?} ms, max-bandwidth $(((${qdefault_bw:-0}) >> 20)) MiB/s, no capabilities), polled with \`query-migrate\` every 0.5 s: downtime, total-time, ram.transferred, ram.dirty-sync-count once completed; \`migrate_cancel\` after ${mig_timeout}s"

declare -A mdt
for load in "${loads[@]}"; do
	case $load in
	idle) mdt[$load]=$dt_ms ;;
	busy) mdt[$load]=$busy_dt_ms ;;
	esac
	bench_metric "migrate.$load.downtime" "migrate ${mem_mib} MiB guest, $load: downtime, as each VMM reports it" ms
	bench_metric "migrate.$load.pause" "migrate ${mem_mib} MiB guest, $load: downtime as the guest sees it, source's stop to destination's resume (goal: vessel <= 0.5x QEMU)" ms
	bench_metric "migrate.$load.total" "migrate ${mem_mib} MiB guest, $load: total time (goal: vessel <= 1.0x QEMU)" s
	bench_metric "migrate.$load.sent" "migrate ${mem_mib} MiB guest, $load: sent" MiB
	bench_metric "migrate.$load.rounds" "migrate ${mem_mib} MiB guest, $load: rounds (QEMU: dirty-sync-count)" n
	bench_metric "migrate.$load.dest" "migrate ${mem_mib} MiB guest, $load: of the downtime, the destination's part (last frame to running; vessel only)" ms
done

tok=0
declare -A rates
for load in "${loads[@]}"; do
	sides=(vessel qemu-q35)
	[ -z "$qdefault_dl" ] || [ "$qdefault_dl" = "${mdt[$load]}" ] || sides+=(qemu-q35-dl)
	for ((r = 1; r <= runs; r++)); do
		for side in "${sides[@]}"; do
			key=$side.$load
			nruns[$key]=$((${nruns[$key]:-0} + 1))
			vm=vessel
			[ "$side" = vessel ] || vm=qemu
			if [ -n "${dead[$vm]}" ]; then
				fail_run "$key" "$load" "${dead[$vm]}"
				continue
			fi
			tok=$((tok + 1)) rate=''
			M_DOWN='' M_TOTAL_S='' M_MIB='' M_ROUNDS='' M_WHY='' M_DEST='' M_PARTS='' M_GAP=''
			from=${ns[0]}
			if [ "$vm" = vessel ]; then from=${ns[$vcur]}; else from=${ns[$qcur]}; fi
			if [ "$load" = busy ] && ! load_on "$vm" "$tok"; then
				M_WHY="the guest's load did not start (no P$tok.2 line)"
			else
				f0=$(cur_console "$vm")
				bench_now t0
				case $side in
				vessel) mig_vessel "${mdt[$load]}" ;;
				qemu-q35) mig_qemu '' ;;
				qemu-q35-dl) mig_qemu "${mdt[$load]}" ;;
				esac
				bench_now t1
				if [ "$load" = busy ]; then
					f1=$(cur_console "$vm")
					rate=$(dirty_rate "$f0" "$f1" "$tok")
					[ -z "$rate" ] || rates[$side]+="${rates[$side]:+ }$rate"
					load_off "$vm" "$tok" || {
						log "migrate: $side: the guest's load did not stop"
						[ -n "$M_WHY" ] || dead[$vm]="the guest's load did not stop"
					}
				fi
			fi
			wall=$(((t1 - t0) / 1000))
			if [ -n "$M_WHY" ]; then
				log "migrate $load run $r: $side from ${from%-*}: FAILED after $wall ms ($M_WHY)"
				fail_run "$key" "$load" "$M_WHY"
				# a guest that no longer ticks is not migrated again
				if [ "$vm" = vessel ]; then f=$vconsole p=$vlogs; else f=$d/$qsrc.console p=${QPID[$qsrc]}; fi
				ticking "$f" 60 "$p" || dead[$vm]="the guest stopped ticking after a failed migration"
				continue
			fi
			log "migrate $load run $r: $side from ${from%-*}: downtime $M_DOWN ms${M_DEST:+ ($M_DEST ms of it at the destination)}${M_GAP:+, stop to resume $M_GAP ms}${M_PARTS:+ [ms: $M_PARTS]}, total $M_TOTAL_S s, $M_MIB MiB, $M_ROUNDS rounds (wall $wall ms)${rate:+, load ${rate} MiB/s}"
			bench_sample "migrate.$load.downtime" "$side" "$M_DOWN"
			bench_sample "migrate.$load.total" "$side" "$M_TOTAL_S"
			bench_sample "migrate.$load.sent" "$side" "$M_MIB"
			bench_sample "migrate.$load.rounds" "$side" "$M_ROUNDS"
			[ -z "$M_DEST" ] || bench_sample "migrate.$load.dest" "$side" "$M_DEST"
			[ -z "$M_GAP" ] || bench_sample "migrate.$load.pause" "$side" "$M_GAP"
		done
	done
done

for key in "${!nruns[@]}"; do
	bench_run_fail_note migrate "${key%.*}" "${failed[$key]:-0}" "${nruns[$key]} ${key##*.}" "${why[$key]:-}"
done
[ -z "${nruns[qemu-q35-dl.idle]:-}${nruns[qemu-q35-dl.busy]:-}" ] ||
	bench_note qemu-q35-dl "migrate: the same with \`migrate-set-parameters downtime-limit\` = vessel's --max-downtime"

# The goals, from the medians.
median() { # ID SIDE
	awk -F'\t' -v id="$1" -v s="$2" '$1 == id && $2 == s { print $3 }' "$BENCH_OUT/samples.tsv" 2>/dev/null | bench_stats | awk '{ print $2 }'
}
goals=''
for load in "${loads[@]}"; do
	for g in "pause 0.5" "downtime 0.5" "total 1.0"; do
		read -r m goal <<<"$g"
		for peer in qemu-q35 qemu-q35-dl; do
			[ -n "${nruns[$peer.$load]:-}" ] || continue
			label="$load $m vs $peer"
			v=$(median "migrate.$load.$m" vessel) q=$(median "migrate.$load.$m" "$peer")
			if [ -z "$v" ] || [ -z "$q" ]; then
				goals+="${goals:+; }$label: n/a"
			else
				goals+="${goals:+; }$(awk -v v="$v" -v q="$q" -v g="$goal" -v l="$label" 'BEGIN {
					r = (q > 0) ? v / q : 0
					printf "%s %.2fx (goal <= %sx: %s)", l, r, g, (q > 0 && r <= g) ? "met" : "NOT met" }')"
			fi
		done
	done
done
ratenote=''
for side in "${!rates[@]}"; do ratenote+="${ratenote:+, }$side ${rates[$side]// /, } MiB/s"; done
bench_note all "migrate: $runs runs per side and load, vessel and QEMU in turn, each side's guest (1 vCPU, ${mem_mib} MiB, kernel ${BENCH_KVERSION:-?}; ${fill_mib} MiB of a tmpfs filled with copies of the initramfs's files) moving back and forth between two network namespaces over a veth pair; loads: ${loads[*]}; idle: the guest only prints a line every 0.1 s; busy: it rewrites its ${fill_mib} MiB in place in a loop (dd bs=1M conv=notrunc; load measured by the guest during the migrations: ${ratenote:-n/a}); vessel's --max-downtime: idle ${dt_ms} ms, busy ${busy_dt_ms} ms; a migration not done within ${mig_timeout}s fails. The downtimes each VMM reports are not the same span: vessel's runs from the pause until the destination answers that the guest runs there (its restore included), QEMU's from the stop on the source until the source has sent everything (the destination's load and start left out). The same span for both is the guest-visible pause, from the source's stop to the destination's resume, on this machine's wall clock: QEMU's STOP event on the source and RESUME event on the destination (QMP timestamps); vessel's paused_at_us in migrate's JSON and the time \`vessel receive\` prints once the guest runs. The goal is judged on that span; the reported downtimes are compared too. Goals (issue #16): ${goals:-n/a}"
exit 0

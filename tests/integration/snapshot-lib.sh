# shellcheck shell=bash
# shellcheck disable=SC2034 # CFG, SNAP_GUEST_FUNCS: used by the tests sourcing this
# Helpers of the snapshot tests (test_22..test_27), sourced after lib.sh.
#
# Guests run under the supervisor (`vessel start FILE`, `vessel start
# --restore DIR`) with a run directory private to the test
# (VESSEL_RUN_DIR=$T/run), or in the foreground (`vessel restore DIR`).
# Each life of a guest (a boot or a restore) has its own console file:
# snap_start / snap_restore_bg follow the supervisor's log with `vessel
# logs -f NAME` into $T/life.N.raw; snap_restore_fg runs `vessel restore`
# with its stdout there and its stdin a FIFO (vm_send writes to it).
# SNAP_LIFE is the current life's number, SNAP_LPID the pid whose end means
# the life ended (the `logs -f`, or the foreground vessel).
#
# The guests are the virtio test guests (virtio_guest, lib.sh) running a
# script built from the snippets below; they print
#   TICK N up=UPTIME mono=NS .    every SNAP_TICK_S seconds (snap_ticker);
#                                 the final " ." tells a whole line from one
#                                 cut by a save or a move inside its digits
# and stop ticking when a line "stop" arrives on their console.

snap_init() {
	export VESSEL_RUN_DIR=$T/run
	mkdir -m 0700 "$VESSEL_RUN_DIR"
	SNAP_LIFE=0 SNAP_LPID='' SNAP_NAMES=()
	at_exit _snap_cleanup
}

_snap_cleanup() {
	local n
	for n in ${SNAP_NAMES[@]+"${SNAP_NAMES[@]}"}; do
		timeout 60 "$VESSEL" stop --force "$n" >/dev/null 2>&1 || true
	done
	[ -z "$SNAP_LPID" ] || kill "$SNAP_LPID" 2>/dev/null || true
}

# _snap_track NAME: stop NAME when the test ends.
_snap_track() {
	[[ " ${SNAP_NAMES[*]-} " == *" $1 "* ]] || SNAP_NAMES+=("$1")
}

# snap_cmd OUT CMD...: runs `vessel CMD...` (time limit 300 s), stdin
# /dev/null, stdout and stderr to $T/OUT.out and $T/OUT.err; sets SRC to
# its exit status and SNAP_CMD_MS to its duration. With SNAP_NICE set it
# runs under `nice -n $SNAP_NICE` (so does the guest it starts).
snap_cmd() {
	local out=$1 t0
	shift
	info "vessel $*"
	t0=$(now_ms)
	SRC=0
	timeout -k 5 300 ${SNAP_NICE:+nice -n "$SNAP_NICE"} "$VESSEL" "$@" </dev/null >"$T/$out.out" 2>"$T/$out.err" || SRC=$?
	SNAP_CMD_MS=$(($(now_ms) - t0))
	if [ -s "$T/$out.err" ]; then
		info "  status $SRC after $SNAP_CMD_MS ms; stderr: $(head -c 300 "$T/$out.err" | tr '\n' ' ')"
	else
		info "  status $SRC after $SNAP_CMD_MS ms"
	fi
}

# snap_ok OUT CMD...: snap_cmd, and the status must be 0.
snap_ok() {
	snap_cmd "$@"
	[ "$SRC" = 0 ] || snap_fail "vessel ${*:2} exited $SRC: $(head -c 600 "$T/$1.err")"
}

# _snap_new_life: the next life's console file ($SNAP_RAW, $SNAP_CON).
_snap_new_life() {
	[ -z "$SNAP_LPID" ] || { kill "$SNAP_LPID" 2>/dev/null || true; wait "$SNAP_LPID" 2>/dev/null || true; }
	SNAP_LPID=''
	SNAP_LIFE=$((SNAP_LIFE + 1))
	SNAP_RAW=$T/life.$SNAP_LIFE.raw SNAP_CON=$T/life.$SNAP_LIFE.console
	: >"$SNAP_RAW"
	: >"$SNAP_CON"
	VM_T0=$(now_ms)
}

# snap_follow NAME: a new life, its console followed from NAME's log.
snap_follow() {
	_snap_new_life
	timeout -k 5 1800 "$VESSEL" logs -f "$1" >"$SNAP_RAW" 2>&1 </dev/null &
	SNAP_LPID=$!
}

# snap_start CFG NAME: `vessel start CFG`, then follows NAME's console.
snap_start() {
	CFG=$1
	_snap_track "$2"
	snap_ok start start "$1"
	snap_follow "$2"
}

# snap_restore_bg DIR NAME: `vessel start --restore DIR`, then follows
# NAME's console.
snap_restore_bg() {
	_snap_track "$2"
	snap_ok restore start --restore "$1"
	snap_follow "$2"
}

# snap_restore_fg DIR: `vessel restore DIR` in the background of this
# script (the guest in vessel's foreground), stdin a FIFO; VM_PID is its
# pid. vm_send writes to the guest's console; snap_fg_wait waits for its end.
snap_restore_fg() {
	_snap_new_life
	rm -f "$T/stdin"
	mkfifo "$T/stdin"
	info "vessel restore $1 (background, stdin from a FIFO)"
	"$VESSEL" restore "$1" <"$T/stdin" >"$SNAP_RAW" 2>"$T/restore-fg.err" &
	VM_PID=$! SNAP_LPID=$VM_PID RC=
	exec {VM_IN}>"$T/stdin"
}

# snap_fg_wait SECS: waits for the foreground `vessel restore` to exit;
# sets RC (fails as a hang after SECS).
snap_fg_wait() {
	local end=$(($(date +%s) + $1))
	while kill -0 "$VM_PID" 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || snap_fail "vessel restore still running ${1}s after it should have exited"
		sleep 0.2
	done
	RC=0
	wait "$VM_PID" || RC=$?
	VM_PID='' SNAP_LPID=''
	exec {VM_IN}>&-
	VM_IN=''
	snap_con
	info "vessel restore exited with status $RC"
}

# snap_life_end [SECS]: waits (10 s) until the current life's console
# reader is done: `vessel logs -f` ends once its guest is gone, with every
# line the guest printed. Call after stopping a guest, before reading its
# last lines.
snap_life_end() {
	local end=$(($(date +%s) + ${1:-10}))
	while [ -n "$SNAP_LPID" ] && kill -0 "$SNAP_LPID" 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || { info "life $SNAP_LIFE's console reader still runs"; return 0; }
		sleep 0.1
	done
	snap_con
}

# snap_con [N]: refreshes life N's (default: the current) console file
# (\r removed).
snap_con() {
	local n=${1:-$SNAP_LIFE}
	tr -d '\r' <"$T/life.$n.raw" >"$T/life.$n.console" 2>/dev/null || true
}

# snap_count REGEX [N]: how many lines of life N's console match REGEX.
snap_count() {
	snap_con "${2:-}"
	grep -cE -- "$1" "$T/life.${2:-$SNAP_LIFE}.console" || true
}

# snap_wait REGEX [SECS] [COUNT]: waits until COUNT (1) lines of the current
# life's console match REGEX; fails if the life ends first or time runs out.
snap_wait() {
	local re=$1 secs=${2:-$VM_TIMEOUT} want=${3:-1} end n
	end=$(($(date +%s) + secs))
	while :; do
		n=$(snap_count "$re")
		if [ "$n" -ge "$want" ]; then
			info "life $SNAP_LIFE: '$re' x$n after $(($(now_ms) - VM_T0)) ms"
			return 0
		fi
		if [ -n "$SNAP_LPID" ] && ! kill -0 "$SNAP_LPID" 2>/dev/null; then
			n=$(snap_count "$re")
			[ "$n" -lt "$want" ] || return 0
			snap_fail "the guest's life $SNAP_LIFE ended before printing '$re' ($n of $want seen)"
		fi
		[ "$(date +%s)" -lt "$end" ] || snap_fail "no '$re' ($n of $want seen) in life $SNAP_LIFE within ${secs}s"
		sleep 0.2
	done
}

# snap_value KEY [N]: the value of the first KEY=VALUE line of life N.
snap_value() {
	snap_con "${2:-}"
	grep -m1 -E "^$1=" "$T/life.${2:-$SNAP_LIFE}.console" | cut -d= -f2- || true
}

# snap_ticks [N]: life N's complete TICK lines, as "N UPTIME MONO" lines.
# The supervisor's notes ("\r\n[vessel: migrating]\r\n") go into the
# console stream wherever the guest's output is, possibly in the middle of
# a TICK line: they are taken out first, which joins such a line again.
snap_ticks() {
	perl -0pe 's/\r\n\[vessel: [^\]\r\n]*\]\r\n//g' "$T/life.${1:-$SNAP_LIFE}.raw" 2>/dev/null |
		tr -d '\r' |
		sed -nE 's/^TICK ([0-9]+) up=([0-9]+\.[0-9]+) mono=(-?[0-9]+) \.$/\1 \2 \3/p'
}

# snap_last_tick [N]: the number of life N's last complete TICK line (0: none).
snap_last_tick() { snap_ticks "${1:-}" | awk 'END { print (NR ? $1 : 0) }'; }

# snap_wait_ticks K [SECS]: waits until the current life has printed K
# complete TICK lines in all.
snap_wait_ticks() { snap_wait '^TICK [0-9]+ up=[0-9.]+ mono=-?[0-9]+ \.$' "${2:-$VM_TIMEOUT}" "$1"; }

# snap_expect_continued PREV FIRST_MIN FIRST_MAX: the current life is a
# continuation of life PREV: it has no boot banner, its TICK numbers go
# up by one from a first one within FIRST_MIN..FIRST_MAX, and neither its
# uptime nor its CLOCK_MONOTONIC goes back, from PREV's last tick on.
snap_expect_continued() {
	local prev=$1 lo=$2 hi=$3 first why
	snap_con
	! grep -qE '^(VESSEL-USERSPACE-OK|VESSEL-TEST-START)$|Linux version [0-9]' "$SNAP_CON" ||
		snap_fail "life $SNAP_LIFE booted afresh (a boot banner in its console), it did not continue life $prev"
	first=$(snap_ticks | awk 'NR == 1 { print $1 }')
	[ -n "$first" ] || snap_fail "life $SNAP_LIFE printed no TICK line"
	info "life $SNAP_LIFE continues at TICK $first (life $prev: last TICK $(snap_last_tick "$prev"); want $lo..$hi)"
	[ "$first" -ge "$lo" ] && [ "$first" -le "$hi" ] ||
		snap_fail "life $SNAP_LIFE's first TICK is $first, want $lo..$hi: the counter did not continue from where it was saved"
	why=$({ snap_ticks "$prev" | awk -v f="$first" '$1 < f'; snap_ticks; } | awk '
		NR > 1 && $1 != n + 1 { print "TICK " $1 " follows TICK " n }
		NR > 1 && $2 + 0 < up { print "uptime went back from " up " to " $2 " at TICK " $1; exit }
		NR > 1 && $3 + 0 < mono { print "CLOCK_MONOTONIC went back from " mono " to " $3 " ns at TICK " $1; exit }
		{ n = $1; up = $2 + 0; mono = $3 + 0 }')
	# A gap of one is a TICK line cut in two by the save (its head in
	# life PREV, its tail in this one), not a lost tick.
	why=$(grep -v "^TICK $first follows TICK $((first - 2))\$" <<<"$why" | head -n 1 || true)
	[ -z "$why" ] || snap_fail "life $SNAP_LIFE after life $prev: $why"
}

# snap_fail MSG: fail, showing every life's console (from the test's
# start marker, at most 60 lines each) first.
snap_fail() {
	local n
	for ((n = 1; n <= ${SNAP_LIFE:-0}; n++)); do
		snap_con "$n"
		echo "--- life $n's console (last 60 lines):"
		tail -n 60 "$T/life.$n.console"
	done
	for n in "$T"/*.err; do
		[ -s "$n" ] || continue
		echo "--- $(basename "$n"):"
		tail -n 20 "$n"
	done
	fail "$@"
}

# ---- guest snippets (for the test scripts, virtio_guest) ----------------

# SNAP_GUEST_FUNCS: shell functions for the guest:
#   mono_ns        MONO=CLOCK_MONOTONIC in ns (the first "now at" line of
#                  /proc/timer_list: ktime_get()), -1 if unavailable
#   snap_ticker S  prints a TICK line every S seconds (builtins only, so a
#                  save can fall anywhere) and, if SNAP_FD3 is set, appends
#                  "line N" to fd 3; returns when a line "stop" is read from
#                  the console (not echoed, so it cannot cut a TICK line;
#                  read by a background reader, whole lines only).
# mig_receive_bg OUT ADDR:PORT SECS [PREFIX...]: `vessel receive --listen
# ADDR:PORT --timeout SECS` in the background (RECV_PID) with
# VESSEL_RUN_DIR=$DST_RUN, run under PREFIX (say `ip netns exec NS`), its
# output in $T/OUT.out and $T/OUT.err; returns once it listens.
mig_receive_bg() {
	local out=$1 addr=$2 secs=$3 i
	shift 3
	: >"$T/$out.err"
	VESSEL_RUN_DIR=$DST_RUN "$@" timeout -k 5 $((secs + 180)) "$VESSEL" receive \
		--listen "$addr" --timeout "$secs" </dev/null >"$T/$out.out" 2>"$T/$out.err" &
	RECV_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'waiting for a migration' "$T/$out.err" && return 0
		sleep 0.1
	done
	snap_fail "vessel receive did not start listening: $(cat "$T/$out.err")"
}

# mig_two_hosts N: the source and destination "hosts" of a migration test:
# two network namespaces ($MIG_NS_SRC, $MIG_NS_DST) joined by a veth pair,
# 10.86.N.1 the source, 10.86.N.2 the destination; removed at exit (after
# what the test registers later). $MIG_SFX: their random suffix.
mig_two_hosts() {
	MIG_SFX=$(random_token | cut -c1-6)
	MIG_NS_SRC=vmg-s-$MIG_SFX MIG_NS_DST=vmg-d-$MIG_SFX
	at_exit "ip netns del $MIG_NS_SRC 2>/dev/null; ip netns del $MIG_NS_DST 2>/dev/null"
	ip netns add "$MIG_NS_SRC" && ip netns add "$MIG_NS_DST" || fail "cannot create network namespaces"
	ip link add "vmg0-$MIG_SFX" netns "$MIG_NS_SRC" type veth peer name "vmg1-$MIG_SFX" netns "$MIG_NS_DST" ||
		fail "cannot create a veth pair"
	ip -n "$MIG_NS_SRC" addr add "10.86.$1.1/24" dev "vmg0-$MIG_SFX"
	ip -n "$MIG_NS_DST" addr add "10.86.$1.2/24" dev "vmg1-$MIG_SFX"
	ip -n "$MIG_NS_SRC" link set lo up
	ip -n "$MIG_NS_DST" link set lo up
	ip -n "$MIG_NS_SRC" link set "vmg0-$MIG_SFX" up
	ip -n "$MIG_NS_DST" link set "vmg1-$MIG_SFX" up
}

# mig_start_on_source CFG NAME: `vessel start CFG` in the source host's
# namespace, then follows NAME's console.
mig_start_on_source() {
	_snap_track "$2"
	info "vessel start (source namespace)"
	ip netns exec "$MIG_NS_SRC" timeout 300 "$VESSEL" start "$1" </dev/null >"$T/start.out" 2>"$T/start.err" ||
		snap_fail "vessel start failed: $(cat "$T/start.err")"
	snap_follow "$2"
}

# snap_connect ADDR: opens a connection to a guest's SNAP_ECHO_SERVICE
# at ADDR:7000 (retried for 30 s: the bridge port and ARP may lag); tcp
# is its descriptor.
snap_connect() {
	local i
	tcp=''
	for ((i = 0; i < 30; i++)); do
		{ exec {tcp}<>"/dev/tcp/$1/7000"; } 2>/dev/null && return 0
		tcp=''
		sleep 1
	done
	snap_fail "cannot connect to the guest's $1:7000"
}

# snap_exchange WHAT SECS: sends WHAT on the connection $tcp (a bash
# /dev/tcp descriptor to a guest's SNAP_ECHO_SERVICE), expects
# "guest-WHAT" back within SECS.
# shellcheck disable=SC2154 # tcp: the caller's
snap_exchange() {
	local reply=''
	printf '%s\n' "$1" >&"$tcp" || snap_fail "writing '$1' to the connection failed"
	IFS= read -r -t "$2" -u "$tcp" reply || snap_fail "no reply to '$1' within $2 s (got '$reply')"
	reply=${reply%$'\r'}
	[ "$reply" = "guest-$1" ] || snap_fail "sent '$1', the guest answered '$reply'"
	info "sent '$1', got '$reply'"
}

# mig_wait_gone RUNDIR NAME WHAT: waits (60 s) until NAME is no longer
# listed in that run directory; fails saying the guest did not WHAT.
mig_wait_gone() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ -n "$(mig_state "$1" "$2")" ] || return 0
		sleep 0.2
	done
	snap_fail "the guest did not $3 within 60 s"
}

# mig_state RUNDIR NAME: NAME's state in that run directory's `vessel ps`
# (nothing if it is not listed).
mig_state() {
	VESSEL_RUN_DIR=$1 "$VESSEL" ps --json 2>/dev/null |
		python3 -c 'import json,sys; print(" ".join(g["state"] for g in json.load(sys.stdin) if g["name"]==sys.argv[1]))' "$2"
}

# SNAP_ECHO_SERVICE: guest lines serving a line echo on port 7000 (busybox
# nc -ll -e: each line comes back as "guest-LINE"); prints VT-SERVICE-UP.
# shellcheck disable=SC2016 # expanded in the guest
SNAP_ECHO_SERVICE='
printf "#!/bin/sh\nwhile IFS= read -r l; do echo \"guest-\$l\"; done\n" >/tmp/echo.sh
chmod +x /tmp/echo.sh
nc -ll -p 7000 -e /tmp/echo.sh &
sleep 0.5
echo "VT-SERVICE-UP"
'

# shellcheck disable=SC2016 # expanded in the guest
SNAP_GUEST_FUNCS='
mono_ns() {
	MONO=-1
	while read -r _a _b _c _d; do
		if [ "$_a $_b" = "now at" ]; then MONO=$_c; return 0; fi
	done </proc/timer_list
}
snap_ticker() {
	i=0
	stty -echo 2>/dev/null || true
	# The console is read by a reader of its own, without a time limit:
	# busybox `read -t` reads byte by byte and drops what it consumed
	# when its time runs out in the middle of a line (seen: "stop" lost).
	# A shell without job control gives a background list /dev/null for
	# stdin, so the reader takes the console through fd 9.
	rm -f /tmp/ticker-stop
	exec 9<&0
	(while read -r cmd; do
		[ "$cmd" != stop ] || { : >/tmp/ticker-stop; break; }
	done) <&9 &
	exec 9<&-
	[ -p /tmp/ticker-never ] || mkfifo /tmp/ticker-never
	exec 8<>/tmp/ticker-never
	while :; do
		i=$((i + 1))
		read -r up _x </proc/uptime
		mono_ns
		echo "TICK $i up=$up mono=$MONO ."
		[ -z "${SNAP_FD3:-}" ] || echo "line $i" >&3
		[ ! -e /tmp/ticker-stop ] || break
		read -r -t "$1" _x <&8 || :
	done
	exec 8<&-
	echo "TICKER-STOPPED=$i"
}
'

#!/usr/bin/env bash
# The appliance end to end (issue #14; APPLIANCE.md, docs/appliance.md):
# builds examples/appliance into a disk image with `vessel image build`,
# boots it in QEMU under OVMF (TCG with an emulated SVM CPU, so that the
# appliance's own KVM runs vm1), and drives it from its serial console, as
# an operator would, through the rescue shell.
#
# Tests (one `ok NAME` / `FAIL NAME: why` each, then `N passed, N failed`):
#   build         vessel image build examples/appliance -o edge.img
#   reproducible  a second build gives the same bytes (cmp)
#   boot          OVMF boots the image; vessel-init starts the 3 guests; vm1
#                 prints VM1-READY and its token, ct1 CT1-START; vessel ps
#   ping          ct1 pings vm1 over br0: CT1-PING-OK
#   restart       crashy ran 3 times (restart: on-failure, restart_max: 2),
#                 then the supervisor gave up, and its log says so
#   persistence   after `vessel host reboot`, vm1 prints the same token
#   shutdown      QMP system_powerdown: "ct1: SIGTERM" then "vm1: power
#                 button" (reverse order of start), "vessel-init: powering
#                 off", QEMU exits by itself; the next boot logs
#                 "vessel-init: data: clean"
#   numbers       the image's and initramfs's sizes; time from QEMU's start
#                 to each marker (firmware, kernel, init, guests); the same
#                 guests started again by `vessel up` on the running appliance
# Every step has a time limit; running out of it is reported as a hang,
# with the console's last lines. Needs root, qemu-system-x86_64, ovmf,
# socat (installed when missing). QEMU runs hold
# /tmp/vessel-appliance-qemu.lock and the nested host's lock (one big TCG
# guest at a time on the machine).
#   env: VESSEL (default ./vessel), VESSEL_CACHE (kernel cache),
#        APPLIANCE_KEEP=1 keeps the work directory (its path is printed)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/../harness/lib.sh"
VESSEL=${VESSEL:-$REPO/vessel}
EXAMPLE=$REPO/examples/appliance
OVMF=/usr/share/ovmf/OVMF.fd

passed=0 failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
note() { echo "note $*"; }
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

T=$(mktemp_dir appliance)
qpid=''
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null
		sleep 1
		kill -9 "$qpid" 2>/dev/null
	fi
	[ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null
	if [ "${APPLIANCE_KEEP:-0}" = 1 ]; then
		echo "note kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# indent FILE [N]: the last N (30) lines of FILE, indented.
indent() { tail -n "${2:-30}" "$1" 2>/dev/null | sed 's/^/    | /'; }

# ---- build ----------------------------------------------------------------
export VESSEL_CACHE=${VESSEL_CACHE:-$CACHE}
kv=$("$HARNESS_DIR/fetch-kernel.sh") || { fail build "no kernel (tests/harness/fetch-kernel.sh)"; finish; }
eval "$kv"
if ! run_timeout 300 "$EXAMPLE/prepare.sh" --fresh >"$T/prepare.log" 2>&1; then
	fail build "examples/appliance/prepare.sh failed"
	indent "$T/prepare.log"
	finish
fi
# build OUT [ARGS...]: vessel image build of the example, logged to OUT.log.
build() {
	local out=$1
	shift
	run_timeout 600 "$VESSEL" image build "$EXAMPLE" -o "$out" --kernel "$KERNEL" --moddir "$MODDIR" "$@" \
		>"$out.log" 2>&1
}
t0=$(now_ms)
build "$T/edge.img"
rc=$?
build_s=$((($(now_ms) - t0) / 1000))
if [ $rc -ne 0 ] || [ ! -s "$T/edge.img" ]; then
	why="vessel image build exited $rc"
	[ $rc -eq 124 ] && why="vessel image build hung (600 s)"
	fail build "$why"
	indent "$T/edge.img.log"
	for t in reproducible boot ping restart persistence shutdown numbers; do
		fail $t "not run: no image"
	done
	finish
fi
ok build
if build "$T/edge2.img" && cmp "$T/edge.img" "$T/edge2.img" >"$T/cmp.log" 2>&1; then
	ok reproducible
else
	fail reproducible "a second build differs: $(head -n1 "$T/cmp.log")"
fi
rm -f "$T/edge2.img"
initrd_size='' kernel_size=''
if build "$T/ki" --format kernel+initrd && [ -s "$T/ki/initrd.img" ]; then
	initrd_size=$(stat -c %s "$T/ki/initrd.img")
	kernel_size=$(stat -c %s "$T/ki/vmlinuz")
else
	note "vessel image build --format kernel+initrd failed: $(tail -n1 "$T/ki.log")"
fi
rm -rf "$T/ki"

# ---- QEMU and its console -------------------------------------------------
ensure_cmds qemu-system-x86:qemu-system-x86_64 socat:socat
[ -f "$OVMF" ] || ensure_cmds ovmf:"$OVMF"
exec 8>"${NESTED_LOCK:-/tmp/vessel-nested-host.lock}" 9>/tmp/vessel-appliance-qemu.lock
if ! flock -n 9 || ! flock -n 8; then
	note "waiting for another QEMU run to end (locks)"
	if ! flock -w 3600 9 || ! flock -w 3600 8; then
		fail boot "another QEMU held the locks for an hour"
		finish
	fi
fi

LOG=$T/console.log # every console line as "MS TEXT", MS since this boot's QEMU start
: >"$LOG"
qstart_us=0
# stamp: reads the console, writes its lines to $LOG with their time.
stamp() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line//$'\r'/}
		printf '%d %s\n' $(((${EPOCHREALTIME/./} - qstart_us) / 1000)) "$line" >>"$LOG"
	done
}
# boot_qemu N: starts QEMU on the image; its console is appended to $LOG
# after a "0 ==== boot N" line.
boot_qemu() {
	rm -f "$T/serial.in" "$T/serial.out" "$T/qmp.sock"
	mkfifo "$T/serial.in" "$T/serial.out"
	echo "0 ==== boot $1" >>"$LOG"
	qstart_us=${EPOCHREALTIME/./}
	stamp <"$T/serial.out" 2>/dev/null &
	rpid=$!
	qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC,+svm -M q35 -smp 2 -m 3G \
		-bios "$OVMF" -drive "file=$T/edge.img,format=raw,if=virtio" -nographic \
		-nic none -monitor none -chardev "pipe,id=ser0,path=$T/serial" -serial chardev:ser0 \
		-qmp "unix:$T/qmp.sock,server=on,wait=off" </dev/null >"$T/qemu.$1.log" 2>&1 &
	qpid=$!
	exec 7<>"$T/serial.in"
}
# qemu_gone SECS: waits up to SECS for QEMU to exit by itself.
qemu_gone() {
	local end=$((SECONDS + $1))
	while kill -0 "$qpid" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.5
	done
	wait "$qpid" 2>/dev/null
	qrc=$?
	wait "$rpid" 2>/dev/null
	exec 7>&-
	return 0
}
kill_qemu() {
	kill "$qpid" 2>/dev/null
	qemu_gone 10 || { kill -9 "$qpid" 2>/dev/null; qemu_gone 10; }
}
lines() { wc -l <"$LOG"; }
# reader_done SECS: waits up to SECS for the console reader (stamp) to end.
reader_done() {
	local end=$((SECONDS + $1))
	while [ -n "${rpid:-}" ] && kill -0 "$rpid" 2>/dev/null && [ $SECONDS -lt "$end" ]; do
		sleep 0.2
	done
}
# wait_line REGEX FROM SECS: the first console line after line FROM whose
# text matches REGEX (extended), within SECS: sets MATCH (the text) and
# MATCH_MS (its time). Returns 1 on a hang, 2 if QEMU exited; $WHY says so.
wait_line() {
	local re=$1 from=$2 end=$((SECONDS + $3)) l
	while :; do
		l=$(tail -n +"$((from + 1))" "$LOG" | grep -m1 -E "^[0-9]+ ($re)")
		if [ -n "$l" ]; then
			MATCH_MS=${l%% *} MATCH=${l#* }
			return 0
		fi
		if ! kill -0 "$qpid" 2>/dev/null; then
			# Its last lines may still be on their way to $LOG: the
			# reader ends at the pipe's end, then one more look.
			reader_done 5
			l=$(tail -n +"$((from + 1))" "$LOG" | grep -m1 -E "^[0-9]+ ($re)")
			if [ -n "$l" ]; then
				MATCH_MS=${l%% *} MATCH=${l#* }
				return 0
			fi
			WHY="QEMU exited before the console showed /$re/"
			return 2
		fi
		if [ $SECONDS -ge $end ]; then
			WHY="hang: the console did not show /$re/ within $3 s"
			return 1
		fi
		sleep 0.5
	done
}
# send TEXT: types TEXT and Enter on the console.
send() { printf '%s\n' "$1" >&7; }
# sh_run SECS CMD: runs CMD in the appliance's rescue shell; sets OUT to its
# output lines (without times and kernel messages) and returns CMD's status
# (or 254 with $WHY on a hang, 255 if QEMU exited).
ncmd=0
sh_run() {
	local secs=$1 cmd=$2 from
	ncmd=$((ncmd + 1))
	from=$(lines)
	# The markers are split by '' so that the echo of the typed line
	# does not match them.
	send "echo @@B''$ncmd; $cmd; echo @@E''$ncmd \$?"
	wait_line "@@E$ncmd [0-9]+" "$from" "$secs"
	case $? in
	1)
		printf '\003' >&7 # Ctrl-C: the next command must not queue behind it
		return 254
		;;
	2) return 255 ;;
	esac
	OUT=$(tail -n +"$((from + 1))" "$LOG" | sed 's/^[0-9]* //' |
		sed -n "/^@@B$ncmd\$/,/^@@E$ncmd [0-9]*\$/p" | sed '1d;$d' |
		grep -av '^\[ *[0-9]*\.[0-9]*\] ')
	return "${MATCH#"@@E$ncmd "}"
}
# shell_ready SECS: the rescue shell answers.
shell_ready() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		send ''
		sh_run 5 "echo shell-ok"
		case $? in 0) return 0 ;; 255) return 1 ;; esac
	done
	WHY="hang: no rescue shell on the console within $1 s"
	return 1
}
# seen NAME REGEX SECS: in the appliance, polls `vessel logs NAME` until
# REGEX shows (every 0.5 s, up to SECS); then the console shows
# "@@SEEN NAME" at about the time it did. Sets SEEN_MS.
seen() {
	local from rc
	from=$(lines)
	sh_run $(($3 + 60)) "e=\$((\$(date +%s) + $3)); until vessel logs $1 2>/dev/null | grep -q '$2'; do [ \$(date +%s) -ge \$e ] && break; sleep 0.5; done; vessel logs $1 2>/dev/null | grep -q '$2' && echo @@SEEN''-$1"
	rc=$?
	[ $rc -ge 254 ] && return 1
	WHY="$1's log did not show '$2' within $3 s"
	tail -n +"$((from + 1))" "$LOG" | grep -qE "^[0-9]+ @@SEEN-$1\$" || return 1
	wait_line "@@SEEN-$1" "$from" 1
	SEEN_MS=$MATCH_MS
}
secs() { printf '%d.%d s' $(($1 / 1000)) $((($1 % 1000) / 100)); }
# hang_note TEST: prints why the last wait failed, and the console's tail.
hang_note() {
	fail "$1" "$WHY"
	indent "$LOG" 25
}

# A kernel stuck on an int3 it already patched away (QEMU's multi-threaded
# TCG ran a stale translation of the patched code: seen once, the CPU
# looping in asm_exc_int3 until the 600 s ran out) or another lockup or
# oops of the appliance's kernel under TCG.
TCG_STUCK='asm_exc_int3|soft lockup|rcu_.*detected stall|Oops: |Kernel panic'
# wait_boot REGEX FROM SECS: wait_line, but returns 3 ($WHY says so) as
# soon as the console shows TCG_STUCK.
wait_boot() {
	local end=$((SECONDS + $3)) rc l
	while :; do
		wait_line "$1" "$2" 10
		rc=$?
		[ $rc = 1 ] || return $rc
		l=$(tail -n +"$(($2 + 1))" "$LOG" | grep -m1 -aE "$TCG_STUCK")
		if [ -n "$l" ]; then
			WHY="the appliance's kernel is stuck under TCG: ${l#* }"
			return 3
		fi
		if [ $SECONDS -ge $end ]; then
			WHY="hang: the console did not show /$1/ within $3 s"
			return 1
		fi
	done
}

# ---- boot 1 ---------------------------------------------------------------
# Once more on a fresh QEMU if the kernel got stuck under TCG; a fault of
# vessel's shows again on the second boot and fails it.
for attempt in 1 2; do
	[ $attempt = 1 ] || { note "boot 1 again: $WHY"; kill_qemu; }
	boot_qemu 1
	b1=$(lines)
	booted=1 brc=0
	for step in "EFI stub|Linux version" "vessel-init: " "vessel-init: up: "; do
		wait_boot "$step" "$b1" 600 || { brc=$? booted=0; break; }
		case $step in
		"EFI stub"*) fw_ms=$MATCH_MS ;;
		"vessel-init: ") init_ms=$MATCH_MS ;;
		*) up_ms=$MATCH_MS up_line=$MATCH ;;
		esac
	done
	[ $brc = 3 ] || break
done
# The kernel's own line, if it shows, is when /init started; else the
# "kernel" part ends at vessel-init's first line.
if [ $booted = 1 ] && wait_line "Run /init as init process" "$b1" 1; then init_ms=$MATCH_MS; fi
if [ $booted = 0 ] || ! shell_ready 120; then
	hang_note boot
	for t in ping restart persistence shutdown numbers; do fail $t "not run: the appliance did not boot"; done
	kill_qemu
	finish
fi
why=''
case $up_line in *"up: 3 guests"*) ;; *) why="expected 'vessel-init: up: 3 guests', got '$up_line'" ;; esac
for g in vm1 ct1 crashy; do
	wait_line "vessel-init: started $g" "$b1" 1 || why="${why:+$why; }no 'vessel-init: started $g'"
done
vm1_ms='' ct1_ms='' ping_ms=''
if seen vm1 VM1-READY 400; then vm1_ms=$SEEN_MS; else why="${why:+$why; }vm1 never printed VM1-READY"; fi
sh_run 30 "vessel logs vm1 | grep -a VM1-"
token1=$(printf '%s\n' "$OUT" | sed -n 's/^VM1-TOKEN \([0-9a-f]\{32\}\)$/\1/p' | head -n1)
[ -n "$token1" ] || why="${why:+$why; }vm1 printed no VM1-TOKEN"
if seen ct1 CT1-START 120; then ct1_ms=$SEEN_MS; else why="${why:+$why; }ct1 never printed CT1-START"; fi
sh_run 30 "vessel ps"
ps1=$OUT
for g in vm1 ct1; do
	printf '%s\n' "$ps1" | grep -qE "^$g +(vm|container) +running" || why="${why:+$why; }vessel ps: $g is not running"
done
if [ -z "$why" ]; then
	ok boot
else
	fail boot "$why"
	printf '%s\n' "$ps1" | sed 's/^/    | /'
	sh_run 30 "vessel logs vm1 | tail -n 15; vessel logs ct1 | tail -n 5"
	printf '%s\n' "$OUT" | sed 's/^/    | /'
fi

if seen ct1 CT1-PING-OK 300; then
	ping_ms=$SEEN_MS
	ok ping
else
	sh_run 30 "vessel logs ct1 | tail -n 5; ip -br addr; bridge link"
	fail ping "ct1 never printed CT1-PING-OK: $WHY"
	printf '%s\n' "$OUT" | sed 's/^/    | /'
fi

if seen crashy "restart: gave up" 60; then
	sh_run 30 "vessel logs crashy"
	starts=$(printf '%s\n' "$OUT" | grep -c '^CRASHY-START')
	gave=$(printf '%s\n' "$OUT" | grep -a 'gave up after 2 restarts')
	if [ "$starts" -eq 3 ] && [ -n "$gave" ]; then
		ok restart
	else
		fail restart "expected 3 runs and 'gave up after 2 restarts', got $starts runs"
		printf '%s\n' "$OUT" | sed 's/^/    | /'
	fi
else
	sh_run 30 "vessel ps; vessel logs crashy"
	fail restart "crashy's log never said it gave up"
	printf '%s\n' "$OUT" | sed 's/^/    | /'
fi

# The same guests started again on the running appliance, for comparison.
up_again=''
if [ -n "$vm1_ms" ] && sh_run 300 "vessel down /etc/vessel/guests >/dev/null; echo @@UP''-START; vessel up /etc/vessel/guests >/dev/null"; then
	wait_line "@@UP-START" "$((b1))" 1 && t_up=$MATCH_MS
	if seen vm1 VM1-READY 400 && v=$SEEN_MS && seen ct1 CT1-PING-OK 300; then
		up_again="vm1 VM1-READY +$(secs $((v - t_up))), ct1 CT1-PING-OK +$(secs $((SEEN_MS - t_up)))"
	fi
fi

# ---- persistence: vessel host reboot, then the same token ------------------
pers_why='' WHY=''
r=$(lines)
send "vessel host reboot"
if ! wait_line "vessel-init: up: " "$r" 900; then
	pers_why="after vessel host reboot: $WHY"
elif ! shell_ready 120 || ! seen vm1 VM1-TOKEN 400; then
	pers_why="after the reboot: ${WHY:-vm1 printed no VM1-TOKEN}"
else
	sh_run 30 "vessel logs vm1 | grep -a VM1-"
	token2=$(printf '%s\n' "$OUT" | sed -n 's/^VM1-TOKEN \([0-9a-f]\{32\}\)$/\1/p' | head -n1)
	if [ -z "$token1" ] || [ "$token1" != "$token2" ]; then
		pers_why="token before the reboot '$token1', after '$token2'"
	fi
fi
if [ -z "$pers_why" ]; then
	ok persistence
	wait_line "vessel-init: data: " "$r" 1 && note "after vessel host reboot: $MATCH"
else
	fail persistence "$pers_why"
	indent "$LOG" 25
fi

# ---- graceful shutdown: the power button ------------------------------------
shut_why=''
if kill -0 "$qpid" 2>/dev/null && [ -z "$pers_why" ] && seen ct1 CT1-PING-OK 300; then
	# Follow the guests' logs on the console: their shutdown lines show
	# there in the order they happen. In their own sessions, writing to
	# /dev/console: they outlive the rescue shell if the shutdown ends it.
	sh_run 10 "for g in vm1 ct1; do setsid vessel logs -f \$g </dev/null >/dev/console 2>&1 & done"
	sleep 2
	s=$(lines)
	if ! printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"system_powerdown"}' |
		run_timeout 20 socat -t 3 - "UNIX-CONNECT:$T/qmp.sock" >"$T/qmp.log" 2>&1 ||
		[ "$(grep -c '"return": {}' "$T/qmp.log")" -ne 2 ]; then
		shut_why="QMP system_powerdown failed: $(tr '\n' ' ' <"$T/qmp.log")"
	elif ! wait_line "vessel-init: powering off" "$s" 300; then
		shut_why=$WHY
	elif ! qemu_gone 120; then
		shut_why="hang: QEMU did not exit within 120 s of 'vessel-init: powering off'"
	elif [ "$qrc" -ne 0 ]; then
		shut_why="QEMU exited with status $qrc"
	else
		pb=$(tail -n +"$((s + 1))" "$LOG" | grep -n -m1 'vessel-init: power button' | cut -d: -f1)
		c=$(tail -n +"$((s + 1))" "$LOG" | grep -n -m1 'ct1: SIGTERM, shutting down' | cut -d: -f1)
		v=$(tail -n +"$((s + 1))" "$LOG" | grep -n -m1 'vm1: power button, shutting down' | cut -d: -f1)
		off=$(tail -n +"$((s + 1))" "$LOG" | grep -n -m1 'vessel-init: powering off' | cut -d: -f1)
		if [ -z "$pb" ]; then
			shut_why="no 'vessel-init: power button' line"
		elif [ -z "$c" ] || [ -z "$v" ]; then
			shut_why="missing guest shutdown lines (ct1 SIGTERM: ${c:-none}, vm1 power button: ${v:-none})"
		elif ! [ "$pb" -lt "$c" ] || ! [ "$c" -lt "$v" ] || ! [ "$v" -lt "$off" ]; then
			shut_why="wrong order: power button line $pb, ct1 $c, vm1 $v, powering off $off (want increasing)"
		fi
	fi
else
	shut_why="not run: the appliance is not up with its guests after the reboot"
fi
kill -0 "$qpid" 2>/dev/null && kill_qemu
# The next boot: the data partition was unmounted cleanly.
if [ -z "$shut_why" ]; then
	boot_qemu 3
	b3=$(lines)
	if ! wait_line "vessel-init: data: (clean|not cleanly unmounted)" "$b3" 600; then
		shut_why="next boot: $WHY"
	elif [ "$MATCH" != "vessel-init: data: clean" ]; then
		shut_why="next boot: '$MATCH'"
	fi
	kill_qemu
fi
if [ -z "$shut_why" ]; then ok shutdown; else
	fail shutdown "$shut_why"
	indent "$LOG" 30
fi

# ---- numbers -----------------------------------------------------------------
img=$(stat -c %s "$T/edge.img")
mib() { if [ -n "$1" ]; then awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; else echo '?'; fi; }
echo "numbers: image $(mib "$img") ($(du -k "$T/edge.img" | cut -f1) KiB allocated), built in $build_s s;" \
	"kernel+initrd: vmlinuz $(mib "$kernel_size"), initramfs $(mib "$initrd_size")"
if [ -n "${fw_ms:-}" ] && [ -n "${up_ms:-}" ] && [ -n "$vm1_ms" ] && [ -n "$ping_ms" ]; then
	echo "numbers: boot 1, from QEMU's start: firmware $(secs "$fw_ms"), kernel to /init $(secs "$init_ms")" \
		"(+$(secs $((init_ms - fw_ms)))), vessel-init up $(secs "$up_ms") (+$(secs $((up_ms - init_ms))))"
	echo "numbers: guests, from QEMU's start: vm1 VM1-READY $(secs "$vm1_ms") (+$(secs $((vm1_ms - up_ms))) after up)," \
		"ct1 CT1-START $(secs "$ct1_ms") (+$(secs $((ct1_ms - up_ms)))), CT1-PING-OK $(secs "$ping_ms") (+$(secs $((ping_ms - up_ms))))"
	echo "numbers: vessel up again on the running appliance: ${up_again:-not measured}"
	# The goal of #14: the bootable part (the EFI partition's unified kernel
	# image, i.e. the kernel and the initramfs) at most 40 MiB.
	if [ -n "$kernel_size" ] && [ $((kernel_size + initrd_size)) -gt $((40 << 20)) ]; then
		note "kernel + initramfs $(mib $((kernel_size + initrd_size))): over the 40 MiB goal"
	fi
	ok numbers
else
	fail numbers "not every marker was reached"
fi
finish

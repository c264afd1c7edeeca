#!/usr/bin/env bash
# nested-host.sh SCRIPT [ARGS...]
# Boots a nested KVM host (QEMU TCG, -cpu EPYC,+svm, q35, 2 vCPUs, 6 GiB) on
# Debian's kernel, whose init loads kvm-amd, mounts this machine's / read-only
# and the repo writable over 9p (same absolute paths), chroots into it and
# runs SCRIPT ARGS there (in the current directory, with VESSEL, CI and
# VESSEL_*/TEST_*/NESTED_*/SMOKE_* variables passed through). Its serial
# console is streamed to stdout. Exits with SCRIPT's status, or:
#   125  harness failure: the nested host hung (during boot, or while SCRIPT
#        ran: its heartbeat stopped) or died without reporting SCRIPT's
#        status. A hang, a panic or a silent death of the host boots it again, up
#        to NESTED_BOOTS (3) attempts in all while NESTED_TIMEOUT allows; SCRIPT then runs
#        again (run-all.sh skips the tests that already passed).
#   124  harness failure: NESTED_TIMEOUT (default 1500 s) ran out
# A host whose kernel reports itself stuck (a task blocked for over
# NESTED_HUNG_TASK s, default 60, or a soft lockup) counts as hung. SCRIPT
# may ask for a fresh host by exiting with 75 (NESTED_EXIT_FRESH): it is
# booted again like a hung one, and SCRIPT runs again; the environment
# variable NESTED_FRESH_LEFT tells SCRIPT how many more hosts it may ask for
# (0 on the last attempt, where 75 is passed on as SCRIPT's status).
# Env: NESTED_TIMEOUT (s), NESTED_BOOT_TIMEOUT (s until SCRIPT starts, 120),
#      NESTED_STALL_TIMEOUT (s without a heartbeat from the running host,
#      75), NESTED_MEM (MiB, 6144), NESTED_SMP (2), NESTED_LOG (console log
#      path), NESTED_LOCK_WAIT (s to wait for another nested host, 3600),
#      NESTED_BOOTS (boots in all, 3), NESTED_NPT (kvm-amd's nested paging,
#      0: off), NESTED_TSC (reliable: the host's kernel trusts its TSC,
#      tsc=reliable; check: its own check decides), NESTED_TCG_THREAD (multi: a host thread per vCPU;
#      single: one for all), NESTED_KVM_HOLD (1: a VM held open for the host's life,
#      kvm-hold.py; 0: none), NESTED_CMDLINE (added to the host
#      kernel's cmdline; MODULE.PARAM=VALUE words reach its modules), NESTED_STATS (a file: "lock-wait
#      SECONDS", then one line per boot, "boot ATTEMPT SECONDS_TO_SCRIPT|-
#      OUTCOME", are appended; for tests/run-all.sh).
# A QEMU monitor listens on $CACHE/nested/run.*/monitor.sock.
# One nested host at a time on the machine, whichever clone it comes from:
# two of them on two cores crawl and hang, so a second caller waits for the
# first (flock on $NESTED_LOCK, default /tmp/vessel-nested-host.lock) before
# its own time limits start.
set -euo pipefail
# shellcheck source=tests/harness/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || {
	echo "usage: $0 SCRIPT [ARGS...]" >&2
	exit 2
}
script=$(readlink -f "$1")
shift
[ -f "$script" ] || die "no such script: $script"
case $script in
"$REPO"/* | "$CACHE"/*) ;;   # shared at the same path, even under /tmp
/tmp/* | /var/tmp/* | /run/* | /proc/* | /sys/* | /dev/*)
	die "$script is not visible inside the nested host (tmpfs there); put it under $REPO or /"
	;;
esac

total_timeout=${NESTED_TIMEOUT:-1500}
boot_timeout=${NESTED_BOOT_TIMEOUT:-120}
stall_timeout=${NESTED_STALL_TIMEOUT:-75}
mem=${NESTED_MEM:-6144}
smp=${NESTED_SMP:-2}

ensure_cmds qemu-system-x86:qemu-system-x86_64
# QEMU before 8 (Debian 12's 7.2) runs stale code after live patching
# under multi-threaded TCG (README.md, "Stale code after live patching").
qemu_version=$(qemu-system-x86_64 --version | sed -n '1s/^QEMU emulator version \([0-9.]*\).*/\1/p')
eval "$("$HARNESS_DIR/fetch-kernel.sh")"

lock=${NESTED_LOCK:-/tmp/vessel-nested-host.lock}
exec 8>>"$lock"
lock_t0=$(date +%s)
if ! flock -n 8; then
	log "another nested host is running; waiting for it (NESTED_LOCK_WAIT ${NESTED_LOCK_WAIT:-3600} s)"
	flock -w "${NESTED_LOCK_WAIT:-3600}" 8 || harness_fail "another nested host held $lock too long"
fi
[ -z "${NESTED_STATS:-}" ] || echo "lock-wait $(($(date +%s) - lock_t0))" >>"$NESTED_STATS"

# The nested host's initramfs, rebuilt when its inputs change.
# bridge, veth and tun: the container and virtio-net tests build networks;
# vhost and vhost_net: QEMU's vhost=on (bench/net.sh).
mods="virtio_pci 9pnet_virtio 9p irqbypass kvm ccp kvm-amd bridge veth tun vhost vhost_net"
key=$(cat "$HARNESS_DIR/nested-init.sh" "$HARNESS_DIR/mkinitramfs.sh" |
	{ cat; echo "$mods $KVERSION"; } | sha256sum | cut -c1-16)
initrd=$CACHE/nested/host-initramfs-$key.cpio.gz
if [ ! -s "$initrd" ]; then
	mkdir -p "$CACHE/nested"
	rm -f "$CACHE"/nested/host-initramfs-*.cpio.gz
	run_timeout 300 "$HARNESS_DIR/mkinitramfs.sh" "$initrd" \
		--init "$HARNESS_DIR/nested-init.sh" --modules "$mods" --moddir "$MODDIR" ||
		die "building the nested host initramfs failed"
fi

# The run directory (on the repo share): command file in, status out.
mkdir -p "$CACHE/nested"
rundir=$(mktemp -d "$CACHE/nested/run.XXXXXX")
qpid='' tpid=''
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; fi
	if [ -n "$tpid" ]; then kill "$tpid" 2>/dev/null || true; fi
	rm -rf "$rundir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# write_cmd FRESH_LEFT: the command file, for one boot of the host.
write_cmd() {
	echo "# generated by nested-host.sh"
	echo "export NESTED_FRESH_LEFT=$1"
	# The emulator under the host, for tests that depend on it (test_38).
	printf 'export NESTED_QEMU_VERSION=%q NESTED_TCG_THREAD=%q\n' "$qemu_version" "$tcg_thread"
	while IFS='=' read -r name _; do
		case $name in
		VESSEL | VESSEL_* | CI | TEST_* | NESTED_* | SMOKE_* | BENCH_*)
			printf 'export %s=%q\n' "$name" "${!name}"
			;;
		esac
	done < <(env)
	printf 'cd %q || exit 125\n' "$PWD"
	# One VM held for the host's life: the tests' VMs coming and going
	# then flip no static key (see kvm-hold.py); detached, so that no
	# script waits for it.
	[ "${NESTED_KVM_HOLD:-1}" = 0 ] ||
		printf '(setsid python3 %q </dev/null &)\n' "$HARNESS_DIR/kvm-hold.py"
	printf 'exec %q' "$script"
	[ $# -gt 1 ] || { echo; return; }
	shift
	printf ' %q' "$@"
	echo
}

cmdline="console=ttyS0 quiet panic=-1 mitigations=off"
cmdline+=" systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all"
cmdline+=" vessel.run=$rundir vessel.repo=$REPO vessel.hung_task=${NESTED_HUNG_TASK:-60}"
# kvm-amd without nested paging by default: QEMU 7.2's TCG emulation of NPT
# corrupts the host (kernel panics in its page-fault path, hangs, guests
# that triple-fault); with shadow paging a stress loop of manage-test:vm
# ran clean (see tests/harness/README.md). NESTED_NPT=1 turns it back on.
cmdline+=" kvm_amd.npt=${NESTED_NPT:-0}"
# The host's TSC is this machine's (TCG answers RDTSC from it): constant,
# one counter for both vCPUs. Yet the kernel's boot-time check finds the
# emulated vCPUs' TSCs "unsynchronized" and falls back to HPET, where every
# clock read is an emulated MMIO access and KVM has no master clock (guests
# get a kvm-clock without its stable bit). tsc=reliable skips that check:
# the host runs on its TSC and its guests' kvm-clock is stable, as on
# hardware (tests/harness/README.md, "The host's clock"). NESTED_TSC=check
# leaves the kernel's check in place.
case ${NESTED_TSC:-reliable} in
reliable) cmdline+=" tsc=reliable" ;;
check) ;;
*) die "NESTED_TSC must be reliable or check, not '$NESTED_TSC'" ;;
esac
# multi: one host thread per vCPU (the default); single: QEMU runs the
# vCPUs in turn on one thread (slower; for experiments, see README.md).
tcg_thread=${NESTED_TCG_THREAD:-multi}
case $tcg_thread in multi | single) ;; *) die "NESTED_TCG_THREAD must be multi or single, not '$tcg_thread'" ;; esac
[ -z "${NESTED_CMDLINE:-}" ] || cmdline+=" $NESTED_CMDLINE"
if [ "$(id -u)" -eq 0 ]; then sm=passthrough; else sm=none; fi
virtfs=(-virtfs "local,path=/,mount_tag=hostroot,security_model=$sm,readonly=on,multidevs=remap"
	-virtfs "local,path=$REPO,mount_tag=repo,security_model=$sm,multidevs=remap")
case $CACHE/ in
"$REPO"/*) ;;
*)
	virtfs+=(-virtfs "local,path=$CACHE,mount_tag=cache,security_model=$sm,multidevs=remap")
	cmdline+=" vessel.cache=$CACHE"
	;;
esac

log=${NESTED_LOG:-$rundir/console.log}
deadline=$(($(date +%s) + total_timeout))

# boot_once: boots the nested host and runs SCRIPT in it until QEMU exits.
# Returns 0 when SCRIPT ran and the host powered off (or at least SCRIPT
# started and QEMU exited), 2 if the host hung during boot, 3 if QEMU exited
# before SCRIPT started, 4 if the host hung while SCRIPT ran (no heartbeat
# for $stall_timeout s, or its kernel reported a stuck task or CPU), 5 when
# NESTED_TIMEOUT ran out, 6 when its kernel panicked, 7 when SCRIPT asked
# for a fresh host (exit 75). QEMU's status: $qrc.
boot_once() {
	: >"$log"
	rm -f "$rundir/status" "$rundir/heartbeat"
	local left=$((deadline - $(date +%s)))
	[ "$left" -gt 0 ] || return 5
	timeout -k 10 "$left" qemu-system-x86_64 \
		-accel "tcg,thread=$tcg_thread" -cpu EPYC,+svm -M q35 -smp "$smp" -m "$mem" \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$log" -monitor "unix:$rundir/monitor.sock,server=on,wait=off" \
		-kernel "$KERNEL" -initrd "$initrd" -append "$cmdline" \
		"${virtfs[@]}" </dev/null 2> >(grep -v "TCG doesn't support requested feature" >&2) &
	qpid=$!
	tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null | sed -u 's/\r$//' &
	tpid=$!
	local t0 now started='' why=0 beat
	t0=$(date +%s)
	while kill -0 "$qpid" 2>/dev/null; do
		now=$(date +%s)
		if [ -z "$started" ]; then
			if grep -q VESSEL-NESTED-START "$log"; then
				started=$now up_s=$((now - t0))
				log "nested host up after $((now - t0)) s; running $(basename "$script")"
			elif [ $((now - t0)) -ge "$boot_timeout" ]; then
				log "nested host did not start the script within $boot_timeout s"
				why=2
				break
			fi
		else
			# The init writes $rundir/heartbeat every 10 s while it lives.
			beat=$(stat -c %Y "$rundir/heartbeat" 2>/dev/null || echo "$started")
			[ "$beat" -ge "$started" ] || beat=$started
			if [ $((now - beat)) -ge "$stall_timeout" ]; then
				log "nested host stopped responding: no heartbeat for $((now - beat)) s"
				why=4
				break
			fi
			# Its kernel says it is stuck (seen: vessel's threads blocked
			# in KVM for minutes, then soft lockups; nothing recovers).
			# Its own lines only: a guest's kernel messages that a test
			# prints are indented.
			# A panic of its own kernel does not always end QEMU
			# (seen: the panicking CPU spins): stop it at once.
			if grep -aq -E '^\[ *[0-9]+\.[0-9]+\] Kernel panic' "$log"; then
				log "the nested host's kernel panicked"
				why=6
				break
			fi
			if stuck=$(grep -a -m1 -E '^\[ *[0-9]+\.[0-9]+\] .*(blocked for more than [0-9]+ seconds|soft lockup - CPU)' "$log"); then
				log "the nested host's kernel reports itself stuck: ${stuck#*] }"
				why=4
				break
			fi
		fi
		sleep 1
	done
	if [ "$why" -ne 0 ]; then
		monitor_dump
		kill "$qpid" 2>/dev/null || true
	fi
	wait "$qpid" && qrc=0 || qrc=$?
	wait "$tpid" 2>/dev/null || true
	qpid='' tpid=''
	[ "$why" -eq 0 ] || return "$why"
	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then return 5; fi
	[ -n "$started" ] || grep -q VESSEL-NESTED-START "$log" || return 3
	# The nested host's own kernel died (seen under load: a stack overflow
	# in its page-fault path while running KVM on TCG's SVM model). That is
	# the harness failing, not SCRIPT: no status was written.
	if [ ! -s "$rundir/status" ] && ! grep -aq 'VESSEL-NESTED-EXIT=' "$log"; then
		grep -aq 'Kernel panic' "$log" && return 6
		# QEMU ended with no word from the host's kernel (seen in CI:
		# 115 s into a run, no panic, no status; a triple fault of
		# the host ends QEMU silently under -no-reboot): the harness
		# failed, and the host is booted again like a hung one.
		log "the nested host ended (QEMU status $qrc) without a word from its kernel or the script's status"
		return 8
	fi
	if [ "$(cat "$rundir/status" 2>/dev/null)" = "$NESTED_EXIT_FRESH" ] &&
		[ "$attempt" -lt "$boots" ]; then
		return 7
	fi
	return 0
}

# monitor_dump: the hung host's vCPU state, for the log (needs python3):
# each vCPU's registers, and, named with the symbols its init saved
# ($rundir/kallsyms), its RIP and the kernel addresses found in the top of
# its stack (a rough backtrace: stale return addresses show up too).
monitor_dump() {
	command -v python3 >/dev/null 2>&1 || return 0
	log "vCPU state of the hung nested host:"
	run_timeout 30 python3 - "$rundir/monitor.sock" "$rundir/kallsyms" "$smp" <<-'PY' >&2 || true
		import bisect, re, socket, sys, time
		s = socket.socket(socket.AF_UNIX)
		s.settimeout(5)
		s.connect(sys.argv[1])
		def ask(cmd, wait=0.5):
		    s.sendall(cmd.encode() + b"\n")
		    time.sleep(wait)
		    out = b""
		    try:
		        s.settimeout(0.5)
		        while True:
		            d = s.recv(65536)
		            if not d:
		                break
		            out += d
		    except OSError:
		        pass
		    return out.decode(errors="replace")
		syms = []
		try:
		    for line in open(sys.argv[2]):
		        p = line.split()
		        if len(p) >= 3:
		            syms.append((int(p[0], 16), p[2] + (" " + p[3] if len(p) > 3 else "")))
		except OSError:
		    pass
		syms.sort()
		addrs = [a for a, _ in syms]
		def name(a):
		    i = bisect.bisect_right(addrs, a) - 1
		    if i < 0 or a - addrs[i] > 0x10000:
		        return None
		    return "%s+0x%x" % (syms[i][1], a - addrs[i])
		ask("")
		for cpu in range(int(sys.argv[3])):
		    ask("cpu %d" % cpu, 0.2)
		    regs = ask("info registers", 1)
		    for line in regs.splitlines():
		        if line.startswith(("RIP", "RAX", "RSP", "CR0")) or " RSP=" in line:
		            print("    CPU%d %s" % (cpu, line.strip()))
		    m = re.search(r"RIP=([0-9a-f]+)", regs)
		    if m and syms:
		        print("    CPU%d at %s" % (cpu, name(int(m.group(1), 16)) or "?"))
		    if m:
		        # What memory holds around RIP: a vCPU looping on an int3 that
		        # memory no longer holds runs stale code (see README.md).
		        x = ask("x /16xb 0x%x" % (int(m.group(1), 16) - 8), 1)
		        b = re.findall(r"\b0x([0-9a-f]{2})\b", x.split("\n", 1)[-1])
		        if len(b) == 16:
		            print("    CPU%d code: %s <%s> %s" % (cpu, " ".join(b[:8]), b[8], " ".join(b[9:])))
		        else:
		            print("    CPU%d code: (monitor said: %s)" % (cpu, " ".join(x.split())[:120]))
		    if not syms:
		        continue
		    seen = []
		    # HMP's x takes $esp, and shows the whole of RSP in 64-bit mode
		    for w in re.findall(r"0x([0-9a-f]{16})\b", ask("x /64gx $esp", 1)):
		        v = int(w, 16)
		        n = name(v) if v >= 0xffffffff80000000 else None
		        if n and n not in seen:
		            seen.append(n)
		    if seen:
		        print("    CPU%d stack: %s" % (cpu, " < ".join(seen[:20])))
		if not syms:
		    print("    (no symbols: the host had not saved its kallsyms)")
	PY
}

qrc=0 brc=0 up_s=-
boots=${NESTED_BOOTS:-3}
for attempt in $(seq "$boots"); do
	log "booting the nested KVM host (attempt $attempt; kernel $KVERSION; QEMU $qemu_version, tcg thread=$tcg_thread)"
	write_cmd $((boots - attempt)) "$@" >"$rundir/cmd.sh"
	up_s=-
	boot_once && brc=0 || brc=$?
	if [ -n "${NESTED_STATS:-}" ]; then
		outcome=(ok ? boot-hang exited-early hung timeout host-panic fresh-host-asked host-died)
		echo "boot $attempt $up_s ${outcome[$brc]:-status-$brc}" >>"$NESTED_STATS"
	fi
	case $brc in
	0 | 5) break ;;
	2) log "harness: nested host hung during boot" ;;
	3) log "harness: nested host exited (QEMU status $qrc) before starting the script" ;;
	4) log "harness: nested host hung while running the script" ;;
	6) log "harness: the nested host's kernel panicked while running the script" ;;
	7) log "harness: the script asked for a fresh nested host (status $NESTED_EXIT_FRESH)" ;;
	8) log "harness: the nested host died while running the script" ;;
	esac
	if [ $((deadline - $(date +%s))) -lt $((boot_timeout + 60)) ]; then break; fi
	[ "$attempt" -eq "$boots" ] || log "harness: booting it again (attempt $((attempt + 1)) of $boots, within NESTED_TIMEOUT)"
done

case $brc in
0 | 7) ;;
2) harness_fail "nested host hung during boot" ;;
3) harness_fail "nested host exited (QEMU status $qrc) before starting the script" ;;
4) harness_fail "nested host hung while running the script (no heartbeat for $stall_timeout s)" ;;
6) harness_fail "the nested host's kernel panicked while running the script" ;;
8) harness_fail "the nested host died (QEMU status $qrc) while running the script" ;;
5)
	log "harness failure: nested host timed out after $total_timeout s (NESTED_TIMEOUT)"
	exit "$H_EXIT_TIMEOUT"
	;;
esac
if [ -s "$rundir/status" ]; then
	rc=$(cat "$rundir/status")
elif rc=$(grep -ao 'VESSEL-NESTED-EXIT=[0-9]*' "$log" | tail -n1 | cut -d= -f2) && [ -n "$rc" ]; then
	:
else
	harness_fail "nested host stopped (QEMU status $qrc) without reporting the script's status (kernel panic?)"
fi
log "nested script exited with status $rc"
exit "$rc"

# shellcheck shell=bash
# Helpers for tests/integration/test_*.sh. Source it first thing:
#   . "$(dirname "$0")/lib.sh"
# Env (set by run-all.sh): VESSEL (the binary), GUEST_KERNEL, GUEST_INITRD,
# GUEST_TOKEN (the token in the initrd's /etc/vessel-token), VM_TIMEOUT
# (seconds one VM may run, default 150), GUEST_CMDLINE (base kernel cmdline).
#
# Each test gets a scratch dir $T holding vmlinuz and initrd.cpio.gz (links)
# and its YAML configs, so configs name the kernel and initrd relative to
# the YAML file. The guest's console (vessel's stdout, \r removed) is in
# $T/console; vessel's stderr in $T/stderr; its exit status in $RC.
set -euo pipefail

INTEG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$INTEG_DIR/../harness/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
: "${GUEST_KERNEL:?GUEST_KERNEL must be set (run via run-all.sh)}"
: "${GUEST_INITRD:?GUEST_INITRD must be set (run via run-all.sh)}"
: "${GUEST_TOKEN:?GUEST_TOKEN must be set (run via run-all.sh)}"
VM_TIMEOUT=${VM_TIMEOUT:-150}
GUEST_CMDLINE=${GUEST_CMDLINE:-console=ttyS0 quiet}
TEST_NAME=$(basename "$0" .sh)

T=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX")
ln -s "$GUEST_KERNEL" "$T/vmlinuz"
ln -s "$GUEST_INITRD" "$T/initrd.cpio.gz"
RC=
VM_PID=
VM_IN=
CFG=
_t_cleanup() {
	if [ -n "$VM_PID" ] && kill -0 "$VM_PID" 2>/dev/null; then
		disown "$VM_PID" 2>/dev/null || true
		kill -KILL "$VM_PID" 2>/dev/null || true
	fi
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap _t_cleanup EXIT
# run-all.sh's limit for the whole test (SIGTERM, then SIGKILL 10 s
# later): say so with the console and stderr, as a wait that ran out does.
trap 'trap - TERM; _t_threads; fail "no result within the test'"'"'s limit of ${TEST_LIMIT:-?}s"' TERM

# _t_threads: at a stall, what vessel's threads are doing (vCPUs halted in
# kvm_vcpu_block, running, or a thread stuck on a lock), while it runs.
_t_threads() {
	[ -n "${VM_PID:-}" ] && kill -0 "$VM_PID" 2>/dev/null || return 0
	info "vessel's threads (pid/tid name state cpu wchan stack):"
	proc_threads "$VM_PID" 2>&1 | sed 's/^/#   /' || true
	# and a second of what KVM does for them, the guest's RIPs named from
	# the kernel package's System.map (run-all.sh)
	timeout 30 python3 "$INTEG_DIR/../harness/kvm-trace.py" \
		"$(vmm_pids "$VM_PID" | paste -sd,)" 1 \
		"${GUEST_SYSTEM_MAP:-}" 2>&1 | sed 's/^/#   /' || true
	# and each vCPU's registers and stack (vessel's SIGUSR2 dump; a
	# stand-in VMM such as qemu-vessel.sh is left alone)
	if [ "$(cat "/proc/$VM_PID/comm" 2>/dev/null)" = vessel ] &&
		kill -USR2 "$VM_PID" 2>/dev/null; then
		sleep 3
		info "vessel's vCPUs (SIGUSR2):"
		sed -n '/state on request/,$p' "$T/stderr" | sed 's/^/#   /'
	fi
}

# info MSG: a progress line in the test's log.
info() { printf '# %s\n' "$*"; }

# fail MSG: reports MSG with the VM's config, status, console and stderr,
# then ends the test.
fail() {
	echo "FAIL: $*"
	if [ -n "$CFG" ] && [ -f "$CFG" ]; then
		echo "--- config $CFG:"
		cat "$CFG"
	fi
	[ -z "$RC" ] || echo "--- vessel exit status: $RC"
	if [ -f "$T/stdout" ]; then
		_t_console
		echo "--- guest console (last 40 lines):"
		tail -n 40 "$T/console"
	fi
	if [ -s "$T/stderr" ]; then
		echo "--- vessel stderr (last 40 lines):"
		tail -n 40 "$T/stderr"
	fi
	exit 1
}

# write_config NAME: writes the YAML read from stdin to $T/NAME.yaml and
# makes it the current config ($CFG).
write_config() {
	CFG=$T/$1.yaml
	cat >"$CFG"
}

# guest_config NAME VCPUS MEMORY MODE [ON_REBOOT [CMDLINE_EXTRA]]: a config
# for the test guest; MODE is its vessel_test= (poweroff|reboot|shell|halt).
# The cmdline carries vessel_cmdline_token=$T_CMDTOKEN.
T_CMDTOKEN=$(random_token)
guest_config() {
	local name=$1 vcpus=$2 mem=$3 mode=$4 on_reboot=${5:-exit} extra=${6:-}
	write_config "$name" <<-YAML
		name: $TEST_NAME-$name
		vcpus: $vcpus
		memory: $mem
		kernel: vmlinuz
		initrd: initrd.cpio.gz
		cmdline: "$GUEST_CMDLINE vessel_test=$mode vessel_cmdline_token=$T_CMDTOKEN${extra:+ $extra}"
		on_reboot: $on_reboot
	YAML
}

_t_console() { tr -d '\r' <"$T/stdout" >"$T/console" 2>/dev/null || : >"$T/console"; }

# vm_run [CFG] [TIMEOUT]: runs `vessel run CFG` to completion with stdin
# from /dev/null; sets RC (124: it did not finish within TIMEOUT).
vm_run() {
	local cfg=${1:-$CFG} secs=${2:-$VM_TIMEOUT} t0
	CFG=$cfg
	info "vessel run $cfg (timeout ${secs}s)"
	t0=$(now_ms)
	RC=0
	timeout -k 5 "$secs" "$VESSEL" run "$cfg" </dev/null >"$T/stdout" 2>"$T/stderr" || RC=$?
	_t_console
	info "vessel exited with status $RC after $(($(now_ms) - t0)) ms"
	if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then fail "vessel hung: still running after ${secs}s"; fi
}

# vm_start [CFG]: starts `vessel run CFG` in the background, its stdin a
# FIFO written with vm_send; VM_PID is its pid.
vm_start() {
	local cfg=${1:-$CFG}
	CFG=$cfg
	RC=
	rm -f "$T/stdin"
	mkfifo "$T/stdin"
	info "vessel run $cfg (background, stdin from a FIFO)"
	"$VESSEL" run "$cfg" <"$T/stdin" >"$T/stdout" 2>"$T/stderr" &
	VM_PID=$!
	exec {VM_IN}>"$T/stdin"
	VM_T0=$(now_ms)
}

# vm_send TEXT: writes TEXT and a newline to the VM's stdin.
vm_send() {
	info "stdin <- $1"
	printf '%s\n' "$1" >&"$VM_IN" || fail "writing to vessel's stdin failed"
}

# console_excerpt REGEX MAX [FILE]: FILE's lines (default the console) from
# the first that matches REGEX (awk), at most MAX. awk reads to the end:
# `sed | head` dies of SIGPIPE under pipefail (status 141, before fail
# could say anything: seen in CI28).
console_excerpt() {
	awk -v re="$1" -v max="$2" '$0 ~ re { on = 1 } on && n++ < max' "${3:-$T/console}"
}

# guest_panic_check WHAT: fails at once if the guest's kernel panicked
# (without panic= it would hang until a wait runs out), with its Oops.
guest_panic_check() {
	grep -q 'Kernel panic - not syncing' "$T/console" 2>/dev/null || return 0
	echo "--- guest console from its first Oops/BUG (at most 60 lines):"
	console_excerpt 'Oops|BUG:|general protection|Kernel panic' 60
	fail "the guest's kernel panicked (waiting for $1)"
}

# wait_output REGEX [TIMEOUT] [COUNT]: waits until COUNT (default 1)
# console lines match REGEX (grep -E). Fails if vessel exits first or time
# runs out.
wait_output() { _t_wait "$1" "${2:-$VM_TIMEOUT}" "${3:-1}" '' 0; }

# wait_progress REGEX PROGRESS STALL [TIMEOUT]: wait_output for a long
# run that prints lines matching PROGRESS as it goes (a soak): it also
# fails, as a stall, once STALL seconds pass without a new one, instead
# of waiting out the whole TIMEOUT.
wait_progress() { _t_wait "$1" "${4:-$VM_TIMEOUT}" 1 "$2" "$3"; }

_t_wait() {
	local re=$1 secs=$2 want=$3 prog_re=$4 stall=$5 end n now p seen=0 last
	end=$(($(date +%s) + secs))
	last=$(date +%s)
	while :; do
		_t_console
		n=$(grep -cE -- "$re" "$T/console" || true)
		[ "$n" -lt "$want" ] || {
			info "seen '$re' x$n after $(($(now_ms) - VM_T0)) ms"
			return 0
		}
		if ! kill -0 "$VM_PID" 2>/dev/null; then
			RC=0
			wait "$VM_PID" || RC=$?
			VM_PID=
			_t_console
			fail "vessel exited (status $RC) before printing '$re' ($n of $want seen)"
		fi
		guest_panic_check "'$re'"
		now=$(date +%s)
		if [ -n "$prog_re" ]; then
			p=$(grep -cE -- "$prog_re" "$T/console" || true)
			[ "$p" -eq "$seen" ] || { seen=$p last=$now; }
			if [ $((now - last)) -ge "$stall" ]; then
				_t_threads
				fail "no '$re', and no new '$prog_re' line for ${stall}s ($seen so far): the guest stalled"
			fi
		fi
		if [ "$now" -ge "$end" ]; then
			_t_threads
			fail "no '$re' ($n of $want seen) within ${secs}s"
		fi
		sleep 0.2
	done
}

# vm_wait [TIMEOUT]: waits for the background vessel to exit; sets RC.
# Fails (as a hang) if it is still running after TIMEOUT.
vm_wait() {
	local secs=${1:-$VM_TIMEOUT} end
	end=$(($(date +%s) + secs))
	while kill -0 "$VM_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$end" ]; then
			kill -KILL "$VM_PID" 2>/dev/null || true
			wait "$VM_PID" 2>/dev/null || true
			VM_PID=
			fail "vessel hung: still running ${secs}s after it should have exited"
		fi
		sleep 0.2
	done
	RC=0
	wait "$VM_PID" || RC=$?
	VM_PID=
	[ -z "$VM_IN" ] || exec {VM_IN}>&-
	VM_IN=
	_t_console
	info "vessel exited with status $RC after $(($(now_ms) - VM_T0)) ms"
}

# shell_poweroff: ends a shell guest's shell (vessel_test=shell), whose
# init then powers off: vessel must exit 0 after a whole boot.
shell_poweroff() {
	vm_send "exit"
	wait_output '^VESSEL-SHELL-EXITED$' 60
	vm_wait 60
	expect_booted
	expect_rc 0 "guest powered off after the shell exited"
}

# vm_signal SIG: sends SIG to the background vessel.
vm_signal() {
	info "sending SIG$1 to vessel"
	kill -s "$1" "$VM_PID" 2>/dev/null || fail "vessel was not running when sent SIG$1"
}

# expect_rc N [WHAT]: vessel's exit status must be N.
expect_rc() {
	[ "$RC" = "$1" ] || fail "vessel exit status $RC, want $1${2:+ ($2)}"
}

# expect_output REGEX: some console line matches REGEX (grep -E).
expect_output() {
	grep -qE -- "$1" "$T/console" || fail "console has no line matching '$1'"
}

# expect_no_output REGEX: no console line matches REGEX.
expect_no_output() {
	! grep -qE -- "$1" "$T/console" || fail "console has a line matching '$1': $(grep -m1 -E -- "$1" "$T/console")"
}

# count_output REGEX: prints how many console lines match REGEX.
count_output() { grep -cE -- "$1" "$T/console" || true; }

# guest_value KEY: the value of the first KEY=VALUE line the guest printed.
guest_value() { grep -m1 -E "^$1=" "$T/console" | cut -d= -f2- || true; }

# expect_booted: the guest's init ran and saw the initrd and cmdline tokens.
expect_booted() {
	expect_output '^VESSEL-USERSPACE-OK$'
	info "guest reached userspace at uptime $(guest_value VESSEL-UPTIME)s"
	[ "$(guest_value VESSEL-INITRD-TOKEN)" = "$GUEST_TOKEN" ] ||
		fail "initrd token: guest printed '$(guest_value VESSEL-INITRD-TOKEN)', want '$GUEST_TOKEN'"
	guest_value VESSEL-CMDLINE | grep -q "vessel_cmdline_token=$T_CMDTOKEN" ||
		fail "guest /proc/cmdline '$(guest_value VESSEL-CMDLINE)' lacks vessel_cmdline_token=$T_CMDTOKEN"
}

# pass: ends the test successfully.
pass() {
	info "pass"
	exit 0
}

# ---------------------------------------------------------------------------
# virtio tests (test_1*): a second guest initramfs (virtio-init.sh as /init,
# virtio modules, mke2fs), a per-test guest script, and host-side helpers.

# at_exit CMD: runs CMD (eval) when the test ends, before the scratch dir
# goes: after a still-running vessel is killed and reaped (so its files are
# closed), in reverse order of registration. Failures are ignored.
_T_AT_EXIT=()
at_exit() {
	_T_AT_EXIT+=("$1")
	trap '_t_at_exit; _t_cleanup' EXIT
}
_t_at_exit() {
	local i
	if [ -n "$VM_PID" ] && kill -0 "$VM_PID" 2>/dev/null; then
		kill -KILL "$VM_PID" 2>/dev/null || true
		wait "$VM_PID" 2>/dev/null || true
		VM_PID=
	fi
	for ((i = ${#_T_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_T_AT_EXIT[i]}" || true
	done
}

# vfail MSG: fail, showing the guest's whole test output first (fail shows
# only the console's last lines, which are mostly the kernel log).
vfail() {
	if [ -f "$T/stdout" ]; then
		_t_console
		echo "--- guest console from VESSEL-USERSPACE-OK (at most 150 lines):"
		console_excerpt '^VESSEL-USERSPACE-OK$' 150
	fi
	fail "$@"
}

# virtio_initrd: sets VIRTIO_INITRD_PATH to the virtio guests' initramfs:
# $VIRTIO_INITRD if set (e.g. by run-all.sh), else the one cached in
# $CACHE/virtio-guest (built on first use; see virtio_initrd_cached).
virtio_initrd() {
	if [ -n "${VIRTIO_INITRD:-}" ]; then
		[ -s "$VIRTIO_INITRD" ] || fail "VIRTIO_INITRD=$VIRTIO_INITRD is missing or empty"
		VIRTIO_INITRD_PATH=$VIRTIO_INITRD
		return 0
	fi
	VIRTIO_INITRD_PATH=$(virtio_initrd_cached) || fail "building the virtio guest initramfs failed"
	[ -s "$VIRTIO_INITRD_PATH" ] || fail "no virtio guest initramfs at '$VIRTIO_INITRD_PATH'"
}

# virtio_guest NAME: the guest's test script (sh, read from stdin) as /test.sh
# in $T/NAME-initrd.cpio.gz: the virtio initramfs plus a second cpio archive
# with the script and $GUEST_TOKEN as /etc/vessel-token (the kernel unpacks
# concatenated archives in order, later files replacing earlier ones).
# virtio-init.sh runs the script with set -e after loading the modules; see
# there for its helpers.
virtio_guest() {
	local name=$1 d=$T/$1-script
	virtio_initrd
	mkdir -p "$d/etc"
	cat >"$d/test.sh"
	printf '%s\n' "$GUEST_TOKEN" >"$d/etc/vessel-token"
	(cd "$d" && printf '%s\n' etc/vessel-token test.sh | cpio -o -H newc -R 0:0 --quiet) |
		gzip -n >"$T/$name-script.cpio.gz"
	cat "$VIRTIO_INITRD_PATH" "$T/$name-script.cpio.gz" >"$T/$name-initrd.cpio.gz"
}

# virtio_config NAME [MEMORY] [VCPUS]: the config $T/NAME.yaml (made $CFG)
# for the virtio guest NAME (virtio_guest NAME): vessel's guest name is NAME
# (disk serials are "vessel-NAME-INDEX"); the device keys (disks:, nets:,
# rng:) are read from stdin and appended.
virtio_config() {
	local name=$1 mem=${2:-512M} vcpus=${3:-1}
	CFG=$T/$name.yaml
	{
		cat <<-YAML
			name: $name
			vcpus: $vcpus
			memory: $mem
			kernel: vmlinuz
			initrd: $name-initrd.cpio.gz
			cmdline: "$GUEST_CMDLINE vessel_cmdline_token=$T_CMDTOKEN"
			on_reboot: exit
		YAML
		cat
	} >"$CFG"
}

# expect_guest_ok: the guest's test script ran to its end with status 0.
expect_guest_ok() {
	local rc
	rc=$(guest_value VESSEL-TEST-EXIT)
	[ -n "$rc" ] || vfail "the guest's test script did not finish (no VESSEL-TEST-EXIT)"
	[ "$rc" = 0 ] || vfail "the guest's test script failed with status $rc (set -e: the command after its last VT- line)"
	expect_no_output '^VESSEL-INSMOD-FAILED='
}

# vm_fd_flags FILE: the open flags (octal, from /proc/PID/fdinfo) of each
# descriptor the running vessel has on FILE, one per line.
vm_fd_flags() {
	local want fd
	want=$(readlink -f "$1")
	for fd in /proc/"$VM_PID"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$want" ] || continue
		awk '/^flags:/ { print $2 }' "/proc/$VM_PID/fdinfo/${fd##*/}" 2>/dev/null || true
	done
}

# expect_direct_rw FILE: vessel holds FILE open, and every descriptor it
# has on it is O_DIRECT (cache: none) and O_RDWR.
expect_direct_rw() {
	local f flags
	flags=$(vm_fd_flags "$1")
	[ -n "$flags" ] || vfail "vessel has no descriptor open on $1"
	for f in $flags; do
		info "vessel's descriptor on $1: flags $f"
		((8#$f & 8#40000)) || vfail "cache: none on ext4, yet vessel's descriptor on $1 lacks O_DIRECT (flags $f)"
		(((8#$f & 3) == 2)) || vfail "$1 is not open O_RDWR (flags $f)"
	done
}

# image_bytes FILE OFFSET LEN: LEN bytes of FILE from byte OFFSET.
image_bytes() {
	dd if="$1" bs=4096 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

# host_ext4_dir DIR [MIB]: mounts a fresh ext4 filesystem (MIB, default 512,
# a sparse DIR.img on a loop device) at DIR, unmounted when the test ends.
# For disk images vessel can open with O_DIRECT (cache: none): the tmpfs the
# tests' scratch dirs are on has no O_DIRECT, so vessel falls back to the
# page cache there. Needs root.
host_ext4_dir() {
	local dir=$1 mib=${2:-512}
	[ "$(id -u)" -eq 0 ] || fail "host_ext4_dir needs root (a loop mount)"
	host_modprobe loop crc32c_generic ext4 || fail "cannot load loop/ext4 on this host"
	mkdir -p "$dir"
	truncate -s "${mib}M" "$dir.img"
	mkfs.ext4 -q -F "$dir.img" || fail "mkfs.ext4 $dir.img failed"
	mount -o loop "$dir.img" "$dir" || fail "mounting $dir.img (loop) failed"
	at_exit "umount $(printf %q "$dir") 2>/dev/null || umount -l $(printf %q "$dir")"
}

# jget FILE KEY [disk]: a field of a backup's --json (of its first disk).
jget() {
	python3 -c 'import json,sys
o = json.load(open(sys.argv[1]))
o = o["disks"][0] if len(sys.argv) > 3 else o
print(o.get(sys.argv[2], ""))' "$@"
}

# skip WHY: ends the test without running it, because something it needs is
# missing here (not a failure of vessel): prints "SKIP: WHY" and exits 0.
# run-all.sh reports it as `SKIP NAME: WHY` and counts it skipped.
skip() {
	echo "SKIP: $*"
	exit 0
}

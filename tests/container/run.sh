#!/usr/bin/env bash
# Container tests: `VESSEL=/abs/vessel tests/container/run.sh [NAME...]`.
#
# Builds a busybox-static rootfs (plus tests/container/hog.c, compiled
# with gcc -static) in a temporary directory, runs containers through
# `$VESSEL run FILE.yaml` and checks what they actually did: their output,
# exit status, files, cgroup files, links, mounts. Networking runs in a
# network namespace of its own (with a bridge br-vtest, 10.199.0.1/24),
# so nothing touches the host's network. With NAME arguments only those
# tests run. Prints ok/FAIL/SKIP per test and "N passed, N failed".
#
# The systemd test boots a Debian bookworm rootfs (debootstrap, built once
# by debian-rootfs.sh and cached: see there) with systemd as PID 1 in a
# userns container. Env: SYSTEMD_BOOT_TIMEOUT (s to multi-user.target,
# 120), SYSTEMD_STOP_LIMIT (s from SIGTERM until PID 1 is gone, 10: the
# grace period), DEBIAN_ROOTFS_TIMEOUT (s for debootstrap, 900).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
VESSEL=${VESSEL:-$HERE/../../vessel}
TIMEOUT=${TIMEOUT:-120}
# shellcheck source=tests/lib/report.sh
. "$(dirname "$0")/../lib/report.sh"

ALL_TESTS="pid1 hostname host_files_invisible readonly_root exit_status
signal_status exec_error env_and_user bind_mount memory_limit pids_limit
cpu_limit caps no_devices dev_nodes seccomp masked_paths userns tarball tarball_userns veth
cleanup_normal cleanup_sigkill sigterm_forwarded sigterm_grace pty
already_running error_missing_rootfs error_not_root error_no_bridge
error_no_controller error_setup_killed userns_security userns_poweroff
userns_cgroup systemd"
ALL_TESTS="$ALL_TESTS ro_locked_userns ro_submount dev_cgroup seccomp_allowlist cve_proc_exe cve_mount_symlink cve_fd_leak"
ALL_TESTS="$ALL_TESTS tar_device_nodes tar_setuid_host tar_malformed"
# The tests whose outcome depends on the cgroup hierarchy (limits, device
# rules, cgroup removal, cgroup namespaces, systemd as PID 1): with
# TEST_SET=cgroup only these run (run-all.sh's container-test:v2, the
# suite again under cgroup v2; TEST_V2_SET=all there runs every test).
CGROUP_TESTS="pid1 memory_limit pids_limit cpu_limit no_devices cleanup_normal
cleanup_sigkill already_running error_no_controller error_setup_killed
userns_poweroff userns_cgroup systemd dev_cgroup dev_nodes"

if [ "$(id -u)" -ne 0 ]; then
	for t in $ALL_TESTS; do skipped "$t" "needs root"; done
	finish
fi
if [ ! -x "$VESSEL" ]; then
	echo "FAIL setup: VESSEL=$VESSEL is not executable"
	fail=1
	finish
fi
BUSYBOX=$(command -v busybox)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q static; then
	BUSYBOX=/bin/busybox
fi

T=$(mktemp -d /tmp/vessel-ct.XXXXXX)
chmod 755 "$T"
# Tarball rootfs are unpacked under $VESSEL_CACHE_DIR (default
# /var/cache/vessel), which must be writable (it is not in the nested
# test host, whose / is read-only).
if [ -z "${VESSEL_CACHE_DIR:-}" ] &&
   ! { mkdir -p /var/cache/vessel 2>/dev/null && [ -w /var/cache/vessel ]; }; then
	export VESSEL_CACHE_DIR=$T/cache
fi
CACHE=${VESSEL_CACHE_DIR:-/var/cache/vessel}
BG_PIDS=""
cleanup() {
	local p
	for p in $BG_PIDS; do kill -9 "$p" 2>/dev/null; done
	{ wait; } 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- fixtures ---------------------------------------------------------

build_rootfs() {
	local r=$T/rootfs a
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/mnt"
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	gcc -static -O2 -o "$r/bin/hog" "$HERE/hog.c" -pthread || return 1
	gcc -static -O2 -o "$r/bin/probe" "$HERE/probe.c" || return 1
	echo "root:x:0:0:root:/root:/bin/sh" > "$r/etc/passwd"
	echo "root:x:0:" > "$r/etc/group"
	tar -C "$r" -czf "$T/rootfs.tar.gz" . || return 1
}

if ! build_rootfs >"$T/setup.log" 2>&1; then
	bad setup "could not build the test rootfs" "$T/setup.log"
	finish
fi

# cfg NAME: write $T/NAME.yaml from stdin, after kind/name/rootfs lines
# (rootfs: rootfs unless the body sets its own).
cfg() {
	local body
	body=$(cat)
	{
		echo "kind: container"
		echo "name: $1"
		echo "$body" | grep -q '^rootfs:' || echo "rootfs: rootfs"
		echo "$body"
	} > "$T/$1.yaml"
}

# run NAME [launcher...]: run $T/NAME.yaml; output in $T/NAME.out, status
# in $rc.
run() {
	local name=$1
	shift
	timeout -k 5 "$TIMEOUT" "$@" "$VESSEL" run "$T/$name.yaml" \
		</dev/null >"$T/$name.out" 2>&1
	rc=$?
}

# start NAME [launcher...]: run in the background; pid in $vpid.
start() {
	local name=$1
	shift
	"$@" "$VESSEL" run "$T/$name.yaml" </dev/null >"$T/$name.out" 2>&1 &
	vpid=$!
	BG_PIDS="$BG_PIDS $vpid"
}

out() { cat "$T/$1.out"; }
has() { grep -q -- "$2" "$T/$1.out"; }

cg_dirs() { find /sys/fs/cgroup -type d -path "*/vessel/$1" 2>/dev/null; }

# The cgroup directory of container $1 that has file $2.
cg_file() {
	local d
	for d in $(cg_dirs "$1"); do
		[ -e "$d/$2" ] && { echo "$d/$2"; return 0; }
	done
	return 1
}

# Wait (up to $2 s) until container $1 has processes in its cgroup.
wait_running() {
	local _ f
	for _ in $(seq $((${2:-10} * 10))); do
		# (cgroup files have no size: read them)
		f=$(cg_file "$1" cgroup.procs) && [ -n "$(cat "$f")" ] && return 0
		sleep 0.1
	done
	return 1
}

# Everything container $1 could have left behind, one line per item.
leftovers() {
	local d
	for d in $(cg_dirs "$1"); do echo "cgroup $d"; done
	grep -F "$T" /proc/self/mountinfo | sed 's/^/mount /'
	for d in "$CACHE"/rootfs/*."$1".*; do
		[ -e "$d" ] && echo "unpacked $d"
	done
	if [ -n "$NS_PID" ]; then
		"${IN_NS[@]}" ip -o link show | awk -F': ' '$2 ~ /^vs/ { print "link " $2 }'
	fi
	ip -o link show | awk -F': ' '$2 ~ /^vs[0-9]+n[0-9]/ { print "host link " $2 }'
}

# Poll until container $1 left nothing behind, up to $2 seconds.
wait_clean() {
	local _
	for _ in $(seq $((${2:-10} * 10))); do
		[ -z "$(leftovers "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

# The test network lives in a network namespace held by a sleeping
# process (no `ip netns`: no bind mounts needed, and it vanishes with the
# process). Returns 2 if this kernel cannot make bridges or veths (the
# nested test host's kernel has them as modules it does not load).
NS_PID=""
NET_OK=""
netns_setup() {
	[ -n "$NET_OK" ] && return "$NET_OK"
	unshare --net sleep 100000 &
	NS_PID=$!
	BG_PIDS="$BG_PIDS $NS_PID"
	IN_NS=(nsenter -t "$NS_PID" -n)
	# Wait until the holder is in its own network namespace.
	while [ "$(readlink "/proc/$NS_PID/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
		sleep 0.05
	done
	if ! "${IN_NS[@]}" ip link add vtest-probe type veth peer name vtest-probe1 2>/dev/null ||
	   ! "${IN_NS[@]}" ip link add br-vtest type bridge 2>/dev/null; then
		NET_OK=2
		return 2
	fi
	"${IN_NS[@]}" ip link del vtest-probe
	"${IN_NS[@]}" ip link set lo up &&
	"${IN_NS[@]}" ip addr add 10.199.0.1/24 dev br-vtest &&
	"${IN_NS[@]}" ip link set br-vtest up
	NET_OK=$?
	return "$NET_OK"
}
IN_NS=(false)

# The kernel refuses new user namespaces to a chrooted process (as in the
# nested test host, whose init chroots into the shared /).
no_userns() { ! unshare --user true 2>/dev/null; }

# ---- tests ------------------------------------------------------------

t_pid1() {
	cfg pid1 <<<"command: [/bin/sh, -c, 'echo pid=\$\$']"
	run pid1
	[ "$rc" = 0 ] && [ "$(out pid1)" = "pid=1" ] && ok pid1 ||
		bad pid1 "rc=$rc" "$T/pid1.out"
}

t_hostname() {
	cfg hostname <<'EOF'
hostname: box-one
command: [/bin/hostname]
EOF
	run hostname
	[ "$rc" = 0 ] && [ "$(out hostname)" = "box-one" ] && ok hostname ||
		bad hostname "rc=$rc" "$T/hostname.out"
}

t_host_files_invisible() {
	local tok=token-$$-$RANDOM
	echo secret > "$T/$tok"
	cfg host_files_invisible <<EOF
command: [/bin/sh, -c, 'test -e $T/$tok && echo visible; find / -xdev -name $tok; ls /; exit 0']
EOF
	run host_files_invisible
	if [ "$rc" = 0 ] && ! has host_files_invisible "$tok" &&
	   ! has host_files_invisible visible && has host_files_invisible '^bin$'; then
		ok host_files_invisible
	else
		bad host_files_invisible "rc=$rc" "$T/host_files_invisible.out"
	fi
}

t_readonly_root() {
	cfg readonly_root <<'EOF'
readonly: true
command: [/bin/sh, -c, 'touch /bin/x && echo root-writable; echo a > /run/a && echo run-writable; echo b > /dev/shm/b && echo shm-writable']
EOF
	run readonly_root
	if [ "$rc" = 0 ] && has readonly_root "Read-only file system" &&
	   ! has readonly_root root-writable && has readonly_root run-writable &&
	   has readonly_root shm-writable && [ ! -e "$T/rootfs/bin/x" ]; then
		ok readonly_root
	else
		bad readonly_root "rc=$rc" "$T/readonly_root.out"
	fi
}

t_exit_status() {
	cfg exit_status <<<"command: [/bin/sh, -c, 'exit 7']"
	run exit_status
	[ "$rc" = 7 ] && ok exit_status || bad exit_status "rc=$rc, want 7" \
		"$T/exit_status.out"
}

t_signal_status() {
	cfg signal_status <<<"command: [/bin/hog, crash]"
	run signal_status
	[ "$rc" = 139 ] && ok signal_status ||
		bad signal_status "rc=$rc, want 139 (128+SIGSEGV)" "$T/signal_status.out"
}

t_exec_error() {
	cfg exec_error <<<"command: [/no/such/program]"
	run exec_error
	[ "$rc" = 1 ] && has exec_error "executing '/no/such/program'" &&
		has exec_error "No such file" && ok exec_error ||
		bad exec_error "rc=$rc" "$T/exec_error.out"
}

t_env_and_user() {
	cfg env_and_user <<'EOF'
user: "1000:1001"
env:
  FOO: bar baz
command: [/bin/sh, -c, 'echo "id=$(id -u):$(id -g) foo=$FOO path=$PATH host=$HOSTNAME home=$HOME"; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status']
EOF
	run env_and_user
	if [ "$rc" = 0 ] && has env_and_user "id=1000:1001 foo=bar baz path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin host=env_and_user home=/$" &&
	   has env_and_user "CapEff:.*0000000000000000" &&
	   has env_and_user "NoNewPrivs:.*1"; then
		ok env_and_user
	else
		bad env_and_user "rc=$rc" "$T/env_and_user.out"
	fi
}

t_bind_mount() {
	mkdir -p "$T/share"
	echo shared-data > "$T/share/file"
	cfg bind_mount <<'EOF'
mounts:
  - source: share
    target: /data
    readonly: true
command: [/bin/sh, -c, 'cat /data/file; touch /data/new && echo data-writable; exit 0']
EOF
	run bind_mount
	if [ "$rc" = 0 ] && has bind_mount shared-data &&
	   has bind_mount "Read-only file system" && [ ! -e "$T/share/new" ]; then
		ok bind_mount
	else
		bad bind_mount "rc=$rc" "$T/bind_mount.out"
	fi
}

t_memory_limit() {
	cfg memory_limit <<'EOF'
memory: 48M
command: [/bin/sh, -c, '/bin/hog alloc 16 && exec /bin/hog alloc 400']
EOF
	run memory_limit
	if [ "$rc" = 137 ] && has memory_limit "allocated 16" &&
	   ! has memory_limit "allocated 400"; then
		ok memory_limit
	else
		bad memory_limit "rc=$rc, want 137 (OOM kill)" "$T/memory_limit.out"
	fi
}

t_pids_limit() {
	cfg pids_limit <<'EOF'
pids: 20
command: [/bin/hog, fork, '1000']
EOF
	run pids_limit
	# PID 1 itself counts: at most 19 children.
	if [ "$rc" = 0 ] && has pids_limit "forked 19 errno=EAGAIN"; then
		ok pids_limit
	else
		bad pids_limit "rc=$rc, want 19 forks then EAGAIN" "$T/pids_limit.out"
	fi
}

# Cumulative CPU time, in ns, from a cgroup v2 cpu.stat or a v1
# cpuacct.usage file.
cpu_ns() {
	case $1 in
	*/cpu.stat) awk '/^usage_usec/ { printf "%.0f\n", $2 * 1000 }' "$1" ;;
	*) cat "$1" ;;
	esac
}

# CPU use (in % of one CPU) recorded in usage file $1 over $2 seconds.
cpu_pct() {
	local u1 u2 t1 t2
	u1=$(cpu_ns "$1") t1=$(date +%s%N)
	sleep "$2"
	u2=$(cpu_ns "$1") t2=$(date +%s%N)
	[ -n "$u1" ] && [ -n "$u2" ] || { echo -1; return; }
	awk -v a="$u1" -v b="$u2" -v s="$t1" -v e="$t2" \
		'BEGIN { printf "%d", (b - a) * 100 / (e - s) }'
}

t_cpu_limit() {
	local f setting usage p1 p2 low ref
	cfg cpu_limit <<'EOF'
cpus: 0.5
command: [/bin/hog, spin, '120', '2']
EOF
	start cpu_limit
	if ! wait_running cpu_limit; then
		bad cpu_limit "container did not start" "$T/cpu_limit.out"
		wait "$vpid"
		return
	fi
	if f=$(cg_file cpu_limit cpu.max); then
		setting=$(cat "$f")
		usage=$(cg_file cpu_limit cpu.stat)
	else
		setting="$(cat "$(cg_file cpu_limit cpu.cfs_quota_us)") $(cat "$(cg_file cpu_limit cpu.cfs_period_us)")"
		usage=$(cg_file cpu_limit cpuacct.usage)
	fi
	# Two windows: a loaded machine may starve one of them, but the
	# limit must hold in both.
	p1=$(cpu_pct "$usage" 2.5)
	p2=$(cpu_pct "$usage" 2.5)
	kill -TERM "$vpid"	# forwarded; hog has a handler and exits 0
	wait "$vpid"
	rc=$?
	echo "    cpu_limit: $setting; cgroup usage of 2 busy threads: $p1%, $p2% of one CPU; the container's own view: $(grep cpu "$T/cpu_limit.out" | head -1)"
	low=30
	if [ "$p1" -lt "$low" ] && [ "$p2" -lt "$low" ]; then
		# A busy machine: what do 2 unlimited busy threads get now?
		ref=$("$T/rootfs/bin/hog" spin 2.5 2 | awk '{ print $2 }')
		[ "$ref" -lt 50 ] && low=$((ref * 6 / 10))
		echo "    cpu_limit: the machine is busy; unlimited, the same threads get $ref% now, so at least $low% is expected"
	fi
	if [ "$rc" = 0 ] && [ "$setting" = "50000 100000" ] &&
	   [ "$p1" -ge 0 ] && [ "$p2" -ge 0 ] && [ "$p1" -le 65 ] && [ "$p2" -le 65 ] &&
	   { [ "$p1" -ge "$low" ] || [ "$p2" -ge "$low" ]; }; then
		ok cpu_limit
	else
		bad cpu_limit "rc=$rc setting='$setting' usage=$p1%,$p2% (want $low-65%)" "$T/cpu_limit.out"
	fi
}

t_caps() {
	cfg caps <<<"command: [/bin/sh, -c, 'grep -E \"^Cap(Eff|Bnd|Prm)\" /proc/self/status']"
	run caps
	if [ "$rc" = 0 ] && [ "$(grep -c 00000000a00425fb "$T/caps.out")" = 3 ]; then
		ok caps
	else
		bad caps "rc=$rc, want CapEff/CapPrm/CapBnd 00000000a00425fb" "$T/caps.out"
	fi
}

# The container's root cannot make a device node and reach a host device
# through it (no CAP_MKNOD: vessel has no device cgroup), neither in the
# /dev tmpfs nor in the rootfs; FIFOs still work.
t_no_devices() {
	local tok
	tok=vessel-devprobe-$RANDOM$RANDOM
	cfg no_devices <<<"command: [/bin/sh, -c, 'mknod /dev/k c 1 11 && echo $tok >/dev/k; echo dev-rc=\$?; mknod /tmp/k c 1 11 && echo $tok >/tmp/k; echo tmp-rc=\$?; mknod /dev/shm/f p && echo fifo-ok']
readonly: false"
	run no_devices
	if dmesg 2>/dev/null | grep -q "$tok"; then
		bad no_devices "the container wrote to the host's /dev/kmsg through a node it made" "$T/no_devices.out"
	elif has no_devices "dev-rc=0" || has no_devices "tmp-rc=0"; then
		bad no_devices "mknod of a character device succeeded" "$T/no_devices.out"
	elif ! has no_devices "Operation not permitted"; then
		bad no_devices "mknod did not fail with EPERM" "$T/no_devices.out"
	elif ! has no_devices "fifo-ok"; then
		bad no_devices "mknod of a FIFO failed" "$T/no_devices.out"
	else
		ok no_devices
	fi
}

# /dev's nodes work, and are nodes of their own (mknod, not bind mounts of
# the host's: a mount each costs the start and the teardown, issue #15)
# outside a user namespace; inside one they are binds and work too.
t_dev_nodes() {
	local why='' probe
	probe='for d in null zero full random urandom tty; do set -- $(ls -l /dev/$d); echo "node $d $1 $5$6"; done
echo x >/dev/null && echo null-write-ok
[ "$(head -c 7 /dev/zero | wc -c)" = 7 ] && echo zero-ok
[ "$(head -c 9 /dev/urandom | wc -c)" = 9 ] && echo urandom-ok
echo x >/dev/full || echo full-enospc
echo "dev-mounts $(grep -cE " /dev/(null|zero|full|random|urandom|tty) " /proc/self/mountinfo)"'
	printf '%s\n' "$probe" >"$T/rootfs/devprobe.sh"
	cfg dev_nodes <<<"command: [/bin/sh, /devprobe.sh]"
	run dev_nodes
	for want in "node null crw-rw-rw- 1,3" "node zero crw-rw-rw- 1,5" "node full crw-rw-rw- 1,7" \
		"node random crw-rw-rw- 1,8" "node urandom crw-rw-rw- 1,9" "node tty crw-rw-rw- 5,0" \
		null-write-ok zero-ok urandom-ok full-enospc "dev-mounts 0"; do
		has dev_nodes "^$want\$" || why="$why missing '$want';"
	done
	[ "$rc" = 0 ] || why="$why exit $rc;"
	if ! no_userns; then
		rm -rf "$T/drootfs"
		cp -a "$T/rootfs" "$T/drootfs"
		chown -R 100000:100000 "$T/drootfs"
		cfg dev_nodes_userns <<<"rootfs: drootfs
userns: true
command: [/bin/sh, /devprobe.sh]"
		run dev_nodes_userns
		for want in null-write-ok zero-ok urandom-ok full-enospc "dev-mounts 6"; do
			has dev_nodes_userns "^$want\$" || why="$why userns: missing '$want';"
		done
		[ "$rc" = 0 ] || why="$why userns: exit $rc;"
	fi
	rm -f "$T/rootfs/devprobe.sh"
	if [ -z "$why" ]; then ok dev_nodes; else bad dev_nodes "$why" "$T/dev_nodes.out"; fi
}

t_seccomp() {
	cfg seccomp <<'EOF'
command: [/bin/sh, -c, '/bin/hog denied; mount -t tmpfs none /mnt && echo mounted; reboot -f; insmod /bin/hog; echo still-here']
EOF
	run seccomp
	if [ "$rc" = 0 ] && has seccomp "denied 20 of 20" &&
	   ! has seccomp mounted && has seccomp still-here; then
		ok seccomp
	else
		bad seccomp "rc=$rc" "$T/seccomp.out"
	fi
}

t_masked_paths() {
	local p list="" checks=""
	for p in /proc/sysrq-trigger /proc/kcore /proc/keys /proc/timer_list; do
		[ -e "$p" ] && list="$list $p"
	done
	[ -e /proc/sysrq-trigger ] ||
		echo "    masked_paths: this kernel has no /proc/sysrq-trigger; checking$list"
	cfg masked_paths <<EOF
command: [/bin/sh, -c, 'for p in $list; do echo "\$p \$(stat -c %t:%T \$p) \$(wc -c < \$p)"; done; echo fw=\$(ls -A /sys/firmware | wc -l); grep -E " /proc/sys | /sys " /proc/mounts; echo 1 > /proc/sys/vm/drop_caches && echo sys-writable; exit 0']
EOF
	run masked_paths
	for p in $list; do
		grep -q "^$p 1:3 0$" "$T/masked_paths.out" || checks="$checks $p"
	done
	if [ "$rc" = 0 ] && [ -n "$list" ] && [ -z "$checks" ] &&
	   has masked_paths "fw=0" && has masked_paths "/proc/sys proc ro," &&
	   has masked_paths "/sys sysfs ro," && ! has masked_paths sys-writable; then
		ok masked_paths
	else
		bad masked_paths "rc=$rc, not masked:$checks" "$T/masked_paths.out"
	fi
}

t_userns() {
	if no_userns; then
		skipped userns "this host refuses user namespaces (e.g. in a chroot)"
		return
	fi
	rm -rf "$T/urootfs"
	cp -a "$T/rootfs" "$T/urootfs"
	chown -R 100000:100000 "$T/urootfs"
	cfg userns <<'EOF'
rootfs: urootfs
userns: true
memory: 64M
command: [/bin/sh, -c, 'cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /created && echo created; grep CapEff /proc/self/status']
EOF
	run userns
	if [ "$rc" = 0 ] && [ "$(grep -c '0 *100000 *65536' "$T/userns.out")" = 2 ] &&
	   has userns "^0$" && has userns created &&
	   [ "$(stat -c %u:%g "$T/urootfs/created")" = "100000:100000" ]; then
		ok userns
	else
		bad userns "rc=$rc" "$T/userns.out"
	fi
}

t_tarball() {
	cfg tarball <<'EOF'
rootfs: rootfs.tar.gz
command: [/bin/sh, -c, 'echo pid=$$; ls -l /bin/busybox; touch /new && echo writable']
EOF
	run tarball
	if [ "$rc" = 0 ] && has tarball "pid=1" && has tarball writable &&
	   [ -z "$(leftovers tarball)" ]; then
		ok tarball
	else
		bad tarball "rc=$rc $(leftovers tarball)" "$T/tarball.out"
	fi
}

t_tarball_userns() {
	if no_userns; then
		skipped tarball_userns "this host refuses user namespaces (e.g. in a chroot)"
		return
	fi
	cfg tarball_userns <<'EOF'
rootfs: rootfs.tar.gz
userns: true
command: [/bin/sh, -c, 'cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; touch /new && echo writable']
EOF
	run tarball_userns
	if [ "$rc" = 0 ] && has tarball_userns '0 *100000 *65536' &&
	   has tarball_userns "^0:0$" && has tarball_userns writable &&
	   [ -z "$(leftovers tarball_userns)" ]; then
		ok tarball_userns
	else
		bad tarball_userns "rc=$rc" "$T/tarball_userns.out"
	fi
}

t_veth() {
	netns_setup
	case $? in
	0) ;;
	2) skipped veth "this kernel cannot create bridges or veths"; return ;;
	*) bad veth "could not set up the test network namespace"; return ;;
	esac
	cfg veth <<'EOF'
nets:
  - bridge: br-vtest
    address: 10.199.0.2/24
    gateway: 10.199.0.1
command: [/bin/sh, -c, 'ip -o addr show eth0; ip route; ping -c 2 -W 2 10.199.0.1']
EOF
	run veth "${IN_NS[@]}"
	if [ "$rc" = 0 ] && has veth "inet 10.199.0.2/24" &&
	   has veth "default via 10.199.0.1" && has veth "2 packets received" &&
	   wait_clean veth 5; then
		ok veth
	else
		bad veth "rc=$rc $(leftovers veth)" "$T/veth.out"
	fi
}

t_cleanup_normal() {
	netns_setup
	case $? in
	0) ;;
	2) skipped cleanup_normal "this kernel cannot create bridges or veths"; return ;;
	*) bad cleanup_normal "could not set up the test network namespace"; return ;;
	esac
	cfg cleanup_normal <<'EOF'
rootfs: rootfs.tar.gz
memory: 64M
pids: 50
cpus: 1
mounts:
  - source: share
    target: /data
nets:
  - bridge: br-vtest
    address: 10.199.0.4/24
command: [/bin/true]
EOF
	mkdir -p "$T/share"
	run cleanup_normal "${IN_NS[@]}"
	# No waiting: everything must be gone when vessel returns.
	local left
	left=$(leftovers cleanup_normal)
	if [ "$rc" = 0 ] && [ -z "$left" ]; then
		ok cleanup_normal
	else
		bad cleanup_normal "rc=$rc left: $left" "$T/cleanup_normal.out"
	fi
}

t_cleanup_sigkill() {
	local procs left f
	netns_setup
	case $? in
	0) ;;
	2) skipped cleanup_sigkill "this kernel cannot create bridges or veths"; return ;;
	*) bad cleanup_sigkill "could not set up the test network namespace"; return ;;
	esac
	cfg cleanup_sigkill <<'EOF'
rootfs: rootfs.tar.gz
memory: 64M
pids: 50
nets:
  - bridge: br-vtest
    address: 10.199.0.5/24
command: [/bin/sh, -c, 'sleep 1000 & sleep 1000']
EOF
	start cleanup_sigkill "${IN_NS[@]}"
	if ! wait_running cleanup_sigkill; then
		bad cleanup_sigkill "container did not start" "$T/cleanup_sigkill.out"
		kill -9 "$vpid"
		{ wait "$vpid"; } 2>/dev/null
		return
	fi
	sleep 0.3
	f=$(cg_file cleanup_sigkill cgroup.procs)
	procs=$(cat "$f")
	kill -9 "$vpid"
	{ wait "$vpid"; } 2>/dev/null
	if wait_clean cleanup_sigkill 15; then
		left=""
	else
		left=$(leftovers cleanup_sigkill)
	fi
	# The container's processes must be dead. PID 1 was vessel's child,
	# so its zombie is reaped by the host's init (or a subreaper), not
	# by anything of vessel's: a zombie counts as dead.
	for f in $procs; do
		if [ -e "/proc/$f" ] && ! grep -q '^State:.*Z' "/proc/$f/status" 2>/dev/null; then
			left="$left process $f ($(grep -E '^(Name|State)' "/proc/$f/status" 2>/dev/null | tr '\n\t' '  '))"
		fi
	done
	if [ -z "$left" ]; then
		ok cleanup_sigkill
	else
		bad cleanup_sigkill "left: $left" "$T/cleanup_sigkill.out"
	fi
}

t_sigterm_forwarded() {
	cfg sigterm_forwarded <<'EOF'
command: [/bin/sh, -c, 'trap "echo got-term; exit 3" TERM; while :; do sleep 0.1; done']
EOF
	start sigterm_forwarded
	if ! wait_running sigterm_forwarded; then
		bad sigterm_forwarded "container did not start" "$T/sigterm_forwarded.out"
		kill -9 "$vpid"
		{ wait "$vpid"; } 2>/dev/null
		return
	fi
	sleep 0.3
	kill -TERM "$vpid"
	wait "$vpid"
	rc=$?
	[ "$rc" = 3 ] && has sigterm_forwarded got-term && ok sigterm_forwarded ||
		bad sigterm_forwarded "rc=$rc, want 3" "$T/sigterm_forwarded.out"
}

t_sigterm_grace() {
	local t0 t1
	cfg sigterm_grace <<<"command: [/bin/sleep, '1000']"
	start sigterm_grace
	if ! wait_running sigterm_grace; then
		bad sigterm_grace "container did not start" "$T/sigterm_grace.out"
		kill -9 "$vpid"
		{ wait "$vpid"; } 2>/dev/null
		return
	fi
	# sleep as PID 1 has no handler: SIGTERM is ignored, SIGKILL follows
	# after the 10 s grace period.
	t0=$(date +%s)
	kill -TERM "$vpid"
	wait "$vpid"
	rc=$?
	t1=$(date +%s)
	if [ "$rc" = 137 ] && [ $((t1 - t0)) -ge 9 ] && [ $((t1 - t0)) -le 15 ]; then
		ok sigterm_grace
	else
		bad sigterm_grace "rc=$rc after $((t1 - t0)) s, want 137 after ~10 s" \
			"$T/sigterm_grace.out"
	fi
}

t_pty() {
	cfg pty <<'EOF'
command: [/bin/sh, -c, '[ -t 0 ] && [ -t 1 ] && echo tty-yes; ls -l /dev/console; echo term=$TERM; exit 5']
EOF
	timeout -k 5 "$TIMEOUT" script -qec "$VESSEL run $T/pty.yaml" /dev/null \
		</dev/null >"$T/pty.out" 2>&1
	rc=$?
	if [ "$rc" = 5 ] && has pty tty-yes && has pty "term=xterm" &&
	   has pty "/dev/console"; then
		ok pty
	else
		bad pty "rc=$rc, want 5" "$T/pty.out"
	fi
}

t_already_running() {
	cfg already_running <<<"command: [/bin/sleep, '30']"
	start already_running
	if ! wait_running already_running; then
		bad already_running "container did not start" "$T/already_running.out"
		kill -9 "$vpid"
		{ wait "$vpid"; } 2>/dev/null
		return
	fi
	cp "$T/already_running.yaml" "$T/already_running2.yaml"
	sed -i 's/^name: .*/name: already_running/' "$T/already_running2.yaml"
	run already_running2
	kill -9 "$vpid"
	{ wait "$vpid"; } 2>/dev/null
	[ "$rc" = 1 ] && has already_running2 "already running" &&
		wait_clean already_running 10 && ok already_running ||
		bad already_running "rc=$rc" "$T/already_running2.out"
}

t_error_missing_rootfs() {
	cfg error_missing_rootfs <<<"rootfs: no-such-rootfs"
	run error_missing_rootfs
	[ "$rc" != 0 ] && has error_missing_rootfs "no-such-rootfs" &&
		ok error_missing_rootfs ||
		bad error_missing_rootfs "rc=$rc" "$T/error_missing_rootfs.out"
}

t_error_not_root() {
	local v
	cfg error_not_root <<<"command: [/bin/true]"
	# The binary must be reachable by nobody: copy it next to the config.
	v=$T/vessel-copy
	cp "$VESSEL" "$v"
	chmod 755 "$v"
	timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$v" run "$T/error_not_root.yaml" </dev/null >"$T/error_not_root.out" 2>&1
	rc=$?
	[ "$rc" = 1 ] && has error_not_root "need root" && ok error_not_root ||
		bad error_not_root "rc=$rc" "$T/error_not_root.out"
}

t_error_no_bridge() {
	cfg error_no_bridge <<'EOF'
nets:
  - bridge: br-nonexist
command: [/bin/true]
EOF
	run error_no_bridge
	[ "$rc" = 1 ] && has error_no_bridge "bridge 'br-nonexist' does not exist" &&
		ok error_no_bridge ||
		bad error_no_bridge "rc=$rc" "$T/error_no_bridge.out"
}

t_error_no_controller() {
	cfg error_no_controller <<'EOF'
pids: 10
command: [/bin/true]
EOF
	# In a private mount namespace without any cgroup filesystem.
	# shellcheck disable=SC2016 # expanded by the inner sh
	timeout -k 5 "$TIMEOUT" unshare -m --propagation private sh -c '
		for m in $(awk "\$3 ~ /^cgroup/ { print \$2 }" /proc/self/mounts | sort -r); do
			umount "$m" || exit 99
		done
		exec "$1" run "$2"' sh "$VESSEL" "$T/error_no_controller.yaml" \
		</dev/null >"$T/error_no_controller.out" 2>&1
	rc=$?
	[ "$rc" = 1 ] && has error_no_controller "pids limit needs the 'pids' cgroup controller" &&
		ok error_no_controller ||
		bad error_no_controller "rc=$rc" "$T/error_no_controller.out"
}

t_error_setup_killed() {
	# Far too little memory even to set the container up: the message
	# must say so instead of passing the OOM kill off as the command's.
	cfg error_setup_killed <<'EOF'
memory: 16K
command: [/bin/true]
EOF
	run error_setup_killed
	[ "$rc" = 1 ] && has error_setup_killed "setup process was killed" &&
		has error_setup_killed "memory: 16384 too small" &&
		ok error_setup_killed ||
		bad error_setup_killed "rc=$rc" "$T/error_setup_killed.out"
}

t_userns_security() {
	if no_userns; then
		skipped userns_security "this host refuses user namespaces (e.g. in a chroot)"
		return
	fi
	# Inside its own user namespace the container's root may mount (its
	# own mount namespace) but the rest of the filter stays. It may even
	# unmount the read-only /proc/sys: what it guarded stays out of reach
	# (a global sysctl, owned by the host's root). hog runs last: its
	# umount2 probe detaches /proc.
	cfg userns_security <<'EOF'
rootfs: rootfs.tar.gz
userns: true
command: [/bin/sh, -c, 'grep -E "^Cap(Eff|Bnd|Prm)" /proc/self/status; mount -t tmpfs none /mnt && touch /mnt/x && echo mounted; umount /proc/sys && echo unmasked; (echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null || echo sysctl-denied; /bin/hog denied']
EOF
	run userns_security
	if [ "$rc" = 0 ] && [ "$(grep -c 00000000b9e4b5ff "$T/userns_security.out")" = 3 ] &&
	   has userns_security "^mounted$" && has userns_security "^unmasked$" &&
	   has userns_security "^sysctl-denied$" &&
	   has userns_security "^mount ALLOWED" && has userns_security "^reboot EINVAL" &&
	   has userns_security "denied 16 of 20"; then
		ok userns_security
	else
		bad userns_security "rc=$rc, want CapEff b9e4b5ff, mount allowed, kexec/modules/keys/bpf/ptrace/... EPERM" \
			"$T/userns_security.out"
	fi
}

t_userns_poweroff() {
	local rc1
	if no_userns; then
		skipped userns_poweroff "this host refuses user namespaces (e.g. in a chroot)"
		return
	fi
	# reboot(2) in the container's pid namespace ends just the container:
	# a power-off is a clean exit (0), a reboot is reported as SIGHUP (129).
	cfg userns_poweroff <<'EOF'
rootfs: rootfs.tar.gz
userns: true
command: [/bin/sh, -c, 'poweroff -f; echo still-here']
EOF
	run userns_poweroff
	rc1=$rc
	sed 's/poweroff -f/reboot -f/; s/^name: .*/name: userns_reboot/' \
		"$T/userns_poweroff.yaml" >"$T/userns_reboot.yaml"
	run userns_reboot
	if [ "$rc1" = 0 ] && ! has userns_poweroff still-here && [ "$rc" = 129 ] &&
	   ! has userns_reboot still-here && wait_clean userns_poweroff 5 &&
	   wait_clean userns_reboot 5; then
		ok userns_poweroff
	else
		bad userns_poweroff "poweroff rc=$rc1 (want 0), reboot rc=$rc (want 129)" \
			"$T/userns_poweroff.out"
	fi
}

t_userns_cgroup() {
	local dir
	if no_userns; then
		skipped userns_cgroup "this host refuses user namespaces (e.g. in a chroot)"
		return
	fi
	# The delegated cgroup2 tree: the container's root makes cgroups and
	# moves into them, but cannot raise its limits; after SIGKILL of
	# vessel the janitor removes the whole tree.
	cfg userns_cgroup <<'EOF'
rootfs: rootfs.tar.gz
userns: true
pids: 50
command: [/bin/sh, -c, 'grep -q " /sys/fs/cgroup .* - cgroup2 " /proc/self/mountinfo || { echo no-cgroup2; exit 0; }; mkdir -p /sys/fs/cgroup/sub/deeper && echo $$ > /sys/fs/cgroup/sub/deeper/cgroup.procs && echo moved; cat /proc/self/cgroup; if [ -e /sys/fs/cgroup/pids.max ]; then (echo 5 > /sys/fs/cgroup/pids.max) 2>/dev/null && echo limit-writable; fi; echo ready; exec sleep 1000']
EOF
	start userns_cgroup
	for _ in $(seq 100); do
		has userns_cgroup "^ready$" && break
		has userns_cgroup no-cgroup2 && break
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.1
	done
	if has userns_cgroup no-cgroup2; then
		{ wait "$vpid"; } 2>/dev/null
		skipped userns_cgroup "no cgroup2 hierarchy on this host to delegate"
		return
	fi
	dir=$(cg_dirs userns_cgroup | while read -r d; do
		[ -d "$d/sub/deeper" ] && echo "$d/sub/deeper"; done)
	kill -9 "$vpid"
	{ wait "$vpid"; } 2>/dev/null
	if has userns_cgroup "^moved$" && has userns_cgroup "^0::/sub/deeper$" &&
	   ! has userns_cgroup limit-writable && [ -n "$dir" ] &&
	   wait_clean userns_cgroup 15; then
		ok userns_cgroup
	else
		bad userns_cgroup "tree: '$dir' left: $(leftovers userns_cgroup)" "$T/userns_cgroup.out"
	fi
}

# PID 1 of the container run by vessel $1 (its other child is the
# janitor).
container_pid1() {
	local p
	for p in $(pgrep -P "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = vessel-janitor ] ||
			{ echo "$p"; return 0; }
	done
	return 1
}

t_systemd() {
	local img st t0 t1 unpack boot halt stop state pid1 left _
	local limit=${SYSTEMD_STOP_LIMIT:-10} wait_boot=${SYSTEMD_BOOT_TIMEOUT:-120}
	if no_userns; then
		skipped systemd "this host refuses user namespaces (e.g. in a chroot)"
		return
	fi
	# The container's systemd needs a cgroup2 tree of its own: the host's
	# v2 hierarchy, or under cgroup v1 the hybrid layout's.
	if ! awk '$3 == "cgroup2" { f = 1 } END { exit !f }' /proc/self/mounts; then
		skipped systemd "no cgroup2 hierarchy is mounted on this host (pure cgroup v1); the container's systemd needs one"
		return
	fi
	img=$("$HERE/debian-rootfs.sh" 2>"$T/systemd.setup")
	st=$?
	if [ "$st" = 2 ]; then
		skipped systemd "no Debian rootfs and no way to build one: $(tail -1 "$T/systemd.setup")"
		return
	elif [ "$st" != 0 ]; then
		bad systemd "building the Debian rootfs failed" "$T/systemd.setup"
		return
	fi
	cfg systemd <<EOF
rootfs: $img
userns: true
memory: 512M
pids: 1000
command: [/sbin/init]
EOF
	t0=$(date +%s)
	start systemd
	# First the tarball is unpacked (slow under emulation: its own
	# bound), then PID 1 starts and the boot clock runs.
	pid1=""
	for _ in $(seq 3000); do
		pid1=$(container_pid1 "$vpid") && break
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.2
	done
	unpack=$(($(date +%s) - t0))
	boot=""
	for _ in $(seq $((wait_boot * 5))); do
		[ -n "$pid1" ] || break
		if has systemd "Reached target multi-user.target"; then
			boot=$(($(date +%s) - t0 - unpack))
			break
		fi
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.2
	done
	# The same from inside: every unit started, none failed.
	state=""
	if [ -n "$boot" ] && [ -n "$pid1" ]; then
		state=$(timeout 60 nsenter -t "$pid1" -a systemctl is-system-running --wait 2>&1)
	fi
	if [ -z "$boot" ] || [ "$state" != running ]; then
		if [ -n "$pid1" ]; then
			timeout 30 nsenter -t "$pid1" -a systemctl --failed --no-pager \
				>>"$T/systemd.out" 2>&1
		fi
		bad systemd "no multi-user.target within $wait_boot s, or not running (state: '$state')" \
			"$T/systemd.out"
		kill -9 "$vpid"
		{ wait "$vpid"; } 2>/dev/null
		return
	fi
	# SIGTERM: PID 1 must be gone within the grace period (a SIGKILL at
	# its end would make the status 137), then vessel cleans up.
	t1=$(date +%s%N)
	kill -TERM "$vpid"
	halt=""
	for _ in $(seq $((limit * 20 + 100))); do
		if [ ! -e "/proc/$pid1" ] || grep -q '^State:.*Z' "/proc/$pid1/status" 2>/dev/null; then
			halt=$((($(date +%s%N) - t1) / 1000000))
			break
		fi
		sleep 0.05
	done
	wait "$vpid"
	rc=$?
	stop=$((($(date +%s%N) - t1) / 1000000))
	wait_clean systemd 5
	left=$(leftovers systemd)
	echo "    systemd: unpacking $unpack s, then multi-user.target after $boot s (is-system-running: $state); SIGTERM to PID 1 gone: ${halt:-?} ms, to vessel's exit (cleanup included): $stop ms"
	if [ "$rc" = 0 ] && [ -n "$halt" ] && [ "$halt" -lt $((limit * 1000)) ] &&
	   has systemd "Reached target.*shutdown.target" &&
	   has systemd "Starting.*System Halt" && has systemd "Halting system" &&
	   [ -z "$left" ]; then
		ok systemd
	else
		bad systemd "rc=$rc (want 0: halted), PID 1 gone after ${halt:-?} ms (limit $limit s), left: $left" \
			"$T/systemd.out"
	fi
}

# ---- hardening and escape regressions (issue #10) ----------------------

# userns: true gives the container's root SYS_ADMIN in its own user
# namespace, but the read-only root and a read-only bind were made before
# that namespace existed, so the kernel keeps them read-only: remounts,
# unmounts and writes fail, and the host's files are unchanged.
t_ro_locked_userns() {
	if no_userns; then
		skipped ro_locked_userns "this host refuses user namespaces (e.g. in a chroot)"
		return
	fi
	rm -rf "$T/lrootfs" "$T/lshare"
	cp -a "$T/rootfs" "$T/lrootfs"
	mkdir -p "$T/lshare"
	echo host-data > "$T/lshare/file"
	chown -R 100000:100000 "$T/lrootfs" "$T/lshare"
	cfg ro_locked_userns <<'EOF'
rootfs: lrootfs
userns: true
readonly: true
mounts:
  - {source: lshare, target: /data, readonly: true}
command: [/bin/sh, -c, 'mount -o remount,bind,rw /data && echo data-remounted; mount -o remount,rw / && echo root-remounted; mount -o remount,bind,rw / && echo root-bind-remounted; umount /data && echo data-unmounted; echo evil > /data/file && echo data-written; touch /bin/evil && echo root-written; grep -E " / | /data " /proc/self/mountinfo; echo done']
EOF
	run ro_locked_userns
	if [ "$rc" = 0 ] && has ro_locked_userns "^done$" &&
	   ! grep -qE "remounted|unmounted|written" "$T/ro_locked_userns.out" &&
	   [ "$(cat "$T/lshare/file")" = host-data ] && [ ! -e "$T/lrootfs/bin/evil" ] &&
	   has ro_locked_userns " /data ro,nosuid,nodev" && has ro_locked_userns " / ro,nosuid,nodev"; then
		ok ro_locked_userns
	else
		bad ro_locked_userns "rc=$rc, host file: $(cat "$T/lshare/file")" "$T/ro_locked_userns.out"
	fi
}

# readonly: true on a bind is recursive: a mount below the source is
# read-only in the container too.
t_ro_submount() {
	local content new
	mkdir -p "$T/rshare/sub"
	if ! mount -t tmpfs -o size=1m vtest-sub "$T/rshare/sub"; then
		bad ro_submount "could not mount a tmpfs on $T/rshare/sub"
		return
	fi
	echo host-sub > "$T/rshare/sub/file"
	cfg ro_submount <<'EOF'
mounts:
  - {source: rshare, target: /data, readonly: true}
command: [/bin/sh, -c, 'cat /data/sub/file; echo evil > /data/sub/file && echo sub-written; touch /data/sub/new && echo sub-created; echo done']
EOF
	run ro_submount
	content=$(cat "$T/rshare/sub/file")
	new=$([ -e "$T/rshare/sub/new" ] && echo yes)
	umount "$T/rshare/sub"
	if [ "$rc" = 0 ] && has ro_submount "^host-sub$" && has ro_submount "^done$" &&
	   ! has ro_submount "sub-written" && ! has ro_submount "sub-created" &&
	   [ "$content" = host-sub ] && [ -z "$new" ]; then
		ok ro_submount
	else
		bad ro_submount "rc=$rc, host file: '$content', new: '$new'" "$T/ro_submount.out"
	fi
}

# The device cgroup: nodes for host devices in the container's /dev (a
# tmpfs that allows devices, for its usual nodes) cannot be opened even
# though they are there: made from outside here, through /proc/PID/root,
# as a root with MKNOD would. A node for an allowed device (null) in the
# same place still works.
t_dev_cgroup() {
	local tok pid1 _ disk want=1
	tok=vessel-devcg-$RANDOM$RANDOM
	disk=$(awk '$4 ~ /^(vd|sd|nvme|loop)/ { print $1 ":" $2; exit }' /proc/partitions)
	cfg dev_cgroup <<EOF
command: [/bin/sh, -c, 'while [ ! -e /dev/ready ]; do sleep 0.1; done; echo $tok > /dev/kmsg2 && echo kmsg-written; [ -e /dev/disk2 ] && head -c 16 /dev/disk2 > /dev/null && echo disk-read; echo x > /dev/null2 && echo null-ok; echo done']
EOF
	start dev_cgroup
	pid1=""
	for _ in $(seq 100); do
		pid1=$(container_pid1 "$vpid") && [ -d "/proc/$pid1/root/dev/pts" ] && break
		pid1=""
		sleep 0.1
	done
	if [ -z "$pid1" ]; then
		bad dev_cgroup "the container did not start" "$T/dev_cgroup.out"
		kill -9 "$vpid"
		{ wait "$vpid"; } 2>/dev/null
		return
	fi
	mknod "/proc/$pid1/root/dev/kmsg2" c 1 11
	mknod "/proc/$pid1/root/dev/null2" c 1 3
	if [ -n "$disk" ]; then
		mknod "/proc/$pid1/root/dev/disk2" b "${disk%:*}" "${disk#*:}"
		want=2
	fi
	touch "/proc/$pid1/root/dev/ready"
	wait "$vpid"
	rc=$?
	if [ "$rc" = 0 ] && has dev_cgroup "^done$" && has dev_cgroup "^null-ok$" &&
	   ! has dev_cgroup kmsg-written && ! has dev_cgroup disk-read &&
	   ! dmesg 2>/dev/null | grep -q "$tok" &&
	   [ "$(grep -c "Operation not permitted" "$T/dev_cgroup.out")" = "$want" ]; then
		ok dev_cgroup
	else
		bad dev_cgroup "rc=$rc (host disk node: '${disk:-none}')" "$T/dev_cgroup.out"
	fi
}

# seccomp as an allowlist: unknown system calls and clone3 get ENOSYS,
# Docker's refused ones EPERM, socket(AF_VSOCK) and odd personalities
# are refused; ordinary calls still work.
t_seccomp_allowlist() {
	local n want miss=""
	cfg seccomp_allowlist <<<"command: [/bin/probe, sys]"
	run seccomp_allowlist
	for want in "nr1000 ENOSYS" "nr777 ENOSYS" "clone3 ENOSYS" \
		"kexec_load EPERM" "init_module EPERM" "open_by_handle_at EPERM" \
		"name_to_handle_at EPERM" "bpf EPERM" "add_key EPERM" "keyctl EPERM" \
		"mbind EPERM" "unshare EPERM" "socket(AF_VSOCK) EPERM" \
		"personality(0x4000000) ENOSYS" "personality(PER_BSD) ENOSYS" \
		"personality(query) ALLOWED" "socket(AF_UNIX) ALLOWED"; do
		grep -qxF "$want" "$T/seccomp_allowlist.out" || miss="$miss [$want]"
	done
	n=$("$VESSEL" check "$T/seccomp_allowlist.yaml" |
		sed -n 's/^seccomp: allowlist, \([0-9]*\) syscalls, default ENOSYS$/\1/p')
	if [ "$rc" = 0 ] && [ -z "$miss" ] && [ -n "$n" ] && [ "$n" -gt 250 ]; then
		echo "    seccomp_allowlist: vessel check: $n system calls allowed"
		ok seccomp_allowlist
	else
		bad seccomp_allowlist "rc=$rc, check says '$n', missing:$miss" "$T/seccomp_allowlist.out"
	fi
}

# runc's CVE-2019-5736 in spirit: the container must not be able to
# overwrite the host's vessel binary through /proc/PID/exe. The command
# is a script whose interpreter is /proc/self/exe (which would run vessel
# itself inside the container), and a second container tries to open
# every /proc/PID/exe it can see for writing. Afterwards the binary's
# hash is unchanged, and no exe the container saw was vessel's.
t_cve_proc_exe() {
	local sum0 sum1 rc1 hostid
	sum0=$(sha256sum < "$VESSEL")
	hostid=$(stat -L -c '%d:%i' "$VESSEL")
	printf '#!/proc/self/exe run\nkind: container\nname: inner\nrootfs: /\ncommand: [/bin/sh, -c, "echo evil >> /proc/1/exe"]\n' \
		> "$T/rootfs/evil-exe"
	chmod 755 "$T/rootfs/evil-exe"
	cfg cve_proc_exe1 <<<"command: [/evil-exe]"
	run cve_proc_exe1
	rc1=$rc
	cfg cve_proc_exe <<'EOF'
command: [/bin/sh, -c, '/bin/probe exe; echo evil >> /proc/self/exe; echo evil >> /proc/1/exe; echo done']
EOF
	run cve_proc_exe
	sum1=$(sha256sum < "$VESSEL")
	rm -f "$T/rootfs/evil-exe"
	if [ "$sum0" = "$sum1" ] && [ "$rc1" != 0 ] && [ "$rc" = 0 ] &&
	   has cve_proc_exe "^done$" && has cve_proc_exe "^exe 1 " &&
	   ! has cve_proc_exe "ALLOWED" && ! grep -q " $hostid\$" "$T/cve_proc_exe.out"; then
		ok cve_proc_exe
	else
		bad cve_proc_exe "hash ${sum0%% *} -> ${sum1%% *}, rc=$rc1/$rc, vessel is $hostid" "$T/cve_proc_exe.out"
		sed 's/^/    1| /' "$T/cve_proc_exe1.out" | head -10
	fi
}

# runc's CVE-2021-30465 in spirit: a bind target that is, or becomes
# during setup, a symlink pointing outside the rootfs must not mount
# outside it. Statically: absolute and ../ symlinks resolve inside the
# rootfs, and one to nowhere is refused. Racing: the host swaps the
# target between a directory and a symlink to a host directory while
# containers start; each either fails cleanly, or sees the bind's data
# inside its own tree (where the directory or the link was when the
# mount was made: the swapper keeps renaming while the container looks),
# or lost the bind because its mount point was deleted under it (the
# kernel then drops the mount: the attacker's own loss); the host
# directory never gets it.
t_cve_mount_symlink() {
	local out="$T/outside" out2="$T/outside2" i fails=0 absent=0 bad_runs="" swapper rc1
	rm -rf "$out" "$out2" "$T/srootfs"
	mkdir -p "$out" "$out2" "$T/sshare"
	echo outside-original > "$out/file"
	echo outside-original > "$out2/file"
	echo bind-data > "$T/sshare/file"
	cp -a "$T/rootfs" "$T/srootfs"
	# The same paths inside the rootfs: where the links really lead.
	mkdir -p "$T/srootfs$out" "$T/srootfs$out2"
	ln -s "$out" "$T/srootfs/abs"
	ln -s "../../../../../../../..$out2" "$T/srootfs/rel"
	ln -s "$T/nowhere-$$" "$T/srootfs/dangling"
	cfg cve_mount_symlink <<EOF
rootfs: srootfs
mounts:
  - {source: sshare, target: /abs}
  - {source: sshare, target: /rel}
command: [/bin/sh, -c, 'cat $out/file; cat $out2/file; echo done']
EOF
	run cve_mount_symlink
	rc1=$rc
	sed 's|target: /rel}|target: /dangling/x}|; s/^name: .*/name: cve_mount_dangling/' \
		"$T/cve_mount_symlink.yaml" > "$T/cve_mount_dangling.yaml"
	run cve_mount_dangling
	if ! { [ "$rc1" = 0 ] && [ "$(grep -c '^bind-data$' "$T/cve_mount_symlink.out")" = 2 ] &&
	       [ "$rc" = 1 ] && has cve_mount_dangling "setting up the container" &&
	       [ ! -e "$T/nowhere-$$" ] && [ "$(cat "$out/file")" = outside-original ] &&
	       [ "$(cat "$out2/file")" = outside-original ]; }; then
		bad cve_mount_symlink "static: rc=$rc1, dangling rc=$rc, host dir: $(ls "$out")" "$T/cve_mount_symlink.out"
		return
	fi
	mkdir -p "$T/srootfs/swap"
	( while :; do
		mv -T "$T/srootfs/swap" "$T/srootfs/swap.d" 2>/dev/null
		ln -sfn "$out" "$T/srootfs/swap" 2>/dev/null
		rm -f "$T/srootfs/swap" 2>/dev/null
		mv -T "$T/srootfs/swap.d" "$T/srootfs/swap" 2>/dev/null
	  done ) &
	swapper=$!
	BG_PIDS="$BG_PIDS $swapper"
	cfg cve_mount_race <<EOF
rootfs: srootfs
mounts:
  - {source: sshare, target: /swap}
command: [/bin/sh, -c, 'for i in 1 2 3 4 5 6 7 8 9 10; do cat /swap/file /swap.d/file $out/file 2>/dev/null | grep -q bind-data && { echo inside; exit 0; }; done; echo absent']
EOF
	for i in $(seq 20); do
		run cve_mount_race
		if [ "$rc" = 0 ] && has cve_mount_race "^inside$"; then
			continue
		elif [ "$rc" = 0 ] && has cve_mount_race "^absent$"; then
			absent=$((absent + 1))
		elif [ "$rc" = 1 ] && has cve_mount_race "setting up the container"; then
			fails=$((fails + 1))
		else
			bad_runs="$bad_runs $i:rc=$rc"
			cp "$T/cve_mount_race.out" "$T/cve_mount_race.bad"
		fi
	done
	kill "$swapper"
	{ wait "$swapper"; } 2>/dev/null
	if [ -z "$bad_runs" ] && [ "$(cat "$out/file")" = outside-original ] &&
	   [ "$(ls -A "$out")" = file ] && ! grep -qF " $out " /proc/self/mountinfo; then
		echo "    cve_mount_symlink: 20 racing starts: $fails refused cleanly, $absent without the bind (its mount point replaced under it), the rest mounted inside"
		ok cve_mount_symlink
	else
		bad cve_mount_symlink "race: bad runs:$bad_runs; host dir: $(ls -A "$out")" "$T/cve_mount_race.bad"
	fi
}

# runc's CVE-2024-21626 in spirit: no descriptor of vessel's (or of its
# caller's) reaches the container, and its cwd is its own root. vessel
# is started with extra descriptors open, one of them a directory.
t_cve_fd_leak() {
	local fds tok=token-$$-$RANDOM
	echo secret > "$T/$tok"
	cfg cve_fd_leak <<EOF
command: [/bin/sh, -c, 'cd /proc/self/cwd/../../../..; pwd; test -e $T/$tok && echo host-visible; cd /; exec /bin/probe fds']
EOF
	exec 7<"$T" 8<"$T/$tok"
	run cve_fd_leak
	exec 7<&- 8<&-
	fds=$(awk '$1 == "fd" { print $2 }' "$T/cve_fd_leak.out" | tr '\n' ' ')
	if [ "$rc" = 0 ] && [ "$fds" = "0 1 2 " ] && has cve_fd_leak "^cwd /$" &&
	   has cve_fd_leak "^/$" && ! has cve_fd_leak host-visible; then
		ok cve_fd_leak
	else
		bad cve_fd_leak "rc=$rc, fds: '$fds'" "$T/cve_fd_leak.out"
	fi
}

# ---- hostile images ---------------------------------------------------

# hostile_tar OUT KIND [ARG]: write a hostile archive OUT with python3's
# tarfile. "devices" and "setuid" add to $T/rootfs.tar.gz's members.
hostile_tar() {
	python3 - "$T/rootfs.tar.gz" "$@" <<'PY'
import gzip, io, sys, tarfile
base, out, kind, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def with_base(extra):
    with tarfile.open(base) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        for info, data in extra:
            dst.addfile(info, io.BytesIO(data) if data is not None else None)

def node(name, typ, major, minor):
    i = tarfile.TarInfo(name)
    i.type, i.devmajor, i.devminor, i.mode = typ, major, minor, 0o666
    return i, None

def pax(records):
    """An 'x' header with these raw records, a file, the end."""
    h = tarfile.TarInfo("././@PaxHeader")
    h.type, h.size = tarfile.XHDTYPE, len(records)
    b = h.tobuf(tarfile.USTAR_FORMAT) + records
    b += b"\0" * ((512 - len(records) % 512) % 512)
    f = tarfile.TarInfo("etc/f")
    return b + f.tobuf(tarfile.USTAR_FORMAT) + b"\0" * 1024

def one_file(data=b"hello\n"):
    i = tarfile.TarInfo("etc/f")
    i.size = len(data)
    return (i.tobuf(tarfile.USTAR_FORMAT) + data +
            b"\0" * ((512 - len(data) % 512) % 512) + b"\0" * 1024)

def write(b):
    open(out, "wb").write(b)

if kind == "devices":          # ARG: major minor of a host block device
    maj, mnr = int(args[0]), int(args[1])
    with_base([node("usr/disk", tarfile.BLKTYPE, maj, mnr),
               node("etc/mem", tarfile.CHRTYPE, 1, 1),
               node("tmp/null2", tarfile.CHRTYPE, 1, 3),
               node("dev/sda9", tarfile.BLKTYPE, 8, 9)])
elif kind == "setuid":         # ARG: the euid program
    prog = open(args[0], "rb").read()
    i = tarfile.TarInfo("bin/rootsh")
    i.size, i.mode, i.uid, i.gid = len(prog), 0o4755, 0, 0
    j = tarfile.TarInfo("bin/made")
    j.size, j.mode = len(prog), 0o755
    with_base([(i, prog), (j, prog)])
elif kind == "pax":            # ARG: the records, \n written as \n
    write(pax(args[0].replace("\\n", "\n").encode()))
elif kind == "truncated-header":
    write(one_file()[:300])
elif kind == "truncated-data":
    write(one_file(b"x" * 10000)[:512 + 4096])
elif kind == "bad-checksum":
    b = bytearray(one_file())
    b[0] ^= 0x20
    write(bytes(b))
elif kind == "bad-number":     # a size field that is not octal
    b = bytearray(one_file())
    b[124:136] = b"0000000x012\0"
    b[148:156] = b"        "
    b[148:156] = b"%06o\0 " % sum(b[:512])
    write(bytes(b))
elif kind == "gzip-bomb":      # ARG: MiB of zeros in one file
    n = int(args[0]) << 20
    i = tarfile.TarInfo("zero")
    i.size = n
    with gzip.open(out, "wb", compresslevel=9) as g:
        g.write(i.tobuf(tarfile.USTAR_FORMAT))
        z = b"\0" * (1 << 20)
        for _ in range(n >> 20):
            g.write(z)
        g.write(b"\0" * 1024)
elif kind == "many-entries":   # ARG: how many empty files
    with tarfile.open(out, "w:gz") as t:
        for k in range(int(args[0])):
            t.addfile(tarfile.TarInfo("f%d" % k))
elif kind == "gzip-cut":       # the test rootfs, its gzip stream cut
    data = open(base, "rb").read()
    write(data[:len(data) // 2])
else:
    sys.exit("unknown kind " + kind)
PY
}

# Device entries in an image are never created, with or without userns.
# The block node is for a loop device over a host file holding a secret;
# the container tries to read and write it, and /dev/mem through c 1:1.
t_tar_device_nodes() {
	local loop="" maj=7 mnr=0 sum1 sum2 why="" u name
	dd if=/dev/zero of="$T/disk.img" bs=64k count=1 2>/dev/null
	printf 'SECRET-%s\n' "$$" | dd of="$T/disk.img" conv=notrunc 2>/dev/null
	if loop=$(losetup -f --show "$T/disk.img" 2>/dev/null); then
		maj=$((0x$(stat -c %t "$loop"))) mnr=$((0x$(stat -c %T "$loop")))
	fi
	sum1=$(md5sum < "$T/disk.img")
	hostile_tar "$T/devices.tar.gz" devices "$maj" "$mnr"
	for u in false true; do
		name=tar_device_nodes_$u
		if [ "$u" = true ] && no_userns; then continue; fi
		cfg "$name" <<EOF
rootfs: devices.tar.gz
userns: $u
command: [/bin/sh, -c, 'head -c 64 /usr/disk; echo pwned > /usr/disk; head -c 16 /etc/mem | od | head -2; ls -l /usr/disk /etc/mem /tmp/null2; echo done']
EOF
		run "$name"
		{ [ "$rc" = 0 ] && has "$name" '^done$'; } || why="$why userns=$u: rc=$rc;"
		has "$name" SECRET && why="$why userns=$u: the container read the host device;"
		has "$name" "skipped 3 device nodes outside /dev" || why="$why userns=$u: no warning;"
		has "$name" "/usr/disk, block $maj:$mnr" || why="$why userns=$u: the warning does not name /usr/disk;"
		[ "$(grep -c 'No such file' "$T/$name.out")" -ge 4 ] || why="$why userns=$u: a node exists in the container;"
		[ -z "$(leftovers "$name")" ] || why="$why userns=$u: left $(leftovers "$name");"
	done
	sum2=$(md5sum < "$T/disk.img")
	[ "$sum1" = "$sum2" ] || why="$why the host's backing file changed;"
	[ -n "$loop" ] && losetup -d "$loop"
	if [ -z "$why" ]; then
		ok tar_device_nodes
	else
		cat "$T"/tar_device_nodes_*.out > "$T/tar_device_nodes.all"
		bad tar_device_nodes "$why" "$T/tar_device_nodes.all"
	fi
}

# A setuid-root file from the image, and one the container's root makes
# setuid at run time, cannot be run by an unprivileged host user while the
# container runs (userns false and true): not from the cache, not through
# /proc/PID/root. The files are there and setuid (root sees them): what
# is out of reach is the unpacked tree.
# as_nobody CMD: CMD by sh as the host's nobody (su drops every
# privilege; setpriv --reuid here still ran a 0700 directory's files).
as_nobody() { su nobody -s /bin/sh -c "$1"; }

t_tar_setuid_host() {
	local why="" u name d f pid1 p
	printf '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("euid=%%d\\n",(int)geteuid());return 0;}\n' > "$T/euid.c"
	if ! gcc -static -O2 -o "$T/euid" "$T/euid.c" 2>"$T/euid.log"; then
		bad tar_setuid_host "cannot build the euid helper" "$T/euid.log"
		return
	fi
	hostile_tar "$T/setuid.tar.gz" setuid "$T/euid"
	for u in false true; do
		name=tar_setuid_host_$u
		if [ "$u" = true ] && no_userns; then continue; fi
		cfg "$name" <<EOF
rootfs: setuid.tar.gz
userns: $u
command: [/bin/sh, -c, 'trap "exit 0" TERM; chmod 4755 /bin/made && /bin/rootsh && echo ready; while :; do sleep 0.1; done']
EOF
		start "$name"
		for _ in $(seq 100); do has "$name" '^ready$' 2>/dev/null && break; sleep 0.1; done
		if ! has "$name" '^ready$'; then
			why="$why userns=$u: did not start;"
			kill -9 "$vpid"
			{ wait "$vpid"; } 2>/dev/null
			continue
		fi
		d=$(echo "$CACHE"/rootfs/*."$name".*)
		[ "$(find "$d" -path '*/bin/rootsh' -o -path '*/bin/made' | wc -l)" = 2 ] ||
			why="$why userns=$u: the unpacked files are not in $d (test broken?);"
		pid1=$(head -1 "$(cg_file "$name" cgroup.procs)")
		for f in $(find "$d" -path '*/bin/rootsh' -o -path '*/bin/made') \
			 "/proc/$pid1/root/bin/rootsh" "/proc/$pid1/root/bin/made"; do
			[ -u "$f" ] || why="$why userns=$u: $f is not there or not setuid (test broken?);"
			if p=$(as_nobody "$f" 2>&1); then
				why="$why userns=$u: nobody ran $f: $p;"
			fi
		done
		as_nobody "ls $CACHE/rootfs" >/dev/null 2>&1 &&
			why="$why userns=$u: nobody can list $CACHE/rootfs;"
		kill -TERM "$vpid"
		wait "$vpid"
		[ -z "$(leftovers "$name")" ] || why="$why userns=$u: left $(leftovers "$name");"
	done
	if [ -z "$why" ]; then
		ok tar_setuid_host
	else
		cat "$T"/tar_setuid_host_*.out > "$T/tar_setuid_host.all"
		bad tar_setuid_host "$why" "$T/tar_setuid_host.all"
	fi
}

# Malformed archives: each is refused with a clear error (exit 1, not a
# signal) and nothing is left in the cache. KIND|ARG|message|env
t_tar_malformed() {
	local why="" i=0 c kind arg want envs
	while IFS='|' read -r kind arg want envs; do
		[ -n "$kind" ] || continue
		i=$((i + 1))
		c=tar_malformed_$i
		hostile_tar "$T/$c.tar" "$kind" "$arg"
		cfg "$c" <<EOF
rootfs: $c.tar
command: [/bin/true]
EOF
		# shellcheck disable=SC2086
		run "$c" env $envs
		if [ "$rc" != 1 ] || ! has "$c" "unpacking the rootfs: .*$want"; then
			why="$why $kind '$arg': rc=$rc, $(grep -v '^$' "$T/$c.out" | head -1);"
		fi
		[ -z "$(leftovers "$c")" ] || why="$why $kind '$arg': left $(leftovers "$c");"
	done <<'EOF'
pax|1 |at offset 512: length too short for a record
pax|2 |length too short for a record
pax|4 x\n|no '=' in the record
pax|9 pathxx\n|no '=' in the record
pax|0 path=x\n|length past the header
pax|99 path=x\n|length past the header
pax|99999999999999999999999 path=x\n|length past the header
pax|a path=x\n|no decimal length
pax| 9 path=x\n|no decimal length
pax|9path=xx\n|no space after the length
pax|12 path=abc|length past the header
pax|11 path=abcd|no newline at the end
pax|6 =xy\n|empty key
pax|12 size=12a\n|bad size
pax|11 size=-1\n|bad size
pax|32 size=99999999999999999999999\n|bad size
pax|19 uid=99999999999\n|bad uid or gid
pax|15 mtime=1.2.3\n|bad mtime
pax|22 GNU.sparse.major=1\n|sparse files are not supported
truncated-header||truncated archive
truncated-data||truncated archive
bad-checksum||bad header checksum
bad-number||bad size field
gzip-cut||truncated archive
gzip-bomb|200|more than 67108864 bytes|VESSEL_UNPACK_MAX_BYTES=67108864
many-entries|500|more than 100 entries|VESSEL_UNPACK_MAX_ENTRIES=100
EOF
	if [ -z "$why" ]; then
		ok tar_malformed
	else
		bad tar_malformed "$why"
	fi
}

for t in $(pick_tests "$ALL_TESTS" "$CGROUP_TESTS" "$@"); do
	"t_$t"
done
finish

#!/usr/bin/env bash
# OCI runtime tests: `VESSEL=/abs/vessel tests/oci/run.sh [NAME...]`.
#
# Builds a busybox bundle (rootfs + a config.json written here, after
# the runtime-spec's example) in a temporary directory and drives
# vessel-runc (a symlink to $VESSEL) through create, start, state, kill,
# pause, resume and delete, each a separate process, checking what the
# container did (its output, its cgroup files, its processes) and what is
# left behind. With podman installed also podman with
# --runtime vessel-runc (podman_* tests; SKIP without podman), and with
# containerd installed a private containerd driven by ctr with
# --runc-binary vessel-runc (containerd_* tests; CTR_SNAPSHOTTER picks the
# snapshotter: overlayfs where the kernel has it, else native).
# Prints ok/FAIL/SKIP per test and "N passed, N failed[, N skipped]".
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
VESSEL=${VESSEL:-$HERE/../../vessel}
# shellcheck source=tests/lib/report.sh
. "$(dirname "$0")/../lib/report.sh"

ALL_TESTS="version lifecycle pause_resume kill_all delete_running
delete_after_sigkill exit_codes resources cgroups_path hostile_spec
exists_twice systemd_cgroup features list_json exec hooks hook_fails
hooks_container create_container_fails start_container_fails
start_container_timeout update seccomp
podman_exit_code podman_limits podman_tty podman_exec podman_stop_rm
containerd_run containerd_exec_kill"

if [ "$(id -u)" -ne 0 ]; then
	for t in $ALL_TESTS; do skipped "$t" "needs root"; done
	finish
fi
BUSYBOX=$(command -v busybox)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q static; then
	BUSYBOX=/bin/busybox
fi

T=$(mktemp -d /tmp/vessel-oci.XXXXXX)
chmod 755 "$T"
RUNC=$T/vessel-runc
ln -s "$VESSEL" "$RUNC"
ROOT=$T/state
R() { "$RUNC" --root "$ROOT" "$@"; }
CONTAINERD_PID=''
cleanup() {
	local id
	for id in $(R list -q 2>/dev/null); do R delete --force "$id" >/dev/null 2>&1; done
	if [ -n "$CONTAINERD_PID" ]; then
		kill "$CONTAINERD_PID" 2>/dev/null
		wait "$CONTAINERD_PID" 2>/dev/null
	fi
	# What podman's overlay driver and containerd left mounted under $T,
	# innermost first.
	awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

# mkbundle DIR: a busybox rootfs in DIR/rootfs.
mkrootfs() {
	local r=$1/rootfs a
	mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/etc"
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
}
mkrootfs "$T/base"

# bundle NAME ARGS_JSON [LINUX_EXTRA_JSON] [TOP_EXTRA_JSON]: a bundle
# T/NAME sharing the base rootfs; prints its path.
bundle() {
	local b=$T/$1
	mkdir -p "$b"
	[ -e "$b/rootfs" ] || ln -s ../base/rootfs "$b/rootfs"
	cat >"$b/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": $2,
    "env": [ "PATH=/bin", "TERM=xterm" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "ocitest",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid" ] },
    { "destination": "/out", "type": "bind", "source": "$T/out", "options": [ "rbind", "rw" ] }
  ],
  "linux": {
    "namespaces": [ { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                    { "type": "uts" }, { "type": "mount" } ],
    "maskedPaths": [ "/proc/kcore", "/proc/keys", "/sys/firmware" ],
    "readonlyPaths": [ "/proc/sys", "/proc/sysrq-trigger" ]${3:+,
    $3}
  }${4:+,
  $4}
}
JSON
	echo "$b"
}
mkdir -p "$T/out"

state_of() { R state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
# wait_state ID STATE: up to 5 s.
wait_state() {
	local i
	for i in $(seq 50); do
		[ "$(state_of "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
cgroup_dirs() { tr ',' '\n' <"$ROOT/$1/state.json" | sed -n 's/.*"\(\/sys\/fs\/cgroup\/[^"]*\)".*/\1/p'; }

test_version() {
	local out
	out=$("$RUNC" --version)
	if [ "$(echo "$out" | wc -l)" -eq 3 ] && echo "$out" | grep -q '^vessel-runc version ' &&
		echo "$out" | grep -q '^commit: ' && echo "$out" | grep -q '^spec: 1\.'; then
		ok version
	else
		bad version "not runc's three lines: $out"
	fi
}

test_lifecycle() {
	local b log=$T/lifecycle.log st pid
	b=$(bundle lifecycle '["sh", "-c", "echo started $(hostname) > /out/lifecycle; touch /ro 2>/dev/null || echo rootro >> /out/lifecycle; exec sleep 1000"]')
	rm -f "$T/out/lifecycle"
	if ! (cd "$b" && R create --pid-file "$T/lc.pid" lifecycle) >"$log" 2>&1; then
		bad lifecycle "create failed" "$log"; return
	fi
	st=$(state_of lifecycle)
	pid=$(cat "$T/lc.pid" 2>/dev/null)
	if [ "$st" != created ] || [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || [ -e "$T/out/lifecycle" ]; then
		bad lifecycle "after create: state '$st', pid '$pid', or the command already ran"; return
	fi
	if ! R start lifecycle >>"$log" 2>&1 || ! wait_state lifecycle running; then
		bad lifecycle "start: state $(state_of lifecycle)" "$log"; return
	fi
	sleep 0.3
	if ! grep -q '^started ocitest$' "$T/out/lifecycle" 2>/dev/null ||
		! grep -q '^rootro$' "$T/out/lifecycle"; then
		bad lifecycle "the command did not run as configured: $(cat "$T/out/lifecycle" 2>&1)"; return
	fi
	R kill lifecycle KILL >>"$log" 2>&1
	if ! wait_state lifecycle stopped; then
		bad lifecycle "after kill: $(state_of lifecycle)" "$log"; return
	fi
	if ! R delete lifecycle >>"$log" 2>&1 || [ -e "$ROOT/lifecycle" ]; then
		bad lifecycle "delete left $ROOT/lifecycle" "$log"; return
	fi
	ok lifecycle
}

test_pause_resume() {
	local b log=$T/pause.log n1 n2
	b=$(bundle pause '["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /out/count; sleep 0.05; done"]')
	(cd "$b" && R create pause && R start pause) >"$log" 2>&1
	sleep 0.5
	if ! R pause pause >>"$log" 2>&1 || [ "$(state_of pause)" != paused ]; then
		bad pause_resume "pause: state $(state_of pause)" "$log"; R delete -f pause; return
	fi
	n1=$(cat "$T/out/count"); sleep 0.5; n2=$(cat "$T/out/count")
	if [ "$n1" != "$n2" ]; then
		bad pause_resume "the counter went on while paused ($n1 -> $n2)"; R delete -f pause; return
	fi
	if ! R resume pause >>"$log" 2>&1 || [ "$(state_of pause)" != running ]; then
		bad pause_resume "resume: state $(state_of pause)" "$log"; R delete -f pause; return
	fi
	sleep 0.5; n2=$(cat "$T/out/count")
	R delete --force pause >>"$log" 2>&1
	if [ "$n1" = "$n2" ]; then
		bad pause_resume "the counter did not go on after resume"; return
	fi
	ok pause_resume
}

test_kill_all() {
	local b log=$T/killall.log n
	# PID 1 has a TERM handler; its children (sleep) die of TERM.
	b=$(bundle killall '["sh", "-c", "trap \"echo pid1-term >> /out/killall\" TERM; sleep 1000 & sleep 1000 & echo up > /out/killall; while :; do sleep 0.1; done"]')
	rm -f "$T/out/killall"
	(cd "$b" && R create killall && R start killall) >"$log" 2>&1
	sleep 0.5
	n=$(R ps --format json killall | tr ',' ' ' | wc -w)
	R kill --all killall TERM >>"$log" 2>&1
	sleep 0.5
	# Left: PID 1 and at most its sleep 0.1 of the moment.
	if grep -q pid1-term "$T/out/killall" 2>/dev/null && [ "$n" -ge 3 ] &&
		[ "$(R ps --format json killall | tr ',' ' ' | wc -w)" -le 2 ] &&
		[ "$(state_of killall)" = running ]; then
		ok kill_all
	else
		bad kill_all "kill --all TERM: $(cat "$T/out/killall" 2>&1), $n processes before, $(R ps --format json killall) after, state $(state_of killall)" "$log"
	fi
	R delete --force killall >/dev/null 2>&1
}

test_delete_running() {
	local b log=$T/delrun.log dirs d
	b=$(bundle delrun '["sleep", "1000"]')
	(cd "$b" && R create delrun && R start delrun) >"$log" 2>&1
	dirs=$(cgroup_dirs delrun)
	if R delete delrun >>"$log" 2>&1; then
		bad delete_running "delete of a running container without --force succeeded"; return
	fi
	if ! R delete --force delrun >>"$log" 2>&1; then
		bad delete_running "delete --force failed" "$log"; return
	fi
	for d in $dirs; do
		[ ! -d "$d" ] || { bad delete_running "cgroup $d left"; return; }
	done
	[ ! -e "$ROOT/delrun" ] || { bad delete_running "state dir left"; return; }
	ok delete_running
}

test_delete_after_sigkill() {
	local b log=$T/sigkill.log dirs d p pids
	b=$(bundle sigkill '["sh", "-c", "sleep 1000 & sleep 1000 & exec sleep 1000"]')
	(cd "$b" && R create sigkill && R start sigkill) >"$log" 2>&1
	sleep 0.3
	dirs=$(cgroup_dirs sigkill)
	pids=$(R ps --format json sigkill | tr -d '[]' | tr ',' ' ')
	if [ -z "$dirs" ] || [ "$(echo "$pids" | wc -w)" -lt 3 ]; then
		bad delete_after_sigkill "expected 3 processes and a cgroup: pids '$pids', dirs '$dirs'" "$log"; return
	fi
	# SIGKILL to everything of the container's, from outside.
	for p in $pids; do kill -9 "$p"; done
	wait_state sigkill stopped || { bad delete_after_sigkill "state $(state_of sigkill) after SIGKILL"; return; }
	if ! R delete sigkill >>"$log" 2>&1; then
		bad delete_after_sigkill "delete failed" "$log"; return
	fi
	for d in $dirs; do
		[ ! -d "$d" ] || { bad delete_after_sigkill "cgroup $d left"; return; }
	done
	if [ -e "$ROOT/sigkill" ]; then bad delete_after_sigkill "state dir left"; return; fi
	if grep -q "$T/base/rootfs" /proc/self/mountinfo; then
		bad delete_after_sigkill "a mount of the rootfs is left in the host's namespace"; return
	fi
	ok delete_after_sigkill
}

test_exit_codes() {
	local b log=$T/codes.log r1 r2 r3 r4 r5
	b=$(bundle codes '["sleep", "1000"]')
	(cd "$b" && R create codes) >"$log" 2>&1
	R start nosuch >>"$log" 2>&1; r1=$?
	R kill codes NOSUCHSIG >>"$log" 2>&1; r2=$?
	R start codes >>"$log" 2>&1; r3=$?
	R start codes >>"$log" 2>&1; r4=$?
	R delete --force codes >>"$log" 2>&1; r5=$?
	R delete --force codes >>"$log" 2>&1; r6=$?
	if [ $r1 = 1 ] && [ $r2 = 1 ] && [ $r3 = 0 ] && [ $r4 = 1 ] && [ $r5 = 0 ] && [ $r6 = 0 ]; then
		ok exit_codes
	else
		bad exit_codes "start nosuch $r1 (1), bad signal $r2 (1), start $r3 (0), start again $r4 (1), delete -f $r5 (0), again $r6 (0)" "$log"
	fi
}

test_resources() {
	local b log=$T/res.log dirs d mem='' pids=''
	b=$(bundle res '["sleep", "1000"]' '"resources": { "memory": { "limit": 67108864 }, "pids": { "limit": 42 }, "devices": [ { "allow": false, "access": "rwm" } ] }')
	if ! (cd "$b" && R create res) >"$log" 2>&1; then bad resources "create failed" "$log"; return; fi
	for d in $(cgroup_dirs res); do
		[ -f "$d/memory.limit_in_bytes" ] && mem=$(cat "$d/memory.limit_in_bytes")
		[ -f "$d/memory.max" ] && mem=$(cat "$d/memory.max")
		[ -f "$d/pids.max" ] && pids=$(cat "$d/pids.max")
	done
	R delete --force res >/dev/null 2>&1
	if [ "$mem" = 67108864 ] && [ "$pids" = 42 ]; then
		ok resources
	else
		bad resources "memory '$mem' (67108864), pids '$pids' (42)" "$log"
	fi
}

test_cgroups_path() {
	local b log=$T/cgp.log dirs
	b=$(bundle cgp '["sleep", "1000"]' '"cgroupsPath": "/vessel-oci-test/cgp"')
	if ! (cd "$b" && R create cgp) >"$log" 2>&1; then bad cgroups_path "create failed" "$log"; return; fi
	dirs=$(cgroup_dirs cgp)
	R delete --force cgp >/dev/null 2>&1
	if echo "$dirs" | grep -q '/vessel-oci-test/cgp$' && ! echo "$dirs" | grep -vq '/vessel-oci-test/cgp$'; then
		for d in $dirs; do
			[ ! -d "$d" ] || { bad cgroups_path "$d left after delete"; return; }
			rmdir "${d%/cgp}" 2>/dev/null
		done
		ok cgroups_path
	else
		bad cgroups_path "cgroup dirs: $dirs" "$log"
	fi
}

test_hostile_spec() {
	local b log=$T/hostile.log fails=''
	b=$(bundle hostile '["true"]' '"intelRdt": { "closID": "x" }')
	(cd "$b" && R create h1) >"$log" 2>&1 && fails="$fails intelRdt-accepted"
	grep -q 'linux.intelRdt: not supported' "$log" || fails="$fails no-field-name"
	b=$(bundle hostile2 '["true"]' '' '"windows": {}')
	(cd "$b" && R create h2) >"$log" 2>&1 && fails="$fails windows-accepted"
	grep -q 'windows: not supported' "$log" || fails="$fails no-windows-name"
	b=$(bundle hostile3 '["true"]')
	sed -i 's|"path": "rootfs"|"path": "../../etc"|' "$b/config.json"
	(cd "$b" && R create h3) >"$log" 2>&1 && fails="$fails dotdot-root-accepted"
	grep -q "root.path: .*'\.\.'" "$log" || fails="$fails no-dotdot-message"
	printf '{"ociVersion": "1.0.2", "process": ' >"$b/config.json"
	(cd "$b" && R create h4) >"$log" 2>&1 && fails="$fails truncated-accepted"
	[ -z "$(R list -q)" ] || fails="$fails state-left:$(R list -q | tr '\n' ' ')"
	if [ -z "$fails" ]; then ok hostile_spec; else bad hostile_spec "$fails" "$log"; fi
}

test_exists_twice() {
	local b log=$T/twice.log
	b=$(bundle twice '["sleep", "1000"]')
	(cd "$b" && R create twice) >"$log" 2>&1
	if (cd "$b" && R create twice) >>"$log" 2>&1 || ! grep -q 'exists already' "$log" ||
		[ "$(state_of twice)" != created ]; then
		bad exists_twice "a second create of the same id" "$log"
	else
		ok exists_twice
	fi
	R delete --force twice >/dev/null 2>&1
}

test_systemd_cgroup() {
	local out
	if out=$("$RUNC" --systemd-cgroup list 2>&1); then
		bad systemd_cgroup "accepted"
	elif echo "$out" | grep -q 'cgroupfs'; then
		ok systemd_cgroup
	else
		bad systemd_cgroup "unclear error: $out"
	fi
}

test_features() {
	local f
	f=$("$RUNC" features 2>&1)
	if echo "$f" | grep -q '"ociVersionMax": *"1.0.2"' &&
		[ "$(echo "$f" | tr -d ' \n' | sed -n 's/.*"hooks":\[\([^]]*\)\].*/\1/p')" = '"prestart","createRuntime","createContainer","startContainer","poststart","poststop"' ]; then
		ok features
	else
		bad features "$f"
	fi
}

test_list_json() {
	local b out
	b=$(bundle listj '["sleep", "1000"]')
	(cd "$b" && R create listj) >/dev/null 2>&1
	out=$(R list --format json)
	R delete --force listj >/dev/null 2>&1
	if echo "$out" | grep -q '"id":"listj"' && echo "$out" | grep -q '"status":"created"'; then
		ok list_json
	else
		bad list_json "$out"
	fi
}

test_exec() {
	local b log=$T/exec.log out r
	b=$(bundle exec '["sleep", "1000"]')
	(cd "$b" && R create exec && R start exec) >"$log" 2>&1
	out=$(R exec exec sh -c 'echo pid=$$ host=$(hostname); exit 7' 2>>"$log"); r=$?
	cat >"$T/process.json" <<JSON
{ "args": ["sh", "-c", "id -u; exit 3"], "cwd": "/tmp", "env": ["PATH=/bin"],
  "user": { "uid": 1000, "gid": 1000 } }
JSON
	out2=$(R exec --process "$T/process.json" --pid-file "$T/exec.pid" exec 2>>"$log"); r2=$?
	R delete --force exec >/dev/null 2>&1
	# pid 1 is sleep: the exec'd shell has another pid in the container's namespace.
	if [ "$r" = 7 ] && echo "$out" | grep -q '^pid=[0-9]* host=ocitest$' &&
		! echo "$out" | grep -q '^pid=1 ' && [ "$r2" = 3 ] && [ "$out2" = 1000 ] &&
		[ -s "$T/exec.pid" ]; then
		ok exec
	else
		bad exec "exec: '$out' status $r (7); --process: '$out2' status $r2 (1000, 3)" "$log"
	fi
}

test_update() {
	local b log=$T/update.log d mem='' pids=''
	b=$(bundle update '["sleep", "1000"]' '"resources": { "memory": { "limit": 67108864 }, "pids": { "limit": 42 } }')
	(cd "$b" && R create update) >"$log" 2>&1
	echo '{ "memory": { "limit": 33554432 }, "pids": { "limit": 17 } }' |
		R update --resources - update >>"$log" 2>&1
	for d in $(cgroup_dirs update); do
		[ -f "$d/memory.limit_in_bytes" ] && mem=$(cat "$d/memory.limit_in_bytes")
		[ -f "$d/memory.max" ] && mem=$(cat "$d/memory.max")
		[ -f "$d/pids.max" ] && pids=$(cat "$d/pids.max")
	done
	R delete --force update >/dev/null 2>&1
	if [ "$mem" = 33554432 ] && [ "$pids" = 17 ]; then
		ok update
	else
		bad update "memory '$mem' (33554432), pids '$pids' (17)" "$log"
	fi
}

# hook STAGE: a hook that saves its stdin (the state) and what /out held.
hook() {
	echo "{ \"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"cat > $T/out/$1.json; ls $T/out > $T/out/$1.ls\"], \"timeout\": 10 }"
}

test_hooks() {
	local b log=$T/hooks.log s fails=''
	rm -f "$T/out/"*.json "$T/out/"*.ls "$T/out/ran"
	b=$(bundle hooks '["sh", "-c", "touch /out/ran; exec sleep 1000"]' '' "\"hooks\": { \"prestart\": [ $(hook prestart) ], \"createRuntime\": [ $(hook createRuntime) ], \"poststart\": [ $(hook poststart) ], \"poststop\": [ $(hook poststop) ] }")
	(cd "$b" && R create hooks) >"$log" 2>&1 || fails="$fails create"
	for s in prestart createRuntime; do
		grep -q '"status":"creating"' "$T/out/$s.json" 2>/dev/null &&
			grep -q '"id":"hooks"' "$T/out/$s.json" &&
			! grep -q '"pid":0' "$T/out/$s.json" || fails="$fails $s-state"
		! grep -qx ran "$T/out/$s.ls" 2>/dev/null || fails="$fails $s-too-late"
	done
	[ ! -e "$T/out/poststart.json" ] || fails="$fails poststart-before-start"
	R start hooks >>"$log" 2>&1
	grep -q '"status":"running"' "$T/out/poststart.json" 2>/dev/null || fails="$fails poststart-state"
	[ ! -e "$T/out/poststop.json" ] || fails="$fails poststop-too-early"
	R delete --force hooks >>"$log" 2>&1
	grep -q '"status":"stopped"' "$T/out/poststop.json" 2>/dev/null || fails="$fails poststop-state"
	if [ -z "$fails" ]; then ok hooks; else bad hooks "$fails" "$log"; fi
}

# The six stages, each appending its name to out/order and saving its
# state and the mount namespace it ran in. createContainer's path is a
# host-only file and it writes into the container's /tmp (a tmpfs only
# its mount namespace has) through the rootfs path; startContainer's path
# exists only in the rootfs and it writes into its own /tmp and, through
# the /out bind mount, the same records.
test_hooks_container() {
	local b log=$T/hooks-ct.log s fails='' pid ns hb=$T/hookbin
	b=$T/hooksct
	mkdir -p "$hb" "$b"
	rm -f "$T/out/"*.json "$T/out/"*.ns "$T/out/order" "$T/out/ctran" "$T/out/sc.root"
	rm -f "$T/base/rootfs/tmp/cc-marker"
	cat >"$hb/cc.sh" <<SH
#!/bin/sh
cat > $T/out/createContainer.json
echo createContainer >> $T/out/order
readlink /proc/self/ns/mnt > $T/out/createContainer.ns
echo cc > $b/rootfs/tmp/cc-marker
SH
	cat >"$T/base/rootfs/vessel-sc-hook" <<'SH'
#!/bin/sh
cat > /out/startContainer.json
echo startContainer >> /out/order
readlink /proc/self/ns/mnt > /out/startContainer.ns
[ -e /vessel-sc-hook ] && [ ! -e /work ] && echo container-root > /out/sc.root
echo sc > /tmp/sc-marker
SH
	chmod 755 "$hb/cc.sh" "$T/base/rootfs/vessel-sc-hook"
	# host hook STAGE: appends to out/order too.
	hh() { echo "{ \"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"cat > $T/out/$1.json; echo $1 >> $T/out/order\"], \"timeout\": 10 }"; }
	b=$(bundle hooksct '["sh", "-c", "cat /tmp/cc-marker /tmp/sc-marker > /out/ctran; exec sleep 1000"]' '' "\"hooks\": { \"prestart\": [ $(hh prestart) ], \"createRuntime\": [ $(hh createRuntime) ], \"createContainer\": [ { \"path\": \"$hb/cc.sh\", \"timeout\": 10 } ], \"startContainer\": [ { \"path\": \"/vessel-sc-hook\", \"timeout\": 10 } ], \"poststart\": [ $(hh poststart) ], \"poststop\": [ $(hh poststop) ] }")
	(cd "$b" && R create --pid-file "$T/hooksct.pid" hooksct) >"$log" 2>&1 || fails="$fails create"
	pid=$(cat "$T/hooksct.pid" 2>/dev/null)
	ns=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)
	[ "$(tr '\n' ' ' 2>/dev/null <"$T/out/order")" = "prestart createRuntime createContainer " ] ||
		fails="$fails order-after-create:'$(tr '\n' ' ' 2>/dev/null <"$T/out/order")'"
	grep -q '"status":"creating"' "$T/out/createContainer.json" 2>/dev/null &&
		grep -q "\"pid\":$pid," "$T/out/createContainer.json" || fails="$fails createContainer-state"
	[ -n "$ns" ] && [ "$(cat "$T/out/createContainer.ns" 2>/dev/null)" = "$ns" ] &&
		[ "$ns" != "$(readlink /proc/self/ns/mnt)" ] || fails="$fails createContainer-not-in-container-ns"
	[ ! -e "$T/base/rootfs/tmp/cc-marker" ] || fails="$fails createContainer-wrote-the-host-dir"
	[ ! -e "$T/out/startContainer.json" ] || fails="$fails startContainer-at-create"
	R start hooksct >>"$log" 2>&1 || fails="$fails start"
	for _ in $(seq 50); do [ -s "$T/out/ctran" ] && break; sleep 0.1; done
	grep -q '"status":"created"' "$T/out/startContainer.json" 2>/dev/null &&
		grep -q "\"pid\":$pid," "$T/out/startContainer.json" &&
		grep -q '"created":"2' "$T/out/startContainer.json" || fails="$fails startContainer-state"
	[ "$(cat "$T/out/startContainer.ns" 2>/dev/null)" = "$ns" ] || fails="$fails startContainer-not-in-container-ns"
	[ "$(cat "$T/out/sc.root" 2>/dev/null)" = container-root ] || fails="$fails startContainer-not-after-pivot"
	[ "$(tr '\n' ' ' 2>/dev/null <"$T/out/ctran")" = "cc sc " ] || fails="$fails process-saw:'$(cat "$T/out/ctran" 2>/dev/null)'"
	R delete --force hooksct >>"$log" 2>&1
	s=$(tr '\n' ' ' 2>/dev/null <"$T/out/order")
	[ "$s" = "prestart createRuntime createContainer startContainer poststart poststop " ] || fails="$fails order:'$s'"
	rm -f "$T/base/rootfs/vessel-sc-hook"
	if [ -z "$fails" ]; then ok hooks_container; else bad hooks_container "$fails" "$log"; fi
}

# A failing createContainer hook fails create: no state, cgroup, process
# or mount is left.
test_create_container_fails() {
	local b log=$T/ccfail.log fails=''
	b=$(bundle ccfail '["sh", "-c", "touch /out/ccfail-ran; exec sleep 1000"]' '"cgroupsPath": "/vessel-oci-test/ccfail"' '"hooks": { "createContainer": [ { "path": "/bin/false" } ] }')
	rm -f "$T/out/ccfail-ran"
	if (cd "$b" && R create ccfail) >"$log" 2>&1; then fails="$fails create-succeeded"; fi
	grep -q 'hooks.createContainer\[0\] (/bin/false): exited with status 1' "$log" || fails="$fails no-message"
	[ ! -e "$ROOT/ccfail" ] || fails="$fails state-left"
	! find /sys/fs/cgroup -maxdepth 3 -path '*vessel-oci-test/ccfail' 2>/dev/null | grep -q . || fails="$fails cgroup-left"
	! grep -q "$T" /proc/self/mountinfo || fails="$fails bundle-mounted"
	[ ! -e "$T/out/ccfail-ran" ] || fails="$fails process-ran"
	if [ -z "$fails" ]; then ok create_container_fails; else bad create_container_fails "$fails" "$log"; fi
	find /sys/fs/cgroup -maxdepth 2 -type d -name vessel-oci-test -exec rmdir {} + 2>/dev/null
}

# A failing startContainer hook fails start: the command never runs, the
# container is stopped and delete removes it.
test_start_container_fails() {
	local b log=$T/scfail.log fails=''
	b=$(bundle scfail '["sh", "-c", "touch /out/scfail-ran; exec sleep 1000"]' '"cgroupsPath": "/vessel-oci-test/scfail"' '"hooks": { "startContainer": [ { "path": "/bin/false", "timeout": 5 } ], "poststart": [ { "path": "/bin/sh", "args": ["sh", "-c", "touch '"$T"'/out/scfail-poststart"] } ] }')
	rm -f "$T/out/scfail-ran" "$T/out/scfail-poststart"
	(cd "$b" && R create scfail) >"$log" 2>&1 || fails="$fails create"
	if R start scfail >>"$log" 2>&1; then fails="$fails start-succeeded"; fi
	grep -q 'hooks.startContainer\[0\] (/bin/false): exited with status 1' "$log" || fails="$fails no-message"
	wait_state scfail stopped || fails="$fails state:$(state_of scfail)"
	sleep 0.3
	[ ! -e "$T/out/scfail-ran" ] || fails="$fails process-ran"
	[ ! -e "$T/out/scfail-poststart" ] || fails="$fails poststart-ran"
	R delete scfail >>"$log" 2>&1 || fails="$fails delete"
	[ ! -e "$ROOT/scfail" ] || fails="$fails state-left"
	! find /sys/fs/cgroup -maxdepth 3 -path '*vessel-oci-test/scfail' 2>/dev/null | grep -q . || fails="$fails cgroup-left"
	if [ -z "$fails" ]; then ok start_container_fails; else bad start_container_fails "$fails" "$log"; fi
	find /sys/fs/cgroup -maxdepth 2 -type d -name vessel-oci-test -exec rmdir {} + 2>/dev/null
}

# A startContainer hook past its timeout is killed and fails start.
test_start_container_timeout() {
	local b log=$T/sctime.log fails='' t0 t1
	b=$(bundle sctime '["sh", "-c", "touch /out/sctime-ran; exec sleep 1000"]' '' '"hooks": { "startContainer": [ { "path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1 } ] }')
	rm -f "$T/out/sctime-ran"
	(cd "$b" && R create sctime) >"$log" 2>&1 || fails="$fails create"
	t0=$(date +%s)
	if R start sctime >>"$log" 2>&1; then fails="$fails start-succeeded"; fi
	t1=$(date +%s)
	[ $((t1 - t0)) -lt 10 ] || fails="$fails took-$((t1 - t0))s"
	grep -q 'hooks.startContainer\[0\] (/bin/sleep): timed out after 1 s' "$log" || fails="$fails no-message"
	wait_state sctime stopped || fails="$fails state:$(state_of sctime)"
	[ ! -e "$T/out/sctime-ran" ] || fails="$fails process-ran"
	R delete sctime >>"$log" 2>&1 || fails="$fails delete"
	[ ! -e "$ROOT/sctime" ] || fails="$fails state-left"
	if [ -z "$fails" ]; then ok start_container_timeout; else bad start_container_timeout "$fails" "$log"; fi
}

test_hook_fails() {
	local b log=$T/hookfail.log fails=''
	b=$(bundle hookfail '["sleep", "1000"]' '"cgroupsPath": "/vessel-oci-test/hookfail"' '"hooks": { "prestart": [ { "path": "/bin/false" } ] }')
	if (cd "$b" && R create hookfail) >"$log" 2>&1; then fails="$fails create-succeeded"; fi
	grep -q 'hooks.prestart\[0\] (/bin/false): exited with status 1' "$log" || fails="$fails no-message"
	[ ! -e "$ROOT/hookfail" ] || fails="$fails state-left"
	! find /sys/fs/cgroup -maxdepth 3 -path '*vessel-oci-test/hookfail' 2>/dev/null | grep -q . || fails="$fails cgroup-left"
	if [ -z "$fails" ]; then ok hook_fails; else bad hook_fails "$fails" "$log"; fi
	find /sys/fs/cgroup -maxdepth 2 -type d -name vessel-oci-test -exec rmdir {} + 2>/dev/null
}

# linux.seccomp is what the container runs under: mkdir fails with the
# profile's errnoRet (ENOSYS) while touch works. The filter compiled at the
# first create is kept in ROOT/.seccomp and read back by the second (the
# same file, not rewritten); a damaged file is compiled again and replaced.
test_seccomp() {
	local b log=$T/seccomp.log fails='' r f ino='' ino2
	b=$(bundle seccomp '["sh", "-c", "mkdir /tmp/d 2>/out/seccomp.err; echo mkdir=$? > /out/seccomp; touch /tmp/f && echo touch=ok >> /out/seccomp"]' \
		'"seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "architectures": [ "SCMP_ARCH_X86_64" ], "syscalls": [ { "names": [ "mkdir", "mkdirat" ], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 } ] }')
	rm -rf "$ROOT/.seccomp"
	: >"$log"
	for r in 1 2 3; do
		rm -f "$T/out/seccomp" "$T/out/seccomp.err"
		if [ "$r" = 3 ]; then
			for f in "$ROOT"/.seccomp/*; do printf 'bad' >"$f"; done
		fi
		(cd "$b" && R create "sc$r" && R start "sc$r") >>"$log" 2>&1 || fails="$fails create-or-start-$r"
		wait_state "sc$r" stopped || fails="$fails not-stopped-$r"
		[ "$(tr '\n' ' ' <"$T/out/seccomp" 2>/dev/null)" = "mkdir=1 touch=ok " ] &&
			grep -q 'Function not implemented' "$T/out/seccomp.err" 2>/dev/null ||
			fails="$fails not-filtered-$r:'$(cat "$T/out/seccomp" "$T/out/seccomp.err" 2>&1 | tr '\n' ' ')'"
		R delete "sc$r" >>"$log" 2>&1 || fails="$fails delete-$r"
		set -- "$ROOT"/.seccomp/[!.]*
		if [ $# != 1 ] || [ ! -f "$1" ] || [ $(($(stat -c %s "$1") % 8)) != 4 ]; then
			fails="$fails cache-$r:'$*'"
			continue
		fi
		ino2=$(stat -c %i "$1")
		case $r in
		2) [ "$ino2" = "$ino" ] || fails="$fails rewritten" ;;
		3) [ "$ino2" != "$ino" ] || fails="$fails damaged-kept" ;;
		esac
		ino=$ino2
	done
	if [ -z "$fails" ]; then ok seccomp; else bad seccomp "$fails" "$log"; fi
}

# ---- podman ---------------------------------------------------------------
PODMAN_IMAGE=localhost/vessel-oci-busybox:test
# overlayfs where the kernel has it (the nested test host's may not), else
# the copying drivers: podman's vfs, containerd's native snapshotter.
if grep -qw overlay /proc/filesystems 2>/dev/null || modprobe overlay 2>/dev/null; then
	PODMAN_DRIVER=overlay SNAP=${CTR_SNAPSHOTTER:-overlayfs}
else
	PODMAN_DRIVER=vfs SNAP=${CTR_SNAPSHOTTER:-native}
fi
# podman with its own storage under $T: the machine's podman state is left
# alone, and it works where / is read-only (the nested test host).
PM() {
	podman --root "$T/podman/root" --runroot "$T/podman/run" --tmpdir "$T/podman/tmp" \
		--network-config-dir "$T/podman/net" --storage-driver "$PODMAN_DRIVER" \
		--events-backend file --cgroup-manager cgroupfs "$@"
}
P() { PM --runtime "$RUNC" "$@"; }
podman_ready() {
	command -v podman >/dev/null 2>&1 || return 1
	[ -n "${PODMAN_READY:-}" ] && return 0
	mkdir -p "$T/podman/net"
	tar -C "$T/base/rootfs" -cf "$T/busybox.tar" . &&
		PM import "$T/busybox.tar" "$PODMAN_IMAGE" >"$T/podman-import.log" 2>&1 || return 1
	PODMAN_READY=1
}

test_podman_exit_code() {
	local r log=$T/podman-exit.log
	podman_ready || { skipped podman_exit_code "no podman (or podman import failed)"; return; }
	P run --rm --network none "$PODMAN_IMAGE" sh -c 'exit 3' >"$log" 2>&1; r=$?
	if [ "$r" = 3 ]; then ok podman_exit_code; else bad podman_exit_code "exit status $r, not 3" "$log"; fi
}

test_podman_limits() {
	local out log=$T/podman-limits.log
	podman_ready || { skipped podman_limits "no podman (or podman import failed)"; return; }
	out=$(P run --rm --network none --memory 64m --pids-limit 77 "$PODMAN_IMAGE" sh -c '
		for d in /sys/fs/cgroup/memory /sys/fs/cgroup; do
			cat $d/memory.limit_in_bytes $d/memory.max 2>/dev/null; done
		cat /proc/self/cgroup' 2>"$log")
	echo "$out" >>"$log"
	# The container's cgroup files are not mounted in under cgroup v1:
	# read them on the host through /proc/PID/cgroup instead.
	if P run -d --name vessel-oci-limits --network none --memory 64m --pids-limit 77 \
		"$PODMAN_IMAGE" sleep 1000 >>"$log" 2>&1; then
		local pid m p
		pid=$(PM inspect -f '{{.State.Pid}}' vessel-oci-limits)
		m=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$pid/cgroup")
		p=$(awk -F: '$2 ~ /(^|,)pids(,|$)/ { print $3 }' "/proc/$pid/cgroup")
		m=$(cat "/sys/fs/cgroup/memory$m/memory.limit_in_bytes" 2>/dev/null ||
			cat "/sys/fs/cgroup$(awk -F: '$1 == 0 { print $3 }' "/proc/$pid/cgroup")/memory.max")
		p=$(cat "/sys/fs/cgroup/pids$p/pids.max" 2>/dev/null ||
			cat "/sys/fs/cgroup$(awk -F: '$1 == 0 { print $3 }' "/proc/$pid/cgroup")/pids.max")
		P rm -f vessel-oci-limits >>"$log" 2>&1
		if [ "$m" = 67108864 ] && [ "$p" = 77 ]; then
			ok podman_limits
		else
			bad podman_limits "memory '$m' (67108864), pids '$p' (77)" "$log"
		fi
	else
		P rm -f vessel-oci-limits >/dev/null 2>&1
		bad podman_limits "podman run -d failed" "$log"
	fi
}

test_podman_tty() {
	local out log=$T/podman-tty.log
	podman_ready || { skipped podman_tty "no podman (or podman import failed)"; return; }
	out=$(P run --rm -t --network none "$PODMAN_IMAGE" sh -c 'test -t 0 && test -t 1 && echo is-a-tty' 2>"$log")
	if echo "$out" | grep -q is-a-tty; then ok podman_tty; else bad podman_tty "no tty: '$out'" "$log"; fi
}

test_podman_exec() {
	local out r log=$T/podman-exec.log
	podman_ready || { skipped podman_exec "no podman (or podman import failed)"; return; }
	P run -d --name vessel-oci-exec --network none "$PODMAN_IMAGE" sleep 1000 >"$log" 2>&1
	out=$(P exec vessel-oci-exec sh -c 'echo exec-ok; exit 5' 2>>"$log"); r=$?
	tty=$(P exec -t vessel-oci-exec tty 2>>"$log")
	P rm -f vessel-oci-exec >>"$log" 2>&1
	if [ "$r" = 5 ] && [ "$out" = exec-ok ] && echo "$tty" | grep -q '^/dev/pts/'; then
		ok podman_exec
	else
		bad podman_exec "exec: '$out' status $r (exec-ok, 5); exec -t tty: '$tty'" "$log"
	fi
}

test_podman_stop_rm() {
	local log=$T/podman-stop.log id dirs d
	podman_ready || { skipped podman_stop_rm "no podman (or podman import failed)"; return; }
	id=$(P run -d --name vessel-oci-stop --network none "$PODMAN_IMAGE" sleep 1000 2>"$log")
	P stop -t 1 vessel-oci-stop >>"$log" 2>&1
	P rm vessel-oci-stop >>"$log" 2>&1
	if [ -z "$id" ] || PM ps -a --format '{{.Names}}' | grep -qx vessel-oci-stop; then
		bad podman_stop_rm "the container is still listed" "$log"; return
	fi
	# Nothing of it left: no cgroup, no runtime state.
	dirs=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "libpod-$id*" 2>/dev/null)
	dirs="$dirs$(find "$T/podman/run" /run -maxdepth 3 -name "$id*" 2>/dev/null)"
	if [ -n "$dirs" ]; then
		bad podman_stop_rm "left behind: $dirs" "$log"
	else
		ok podman_stop_rm
	fi
}

# ---- containerd (ctr, the runc shim with vessel-runc as its binary) ----------
CTR_IMAGE=localhost/vessel-oci-busybox:test
# A private containerd (its own root, state and socket under $T).
containerd_ready() {
	command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1 || return 1
	[ -n "$CONTAINERD_PID" ] && return 0
	mkdir -p "$T/cd"
	cat >"$T/cd/config.toml" <<TOML
version = 2
root = "$T/cd/root"
state = "$T/cd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/cd/sock"
TOML
	containerd --config "$T/cd/config.toml" >"$T/cd/log" 2>&1 &
	CONTAINERD_PID=$!
	for _ in $(seq 50); do [ -S "$T/cd/sock" ] && break; sleep 0.1; done
	python3 "$HERE/oci-image.py" "$T/base/rootfs" "$T/image.tar" &&
		C images import --snapshotter "$SNAP" --base-name localhost/vessel-oci-busybox "$T/image.tar" >>"$T/cd/log" 2>&1
}
C() { timeout 60 ctr --address "$T/cd/sock" "$@"; }

test_containerd_run() {
	local out r log=$T/ctr-run.log
	containerd_ready || { skipped containerd_run "no containerd/ctr (or the image import failed)"; return; }
	out=$(C run --snapshotter "$SNAP" --runc-binary "$RUNC" --rm "$CTR_IMAGE" vessel-ctr-run sh -c 'echo ran-in-ctr; exit 3' 2>"$log"); r=$?
	if [ "$r" = 3 ] && [ "$out" = ran-in-ctr ] && ! C containers ls -q | grep -qx vessel-ctr-run; then
		ok containerd_run
	else
		bad containerd_run "output '$out', status $r (ran-in-ctr, 3), or the container is still listed" "$log"
	fi
}

test_containerd_exec_kill() {
	local out r st dirs log=$T/ctr-exec.log fails=''
	containerd_ready || { skipped containerd_exec_kill "no containerd/ctr (or the image import failed)"; return; }
	C run -d --snapshotter "$SNAP" --runc-binary "$RUNC" "$CTR_IMAGE" vessel-ctr-exec sleep 1000 >"$log" 2>&1
	out=$(C task exec --exec-id e1 vessel-ctr-exec sh -c 'echo exec-ok; exit 4' 2>>"$log"); r=$?
	[ "$r" = 4 ] && [ "$out" = exec-ok ] || fails="$fails exec:'$out'/$r"
	C task kill -s KILL vessel-ctr-exec >>"$log" 2>&1
	for _ in $(seq 50); do
		st=$(C task ls 2>/dev/null | awk '$1 == "vessel-ctr-exec" { print $3 }')
		[ "$st" = STOPPED ] && break
		sleep 0.1
	done
	[ "$st" = STOPPED ] || fails="$fails kill:$st"
	C task delete vessel-ctr-exec >>"$log" 2>&1 || fails="$fails task-delete"
	C containers delete vessel-ctr-exec >>"$log" 2>&1 || fails="$fails container-delete"
	dirs=$(find /sys/fs/cgroup -maxdepth 4 -type d -name vessel-ctr-exec 2>/dev/null)
	[ -z "$dirs" ] || fails="$fails cgroup-left:$dirs"
	if [ -z "$fails" ]; then ok containerd_exec_kill; else bad containerd_exec_kill "$fails" "$log"; fi
}

tests=${*:-$ALL_TESTS}
for t in $tests; do
	"test_$t"
done
finish

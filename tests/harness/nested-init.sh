#!/bin/sh
# /init of the nested KVM host's initramfs (see nested-host.sh). Runs under
# busybox: loads virtio/9p and kvm-amd, mounts the outer host's / (read-only)
# and the repo (writable) over 9p, chroots into it and runs the command file
# named by vessel.run= on the kernel cmdline, then records its exit status
# and powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VESSEL-NESTED-INIT"

fail() {
	echo "VESSEL-NESTED-FAILED: $*"
	echo "VESSEL-NESTED-EXIT=125"
	poweroff -f
	sleep 30
}

# Module parameters come from the kernel cmdline as MODULE.PARAM=VALUE, as
# modprobe takes them (e.g. kvm_amd.npt=0 from NESTED_CMDLINE).
cmdline=$(cat /proc/cmdline)
while read -r m; do
	name=${m##*/}
	name=${name%.ko}
	name=$(echo "$name" | tr - _)
	args=''
	# shellcheck disable=SC2086 # words
	for a in $cmdline; do
		case $a in "$name".*=*) args="$args ${a#"$name".}" ;; esac
	done
	# shellcheck disable=SC2086 # one word per parameter
	insmod "$m" $args || echo "nested-init: insmod $m$args failed"
done </lib/modules/load-order
[ -c /dev/kvm ] || echo "nested-init: warning: no /dev/kvm after loading kvm-amd"

run='' repo='' cache=''
# shellcheck disable=SC2086 # words
for arg in $cmdline; do
	case $arg in
	vessel.run=*) run=${arg#*=} ;;
	vessel.repo=*) repo=${arg#*=} ;;
	vessel.cache=*) cache=${arg#*=} ;;
	vessel.hung_task=*) hung_task=${arg#*=} ;;
	esac
done
if [ -z "$run" ] || [ -z "$repo" ]; then fail "no vessel.run=/vessel.repo= on the kernel cmdline"; fi

p9="trans=virtio,version=9p2000.L,msize=512000"
R=/newroot
mkdir -p $R
mount -t 9p -o "$p9,ro,cache=loose" hostroot $R || fail "mount hostroot"
# Fresh tmpfs first, then the shares on top: a repo that lives under /tmp
# (a CI clone, a worktree) stays visible at its own path.
for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$R$d"; done
mount -t tmpfs -o mode=755 tmpfs $R/run
mkdir -p "$R$repo" 2>/dev/null
mount -t 9p -o "$p9,cache=mmap" repo "$R$repo" || fail "mount repo at $repo"
if [ -n "$cache" ]; then
	mkdir -p "$R$cache" 2>/dev/null
	mount -t 9p -o "$p9,cache=mmap" cache "$R$cache" || fail "mount cache at $cache"
fi
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null ||
	echo "nested-init: warning: no cgroup2 at /sys/fs/cgroup"
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
# Scratch space for the tests: fast, and nothing there outlives the run.
tmpdir=${cache:-$repo/.cache}/tmp
if [ -d "$R$tmpdir" ]; then mount -t tmpfs -o mode=1777 tmpfs "$R$tmpdir"; fi
hostname vessel-nested 2>/dev/null
# Report a task stuck in the kernel sooner than the default 120 s: the
# outer side treats that report as a hung host.
echo "${hung_task:-60}" >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null

[ -f "$R$run/cmd.sh" ] || fail "no $run/cmd.sh"
# The helpers below work from inside the run dir: a working directory
# survives the mount move below, a path through $R does not. So they are
# started from there (a subshell's own cd could come after the move: seen,
# a host with no heartbeat, killed as hung while it ran fine).
cd "$R$run" || fail "cd $run"
# Heartbeat for the outer side, which treats its stopping as a hung host.
# Each beat first sleeps briefly on every online CPU in turn: a CPU whose
# timers have died (seen: an RCU "timer wakeup didn't happen" on CPU 0,
# the tests on it frozen, while this loop beat on on CPU 1) stops it.
while :; do
	for c in /sys/devices/system/cpu/cpu[0-9]*; do
		[ "$(cat "$c/online" 2>/dev/null || echo 1)" = 1 ] || continue
		taskset -c "${c##*/cpu}" sleep 0.1
	done
	date +%s >heartbeat
	sleep 10
done &
# The kernel's text symbols with this boot's addresses (KASLR, modules),
# for the outer side to name where a hung host's vCPUs are.
(grep -i ' t ' /proc/kallsyms >kallsyms.tmp && mv kallsyms.tmp kallsyms) &
cd /
echo "VESSEL-NESTED-START"
# switch_root-style: move the prepared root onto / and chroot into it, so
# the command is not "chrooted" in the kernel's eyes (user namespaces are
# refused inside a chroot). From here on only paths inside it exist, so the
# status file is written from inside.
cd $R && mount --move . / && chroot . /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root TERM=dumb LANG=C.UTF-8 VESSEL_NESTED=1 \
	/bin/bash -c 'cd /; bash "$1" </dev/null; rc=$?; echo "$rc" >"$2/status"; sync; exit $rc' \
	nested-cmd "$run/cmd.sh" "$run"
rc=$?
echo "VESSEL-NESTED-EXIT=$rc"
poweroff -f
sleep 30

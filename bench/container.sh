#!/usr/bin/env bash
# bench/container.sh: the cost of running one short-lived container,
# /bin/true on a busybox rootfs, with `vessel run FILE.yaml` and with
# Debian's crun and runc (`crun run` / `runc run --bundle DIR ID`: create,
# start, wait, delete). The same rootfs directory for all three, read-only
# root, no terminal, stdin /dev/null; the OCI bundles are each runtime's
# own default `spec` made to match what vessel does by default (cgroup
# namespace too, vessel's capability set, vessel's seccomp filter; see
# bench_ct_oci_config in lib.sh and the footnotes).
# Per round, each side in turn (vessel, crun, runc) runs it timed, then each
# in turn again under GNU time:
#   launch → exit  from just before this shell forks the runtime (exec'd
#                  directly) until `wait` returns (EPOCHREALTIME, µs)
#   CPU time       user + sys of the runtime and all it reaped (bash `times`)
#   peak RSS       GNU time's %M: the largest peak RSS of any single process
#                  of the runtime's tree that was waited for
# BENCH_WARMUP (1) unmeasured rounds, then BENCH_CT_RUNS (30) measured ones;
# BENCH_CT_TIMEOUT (60) s per run. A side that fails 3 runs in a row is
# given up for the rest of the benchmark (and its failures noted).
# Needs root, cgroups, crun, runc, busybox-static, GNU time and jq: run it
# through bench/run.sh (which provides BENCH_OUT and, where there is no
# hardware KVM, runs it in a nested host with cgroup v2 only: crun 1.8
# refuses the hybrid cgroup layout).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_CT_RUNS:-30}
warmup=${BENCH_WARMUP:-1}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_CT_RUNS must be a positive integer, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, not '$warmup'"
[[ $BENCH_CT_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_CT_TIMEOUT must be a positive integer, not '$BENCH_CT_TIMEOUT'"
[ "$(id -u)" -eq 0 ] || die "the container benchmark needs root (vessel, crun and runc create namespaces and cgroups)"
ensure_cmds crun:crun runc:runc busybox-static:/bin/busybox time:/usr/bin/time jq:jq

bench_ct_setup
trap 'rm -rf "$BENCH_CT_DIR"' EXIT

bench_metric ct.run "container /bin/true: launch → exit (run, wait, clean up)" ms
bench_metric ct.peak_rss "container /bin/true: peak RSS, largest process (GNU time %M)" MiB
bench_metric ct.cpu "container /bin/true: CPU time, user + sys (runtime + reaped children)" ms

# What each side is and what it does (versions, options, differences).
cgver=v1
[ ! -f /sys/fs/cgroup/cgroup.controllers ] || cgver=v2
bench_note vessel "container: \`vessel run ctbench.yaml\` ($("$VESSEL" version 2>/dev/null | head -n1 || echo '?')), YAML: kind: container, rootfs: rootfs (the directory), readonly: true, command: [/bin/true]; its defaults: mount, pid, uts, ipc, net and cgroup namespaces, a cgroup ($cgver, /sys/fs/cgroup/vessel/ctbench, no limits set), Docker's capability set without MKNOD (a00425fb in all five sets, ambient and inheritable included), no_new_privs, its seccomp allowlist (default ENOSYS), RLIMIT_NOFILE, masked and read-only paths, /dev tmpfs with bind-mounted nodes, devpts, /dev/shm, mqueue, read-only /sys with cgroup2, /run and /run/lock tmpfs, lo up; a device cgroup (the /dev nodes allowed); unlike the OCI runs it also opens a pty for /dev/console, forks a janitor process, and creates (and removes) the parent directory /sys/fs/cgroup/vessel"
for side in crun runc; do
	bench_ct_cmd "$side" ID
	bench_note "$side" "container: \`$side run --bundle DIR ID\` ($("$side" --version 2>/dev/null | head -n1 || echo '?')), config.json: \`$side spec\` (the OCI default: mount, pid, uts, ipc and net namespaces, read-only root, /proc, tmpfs /dev, devpts, /dev/shm, mqueue, read-only /sys and /sys/fs/cgroup, masked and read-only paths, no_new_privs, a device cgroup denying all devices) with process.args [/bin/true], terminal false, root.path the same rootfs directory, and to match vessel's defaults: hostname ctbench, a cgroup namespace, vessel's capability set (Docker's without MKNOD, a00425fb) in all five sets, RLIMIT_NOFILE soft 1024, hard 524288 or the current hard limit if lower (as vessel does) and a seccomp profile with vessel's former deny list (the same syscalls, EPERM; clone with CLONE_NEW* flags EPERM; clone3 ENOSYS; x86-64, i386 and x32); the cgroup is the runtime's default (cgroupfs driver, no cgroupsPath: /sys/fs/cgroup/ID under cgroup v2; no limits), the device rule an eBPF program under cgroup v2; $side also checks and deletes its state in /run/$side"
done

bench_ct_open_helpers
_bench_out

# The floor: this shell launching /bin/true itself (no container), the
# same way (fork + exec, wait).
floor=()
for ((i = 0; i < 5; i++)); do
	bench_now t0
	/bin/true </dev/null
	bench_now t1
	floor+=("$((t1 - t0))")
done
read -r _ fl_med fl_min fl_max < <(printf '%s\n' "${floor[@]}" | bench_stats)
us_fmt_ms "$fl_med" fl_med
us_fmt_ms "$fl_min" fl_min
us_fmt_ms "$fl_max" fl_max

declare -A failed why streak
for side in "${BENCH_CT_SIDES[@]}"; do failed[$side]=0 why[$side]='' streak[$side]=0; done

# ct_one SIDE MODE TAG MEASURED: one run, its samples, its failure count.
ct_one() {
	local side=$1 mode=$2 tag=$3 measured=$4 v
	if [ "${streak[$side]}" -ge 3 ]; then
		[ "$measured" -eq 0 ] || failed[$side]=$((failed[$side] + 1))
		res+=" $side-$mode=skipped"
		return 0
	fi
	bench_ct_run "$side" "$mode" "$tag-$mode"
	if [ "$CT_OK" -ne 1 ]; then
		streak[$side]=$((streak[$side] + 1))
		res+=" $side-$mode=FAILED($CT_WHY)"
		[ "${streak[$side]}" -lt 3 ] || log "container: giving up on $side after 3 failed runs in a row ($CT_WHY)"
		[ "$measured" -eq 1 ] || return 0
		failed[$side]=$((failed[$side] + 1))
		case "; ${why[$side]}; " in *"; $CT_WHY; "*) ;; *) why[$side]+="${why[$side]:+; }$CT_WHY" ;; esac
		return 0
	fi
	streak[$side]=0
	if [ "$mode" = time ]; then
		us_fmt_ms "$CT_US" v
		res+=" $side=${v}ms"
		[ "$measured" -eq 0 ] || bench_sample_fast ct.run "$side" "$v"
		us_fmt_ms "$CT_CPU_US" v
		res+="/cpu${v}ms"
		[ "$measured" -eq 0 ] || bench_sample_fast ct.cpu "$side" "$v"
	else
		kib_fmt_mib "$CT_PEAK_KB" v
		res+=" $side=${v}MiB"
		[ "$measured" -eq 0 ] || bench_sample_fast ct.peak_rss "$side" "$v"
	fi
}

log "container: $warmup warm-up and $runs measured rounds of vessel, crun, runc (timed runs, then GNU time runs for the peak RSS)"
t_start=$(date +%s)
for ((r = 1 - warmup; r <= runs; r++)); do
	if [ "$r" -le 0 ]; then tag=ct-warmup$((1 - r)) measured=0; else tag=ct-$r measured=1; fi
	res=''
	for mode in time rss; do
		for side in "${BENCH_CT_SIDES[@]}"; do
			ct_one "$side" "$mode" "$tag-$side" "$measured"
		done
	done
	log "$tag:$res"
done
log "container: rounds took $(($(date +%s) - t_start)) s"

for side in "${BENCH_CT_SIDES[@]}"; do
	if [ "${streak[$side]}" -ge 3 ]; then
		why[$side]+="${why[$side]:+; }given up after 3 failed runs in a row"
	fi
	# Two runs a round (timed, GNU time): failures count both.
	bench_run_fail_note container "$side" "${failed[$side]}" "$((2 * runs))" "${why[$side]}"
done
bench_note all "container: $runs measured rounds after $warmup warm-up round(s), each side in turn (vessel, crun, runc) timed, then each in turn again under GNU time for the peak RSS; stdin /dev/null, stdout and stderr to files (on the same filesystem as the rootfs; any output counts as a failed run). launch → exit: from just before this shell forks the runtime until \`wait\` returns; the runtime is exec'd directly, its time limit being a \`sleep\` started beforehand (for scale: launching /bin/true the same way, no container, takes $fl_med ms ($fl_min–$fl_max) here). CPU time: user + sys of the runtime and every descendant it reaped (bash's \`times\`, before and after); work the kernel does later in its own threads (e.g. tearing down the network namespace) counts for no side"
bench_note all "container: peak RSS is GNU time's %M (\`timeout /usr/bin/time -f %M RUNTIME …\`), the peak RSS of the single largest process among the runtime and the descendants it waited for, not a sum: vessel = the largest of \`vessel run\`, its cloned container child (before it execs /bin/true) and its janitor; runc = the larger of \`runc run\` and its \`runc init\` child (both the same Go binary); crun = the larger of crun and its container child (before the exec)"
exit 0

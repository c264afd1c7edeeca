#!/usr/bin/env bash
# bench/oci.sh: vessel as an OCI runtime (issue #15) under the two engines
# that drive one: the launch → exit time of a one-shot busybox container
# running `true`, with vessel-runc (a copy of $VESSEL), crun and runc as
# the runtime:
#   podman  `podman run --rm --network none IMAGE true` with
#           --runtime RUNTIME (conmon; cgroupfs; the image made with
#           `podman import` of a busybox rootfs tarball: no registry here)
#   ctr     `ctr run --rm --runc-binary RUNTIME IMAGE ID true` against a
#           private containerd (its own root, state and socket; the runc
#           v2 shim; the image an OCI archive of the same rootfs, made by
#           tests/oci/oci-image.py as tests/oci/run.sh does), stopped at
#           the end
# Podman's storage and containerd's root live in the scratch directory
# (tmpfs in the nested host), overlay where the kernel has it.
# Per round each engine runs each side in turn, in an order that changes
# from round to round through all six (vessel, crun, runc; vessel, runc,
# crun; crun, vessel, runc; ...): the first run after the other engine's
# is slower in the nested host, and a run may pay for what the one before
# it left to the kernel, so a fixed order (or a rotated one, where each
# side always follows the same other) would put either on one side. Notes
# give each side's medians by position and by the side just before. Timed
# like bench/container.sh's runs (bench_ct_run: from just before this shell
# forks the engine's client until `wait` returns; the time limit a `sleep`
# started beforehand). BENCH_WARMUP (1) unmeasured rounds, then
# BENCH_OCI_RUNS (30) measured ones; BENCH_CT_TIMEOUT (60) s per run. A
# side that fails 3 runs in a row is given up for that engine (its failures
# are noted). The goal of issue #15 is vessel ≤ 0.9× crun: a footnote says
# whether the medians meet it.
# Needs root, podman, conmon, containerd, ctr, crun, runc, busybox-static,
# python3 and jq: run it through bench/run.sh (which provides BENCH_OUT
# and, where there is no hardware KVM, runs it in a nested host with
# cgroup v2 only: crun 1.8 refuses the hybrid cgroup layout).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_OCI_RUNS:-30}
warmup=${BENCH_WARMUP:-1}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_OCI_RUNS must be a positive integer, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, not '$warmup'"
[[ $BENCH_CT_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_CT_TIMEOUT must be a positive integer, not '$BENCH_CT_TIMEOUT'"
[ "$(id -u)" -eq 0 ] || die "the OCI benchmark needs root (podman and containerd run rootful here)"
ensure_cmds podman:podman conmon:conmon containerd:containerd containerd:ctr \
	crun:crun runc:runc busybox-static:/bin/busybox python3:python3 jq:jq

ENGINES=(podman ctr)
IMAGE=localhost/vessel-ocibench
# The rootfs (busybox and its applet links, /etc/passwd, /etc/group) and
# the helpers bench_ct_run needs.
bench_ct_setup
W=$BENCH_CT_DIR
CD_PID=''
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [ -n "$CD_PID" ]; then
		kill "$CD_PID" 2>/dev/null || true
		wait "$CD_PID" 2>/dev/null || true
	fi
	# Whatever podman's overlay driver and containerd left mounted in
	# there, innermost first.
	awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	if [ -n "${PODMAN_RUNROOT:-}" ]; then
		awk -v w="$PODMAN_RUNROOT/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
		rm -rf "$PODMAN_RUNROOT"
	fi
	rm -rf "$W"
}
trap cleanup EXIT
bench_ct_open_helpers
_bench_out
# vessel-runc: a copy of $VESSEL in the scratch directory, the name
# selecting the runc interface. Not a link into the build tree: in the
# nested host that is a 9p mount without a page cache for it (cache=mmap),
# so every call would read the binary over 9p again, while crun and runc
# come from / (9p with cache=loose: in the page cache after the first run,
# as on any disk).
cp "$VESSEL" "$W/vessel-runc"

# runtime SIDE: the runtime binary of SIDE.
runtime() {
	case $1 in
	vessel) echo "$W/vessel-runc" ;;
	*) command -v "$1" ;;
	esac
}
declare -A RT
for side in "${BENCH_CT_SIDES[@]}"; do RT[$side]=$(runtime "$side"); done

# Each engine runs its runtime through a wrapper that logs how long each
# call took (µs, then the arguments) to $W/calls-SIDE: the runtime's own
# share of a container's launch → exit, apart from the engine's. The same
# wrapper for every side (bash; its clock is $EPOCHREALTIME, no fork).
for side in "${BENCH_CT_SIDES[@]}"; do
	cat >"$W/rt-$side" <<WRAP
#!/bin/bash
t0=\$EPOCHREALTIME
"${RT[$side]}" "\$@"
rc=\$?
t1=\$EPOCHREALTIME
printf '%s %s\\n' "\$((10#\${t1/./} - 10#\${t0/./}))" "\$*" >>"$W/calls-$side"
exit \$rc
WRAP
	chmod 755 "$W/rt-$side"
	: >"$W/calls-$side"
	RT[$side]=$W/rt-$side
done

# overlay where the kernel has it (the nested host loads it from the guest
# kernel's modules), else podman's vfs and containerd's native snapshotter.
if grep -qw overlay /proc/filesystems 2>/dev/null || host_modprobe overlay 2>/dev/null; then
	PODMAN_DRIVER=overlay SNAP=overlayfs
else
	PODMAN_DRIVER=vfs SNAP=native
fi
# podman refuses a run root path over 50 characters: a short one in /tmp.
PODMAN_RUNROOT=$(mktemp -d /tmp/vob.XXXXXX)
PODMAN_GLOBAL=(--root "$W/podman/root" --runroot "$PODMAN_RUNROOT" --tmpdir "$W/podman/tmp"
	--network-config-dir "$W/podman/net" --storage-driver "$PODMAN_DRIVER"
	--cgroup-manager cgroupfs --events-backend file)
PODMAN_RUN=(run --rm --network none)
# Rootful podman gives containers RLIMIT_NOFILE 1048576 (and, once any
# --ulimit is given, RLIMIT_NPROC too); without CAP_SYS_RESOURCE (some
# sandboxes) no runtime may raise a hard limit that far, so then every side
# gets the current RLIMIT_NOFILE and RLIMIT_NPROC 32768 (podman's
# containers.conf default; conmon's own hard limit may be below the shell's).
ulimits=''
hard=$(ulimit -Hn)
if [[ $hard =~ ^[0-9]+$ ]] && ! (ulimit -Hn 1048576) 2>/dev/null; then
	PODMAN_RUN+=(--ulimit "nofile=$hard:$hard" --ulimit nproc=32768:32768)
	ulimits=" --ulimit nofile=$hard:$hard --ulimit nproc=32768:32768"
fi

# ---- the images ------------------------------------------------------------
mkdir -p "$W/podman/net"
tar -C "$W/rootfs" -cf "$W/busybox.tar" . || die "could not pack the busybox rootfs"
run_timeout 300 podman "${PODMAN_GLOBAL[@]}" import "$W/busybox.tar" "$IMAGE:podman" >"$W/podman-import.log" 2>&1 || {
	cat "$W/podman-import.log" >&2
	die "podman import of the busybox rootfs failed"
}

mkdir -p "$W/cd"
cat >"$W/cd/config.toml" <<TOML
version = 2
root = "$W/cd/root"
state = "$W/cd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/cd/sock"
TOML
containerd --config "$W/cd/config.toml" >"$W/cd/log" 2>&1 &
CD_PID=$!
for ((i = 0; i < 300; i++)); do
	[ ! -S "$W/cd/sock" ] || break
	kill -0 "$CD_PID" 2>/dev/null || break
	sleep 0.1
done
[ -S "$W/cd/sock" ] || {
	tail -n 20 "$W/cd/log" >&2
	die "the private containerd did not come up (no $W/cd/sock after 30 s)"
}
C() { run_timeout 300 ctr --address "$W/cd/sock" "$@"; }
run_timeout 120 python3 "$BENCH_DIR/../tests/oci/oci-image.py" "$W/rootfs" "$W/image.tar" ||
	die "could not write the busybox OCI image archive"
C images import --snapshotter "$SNAP" --base-name "$IMAGE" "$W/image.tar" >>"$W/cd/log" 2>&1 || {
	tail -n 20 "$W/cd/log" >&2
	die "ctr images import of the busybox image failed"
}

# bench_ct_cmd SIDE ID: bench_ct_run (lib.sh) runs what this sets. Here,
# in place of lib.sh's own: the engine $ENGINE with SIDE's runtime.
bench_ct_cmd() {
	case $ENGINE in
	podman) BENCH_CMD=(podman "${PODMAN_GLOBAL[@]}" --runtime "${RT[$1]}" "${PODMAN_RUN[@]}" "$IMAGE:podman" true) ;;
	ctr) BENCH_CMD=(ctr --address "$W/cd/sock" run --rm --snapshotter "$SNAP" --runc-binary "${RT[$1]}" "$IMAGE:test" "$2" true) ;;
	*) die "unknown engine $ENGINE" ;;
	esac
}

# ctr_clean ID: what a failed ctr run may have left: the task, the
# container and its snapshot.
ctr_clean() {
	C task kill -s KILL "$1" >/dev/null 2>&1 || true
	C task delete --force "$1" >/dev/null 2>&1 || true
	C containers delete "$1" >/dev/null 2>&1 || true
	C snapshots --snapshotter "$SNAP" rm "$1" >/dev/null 2>&1 || true
}

# ---- the notes -------------------------------------------------------------
podman_v=$(podman --version 2>/dev/null | head -n1 || echo '?')
ctr_v=$(ctr --version 2>/dev/null | head -n1 || echo '?')
bench_metric oci.podman "OCI: podman run --rm IMAGE true: launch → exit" ms
bench_metric oci.ctr "OCI: ctr run --rm IMAGE ID true: launch → exit" ms
bench_metric oci.podman.runtime "OCI: podman run --rm: the runtime's own calls (create, start, state, kill, delete…), summed" ms
bench_metric oci.ctr.runtime "OCI: ctr run --rm: the runtime's own calls, summed" ms
bench_note vessel "oci: vessel-runc, a copy of vessel in the scratch directory ($("$VESSEL" version 2>/dev/null | head -n1 || echo '?')), runc's command line"
for side in crun runc; do
	bench_note "$side" "oci: ${RT[$side]} ($("$side" --version 2>/dev/null | head -n1 || echo '?'))"
done
cgver=v1
[ ! -f /sys/fs/cgroup/cgroup.controllers ] || cgver=v2
bench_note all "oci: podman: \`podman --root … --runroot … --tmpdir … --storage-driver $PODMAN_DRIVER --cgroup-manager cgroupfs --events-backend file --runtime RUNTIME ${PODMAN_RUN[*]} IMAGE true\` ($podman_v, conmon $(conmon --version 2>/dev/null | head -n1 | awk '{print $3}' || echo '?')); the image \`podman import\` of a busybox-static rootfs tarball; podman's storage in a scratch directory; so the container gets podman's defaults (its capability set, seccomp profile, masked paths, cgroup $cgver with no limits set) and an empty network namespace, the same for every runtime"
bench_note all "oci: ctr: \`ctr run --rm --snapshotter $SNAP --runc-binary RUNTIME IMAGE ID true\` ($ctr_v; the runc v2 shim, containerd-shim-runc-v2, with RUNTIME as its binary) against a private containerd (its own root, state and socket in a scratch directory; CRI plugin off), the image an OCI archive of the same rootfs (tests/oci/oci-image.py) imported with \`ctr images import\`; ctr's default spec, the same for every runtime"
[ -z "$ulimits" ] || bench_note all "oci: this host does not let root raise the hard limit RLIMIT_NOFILE to podman's default 1048576 (no CAP_SYS_RESOURCE): podman ran with$ulimits for every runtime"

# ---- the rounds ------------------------------------------------------------
# Per ENGINE/SIDE: failed measured runs, their reasons, failures in a row,
# and the measured values (ms, space-separated).
declare -A failed why streak vals
for ENGINE in "${ENGINES[@]}"; do
	for side in "${BENCH_CT_SIDES[@]}"; do
		k=$ENGINE/$side
		failed[$k]=0 why[$k]='' streak[$k]=0 vals[$k]=''
	done
done

declare -A rtvals posvals aftervals
# oci_one SIDE TAG MEASURED POS: one run of $ENGINE with SIDE's runtime,
# the POSth (1-3) of the round's.
oci_one() {
	local side=$1 tag=$2 measured=$3 pos=$4 prev=$5 k=$ENGINE/$1 v before rt_us
	if [ "${streak[$k]}" -ge 3 ]; then
		[ "$measured" -eq 0 ] || failed[$k]=$((failed[$k] + 1))
		res+=" $side=skipped"
		return 0
	fi
	before=$(wc -l <"$W/calls-$side")
	bench_ct_run "$side" time "$tag"
	# The runtime calls this run made (the engine waits for each).
	rt_us=$(tail -n +"$((before + 1))" "$W/calls-$side" | awk '{ s += $1 } END { print s + 0 }')
	if [ "$CT_OK" -ne 1 ]; then
		[ "$ENGINE" != ctr ] || ctr_clean "vb-$side-$tag"
		streak[$k]=$((streak[$k] + 1))
		res+=" $side=FAILED($CT_WHY)"
		[ "${streak[$k]}" -lt 3 ] || log "oci: $ENGINE: giving up on $side after 3 failed runs in a row ($CT_WHY)"
		[ "$measured" -eq 1 ] || return 0
		failed[$k]=$((failed[$k] + 1))
		case "; ${why[$k]}; " in *"; $CT_WHY; "*) ;; *) why[$k]+="${why[$k]:+; }$CT_WHY" ;; esac
		return 0
	fi
	streak[$k]=0
	us_fmt_ms "$CT_US" v
	res+=" $side=${v}ms"
	[ "$measured" -eq 1 ] || return 0
	bench_sample_fast "oci.$ENGINE" "$side" "$v"
	vals[$k]+=" $v"
	posvals[$k/$pos]+=" $v"
	[ -z "$prev" ] || aftervals[$k/$prev]+=" $v"
	us_fmt_ms "$rt_us" v
	res+="(runtime ${v}ms)"
	bench_sample_fast "oci.$ENGINE.runtime" "$side" "$v"
	rtvals[$k]+=" $v"
}

nsides=${#BENCH_CT_SIDES[@]}
# perms PREFIX REST...: every order of REST after PREFIX, one a line.
perms() {
	local pre=$1 i
	shift
	[ $# -gt 0 ] || { echo "$pre"; return; }
	for ((i = 1; i <= $#; i++)); do
		perms "$pre ${!i}" "${@:1:i-1}" "${@:i+1}"
	done
}
mapfile -t ORDERS < <(perms '' "${BENCH_CT_SIDES[@]}")
log "oci: $warmup warm-up and $runs measured rounds of podman, then ctr, each with vessel-runc, crun, runc (in the ${#ORDERS[@]} orders in turn)"
t_start=$(date +%s)
for ((r = 1 - warmup; r <= runs; r++)); do
	if [ "$r" -le 0 ]; then round=warmup$((1 - r)) measured=0; else round=$r measured=1; fi
	read -ra order <<<"${ORDERS[$(((r - 1 + ${#ORDERS[@]} * warmup) % ${#ORDERS[@]}))]}"
	for ENGINE in "${ENGINES[@]}"; do
		res='' prev=''
		for ((p = 0; p < nsides; p++)); do
			side=${order[$p]}
			oci_one "$side" "$ENGINE-$round-$side" "$measured" $((p + 1)) "$prev"
			prev=$side
		done
		log "oci-$round $ENGINE:$res"
	done
done
log "oci: rounds took $(($(date +%s) - t_start)) s"
# Every runtime call with its time, for a closer look (oci-calls-SIDE.log).
for side in "${BENCH_CT_SIDES[@]}"; do cp "$W/calls-$side" "$BENCH_OUT/oci-calls-$side.log" 2>/dev/null || true; done

# ---- failures and the goal -------------------------------------------------
# median VALUES: the median of the space-separated VALUES, or nothing.
median() {
	local n m
	# shellcheck disable=SC2086 # a list of numbers
	read -r n m _ < <(printf '%s\n' $1 | bench_stats)
	[ "$n" -eq 0 ] || echo "$m"
}
goal=()
for ENGINE in "${ENGINES[@]}"; do
	bypos=''
	for side in "${BENCH_CT_SIDES[@]}"; do
		ms=''
		for ((p = 1; p <= nsides; p++)); do ms+="${ms:+ / }$(median "${posvals[$ENGINE/$side/$p]:-}")"; done
		bypos+="${bypos:+; }$side $ms"
	done
	bench_note all "oci ($ENGINE): launch → exit medians by the run's position in its round (1st / 2nd / 3rd, ms): $bypos"
	byprev=''
	for side in "${BENCH_CT_SIDES[@]}"; do
		for o in "${BENCH_CT_SIDES[@]}"; do
			[ "$o" != "$side" ] || continue
			byprev+="${byprev:+; }$side after $o $(median "${aftervals[$ENGINE/$side/$o]:-}")"
		done
	done
	bench_note all "oci ($ENGINE): launch → exit medians by the runtime that ran just before, under the same engine (ms): $byprev"
	for side in "${BENCH_CT_SIDES[@]}"; do
		k=$ENGINE/$side
		[ "${streak[$k]}" -lt 3 ] || why[$k]+="${why[$k]:+; }given up after 3 failed runs in a row"
		bench_run_fail_note "oci ($ENGINE)" "$side" "${failed[$k]}" "$runs" "${why[$k]}"
	done
	for what in launch runtime; do
		if [ $what = launch ]; then
			vm=$(median "${vals[$ENGINE/vessel]}") cm=$(median "${vals[$ENGINE/crun]}")
		else
			vm=$(median "${rtvals[$ENGINE/vessel]}") cm=$(median "${rtvals[$ENGINE/crun]}")
		fi
		if [ -z "$vm" ] || [ -z "$cm" ]; then
			nogo=vessel
			[ -z "$vm" ] || nogo=crun
			goal+=("$ENGINE $what: cannot tell (no successful measured run with $nogo)")
		else
			ratio=$(awk -v v="$vm" -v c="$cm" 'BEGIN { printf "%.2f", v / c }')
			if awk -v v="$vm" -v c="$cm" 'BEGIN { exit !(v <= 0.9 * c) }'; then
				goal+=("$ENGINE $what ${ratio}×: met")
			else
				goal+=("$ENGINE $what ${ratio}×: not met")
			fi
		fi
	done
done
bench_note all "oci: $runs measured rounds after $warmup warm-up round(s); in each, podman runs the container with vessel-runc, crun and runc in turn, in each of the six orders in turn from round to round (vessel, crun, runc in the first, vessel, runc, crun in the second, and so on), then ctr does; stdin /dev/null, stdout and stderr to files (any output counts as a failed run). launch → exit: from just before this shell forks podman (or ctr) until \`wait\` returns: the engine's client, conmon or the shim, the runtime's create, start and delete, and the engine's own clean-up"
bench_note all "oci: the runtime's own calls: every runtime ran behind the same bash wrapper, which timed each call (from just before it ran the runtime to just after it returned, \$EPOCHREALTIME) and logged it; the row sums one container's calls. The wrapper's own start (a bash per call) is in launch → exit for every side alike"
goals=$(printf '%s; ' "${goal[@]}")
bench_note all "oci: the goal of issue #15, vessel ≤ 0.9× crun (medians): ${goals%; }"
exit 0

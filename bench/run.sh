#!/usr/bin/env bash
# bench/run.sh: entry point of `make bench`: vessel against its peers on
# the same work (see bench/README.md). Prints a Markdown table
#   | metric | vessel | peer | ratio (vessel/peer) | unit |
# with footnotes, and writes it and the same data as JSON to
# bench/results/STAMP/ (results.md, results.json; raw samples and the VMs'
# consoles beside them; bench/results/latest points at the newest).
# With a hardware-backed /dev/kvm it runs the benchmarks here; otherwise all
# of them inside ONE nested KVM host (tests/harness/nested-host.sh).
# Env: VESSEL (absolute path; default ./vessel), ONLY (benchmark names,
#      comma- or space-separated: boot, footprint, blk, net, container,
#      snapshot, oci, backup, migrate),
#      BENCH_RUNS (measured runs per side of boot, blk and net, 5),
#      BENCH_WARMUP (1), BENCH_FOOTPRINT_RUNS (3), BENCH_BLK_SECS (s per blk
#      measurement, 2), BENCH_BLK_MIB (blk image size, 256), BENCH_NET_SECS
#      (s per net measurement, 3),
#      BENCH_CT_RUNS (container runs per side, 30), BENCH_CT_TIMEOUT (s per
#      container run, 60), BENCH_OCI_RUNS (podman and ctr runs per side,
#      30), BENCH_MODE (direct|nested: force a mode),
#      BENCH_VM_TIMEOUT (s per VM run, 180), BENCH_CMDLINE_EXTRA (kernel
#      parameters added to every side's guest command line; none),
#      NESTED_TIMEOUT (s for the whole nested run; the selected
#      benchmarks' time limits plus 600), BENCH_WAIT_IDLE
#      (s to wait for other QEMUs, which skew the numbers, to finish; 0).
# Exit status: 0 whatever the numbers; 124/125 if the harness failed (the
# nested host, or a benchmark script that crashed or ran out of time).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# The benchmarks, in order: "NAME SECONDS" runs bench/NAME.sh under that
# time limit (for the default run counts; see bench_limit). A new benchmark
# is one more line here.
BENCHMARKS=(
	"boot 900"
	"footprint 600"
	"blk 600"
	"net 600"
	"container 600"
	"snapshot 900"
	"oci 1200"
	"backup 900"
	"migrate 1200"
)

# wants_guest: true when a selected benchmark boots the guest kernel (all
# but container and oci).
wants_guest() {
	local b
	for b in "${BENCHMARKS[@]}"; do
		case ${b%% *} in container | oci) continue ;; esac
		! bench_selected "${b%% *}" || return 0
	done
	return 1
}

# bench_limit SECONDS: a benchmark's time limit for this run. The limits
# above fit the default run counts; BENCH_RUNS above its default 5
# stretches every limit in proportion (rounded up), so that a longer run
# is not cut short.
bench_limit() {
	local runs=${BENCH_RUNS:-5}
	[[ $runs =~ ^[1-9][0-9]*$ ]] && [ "$runs" -gt 5 ] || runs=5
	echo $(($1 * runs / 5 + ($1 * runs % 5 > 0)))
}

# selected_limits: the sum of the selected benchmarks' time limits.
selected_limits() {
	local b total=0
	for b in "${BENCHMARKS[@]}"; do
		! bench_selected "${b%% *}" || total=$((total + $(bench_limit "${b##* }")))
	done
	echo "$total"
}

# ---- inside: run the selected benchmarks (needs hardware KVM) -----------
if [ "${1:-}" = --inner ]; then
	: "${BENCH_OUT:?}" "${VESSEL:?}"
	# Everything measured goes to run/, afresh: the nested host may retry
	# a run that hung, and the retry must not add to the first try's data.
	BENCH_OUT=$BENCH_OUT/run
	rm -rf "$BENCH_OUT"
	mkdir -p "$BENCH_OUT"
	export BENCH_OUT
	have_hw_kvm || harness_fail "no hardware-backed /dev/kvm here (modules: $(cd /sys/module && echo kvm*))"
	bench_meta host_kernel "$(uname -r)"
	bench_meta host_cpu "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	bench_meta host_cpus "$(nproc)"
	bench_meta host_mem_mib "$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
	if wants_guest; then
		bench_guest_setup
		bench_meta guest_kernel "${BENCH_KVERSION:-?}"
	else
		BENCH_WORK=$(mktemp_dir bench)
		export BENCH_WORK
	fi
	trap 'rm -rf "$BENCH_WORK"' EXIT
	bench_meta qemu "$("$BENCH_QEMU" --version | head -n1)"
	bench_meta vessel "$("$VESSEL" version 2>/dev/null | head -n1 || true)"
	bad=0
	for b in "${BENCHMARKS[@]}"; do
		read -r name limit <<<"$b"
		bench_selected "$name" || continue
		limit=$(bench_limit "$limit")
		log "benchmark $name (time limit ${limit}s)"
		t0=$(date +%s) rc=0
		run_timeout "$limit" bash "$BENCH_DIR/$name.sh" </dev/null || rc=$?
		printf '%s\t%s\t%s\n' "$name" "$rc" $(($(date +%s) - t0)) >>"$BENCH_OUT/status.tsv"
		if [ "$rc" -ne 0 ]; then
			log "benchmark $name failed (status $rc)"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ] || exit "$H_EXIT_HARNESS"
	exit 0
fi

# ---- outside: pick the mode, run, render ---------------------------------
start=$(date +%s)
: "${VESSEL:=$REPO/vessel}"
case $VESSEL in /*) ;; *) VESSEL=$PWD/$VESSEL ;; esac
export VESSEL
[ -x "$VESSEL" ] || die "VESSEL=$VESSEL is not an executable (run make first)"

export BENCH_ONLY=${ONLY:-${BENCH_ONLY:-}}
known=()
for b in "${BENCHMARKS[@]}"; do known+=("${b%% *}"); done
for w in ${BENCH_ONLY//,/ }; do
	[[ " ${known[*]} " == *" $w "* ]] || die "ONLY: unknown benchmark '$w' (known: ${known[*]})"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
export BENCH_OUT=$BENCH_DIR/results/$stamp
mkdir -p "$BENCH_OUT"
# Set up inside (bench_guest_setup), not inherited from the caller.
export BENCH_WORK='' BENCH_KERNEL='' BENCH_INITRD='' BENCH_KVERSION=''

mode=${BENCH_MODE:-}
if [ -z "$mode" ]; then
	if have_hw_kvm; then mode=direct; else mode=nested; fi
fi
bench_meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
bench_meta mode "$mode"
bench_meta only "${BENCH_ONLY:-all}"
bench_meta outer_host "$(uname -r), $(nproc) CPUs"

# foreign_qemus: records in $BENCH_OUT/foreign-qemu.txt, every 5 s, each
# qemu-system process that is not ours (not a descendant of this shell)
# and not another nested host (those wait for each other).
foreign_qemus() {
	local p q k v _
	while :; do
		for p in $(pgrep qemu-system); do
			q=$p
			while [ -n "$q" ] && [ "$q" -gt 1 ] && [ "$q" != $$ ]; do
				k='' v=''
				while read -r k v _; do [ "$k" != PPid: ] || break; done <"/proc/$q/status" 2>/dev/null || v=''
				q=$v
			done
			[ "$q" != $$ ] || continue
			# Nested hosts take turns (nested-host.sh's lock): one
			# seen while we wait for ours never competes.
			[[ $(ps -o args= -p "$p" 2>/dev/null) != *"/nested/run."* ]] || continue
			grep -qs "^$p " "$BENCH_OUT/foreign-qemu.txt" ||
				echo "$p $(ps -o args= -p "$p" 2>/dev/null | cut -c1-120)" >>"$BENCH_OUT/foreign-qemu.txt"
		done
		sleep 5
	done
}

others=$(pgrep -a qemu-system || true)
wait_until=$(($(date +%s) + ${BENCH_WAIT_IDLE:-0}))
if [ -n "$others" ] && [ "$(date +%s)" -lt "$wait_until" ]; then
	log "another QEMU is running; waiting up to ${BENCH_WAIT_IDLE}s for it to finish (BENCH_WAIT_IDLE)"
	while [ -n "$others" ] && [ "$(date +%s)" -lt "$wait_until" ]; do
		sleep 5
		others=$(pgrep -a qemu-system || true)
	done
fi
if [ -n "$others" ]; then
	warn "another QEMU is running; it competes for the CPUs and skews the numbers:"
	printf '%s\n' "$others" | cut -c1-160 >&2
fi

ensure_cmds qemu-system-x86:qemu-system-x86_64 time:/usr/bin/time binutils:size \
	busybox-static:/bin/busybox cpio:cpio
# The container benchmark's peers (and jq for their config.json).
! bench_selected container || ensure_cmds crun:crun runc:runc busybox-static:/bin/busybox jq:jq
# The OCI benchmark's engines.
! bench_selected oci || ensure_cmds crun:crun runc:runc busybox-static:/bin/busybox jq:jq \
	podman:podman conmon:conmon containerd:containerd containerd:ctr python3:python3
# The guest, built out here (faster than under TCG) where the nested host
# sees it: in the cache, not in $CACHE/tmp (a tmpfs in there).
mkdir -p "$CACHE/tmp"
BENCH_GUEST_DIR=$(mktemp -d "$CACHE/bench-guest.XXXXXX")
export BENCH_GUEST_DIR
watcher=''
trap 'rm -rf "$BENCH_GUEST_DIR"; [ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true' EXIT
! wants_guest || bench_guest_build "$BENCH_GUEST_DIR"
# blk, net, snapshot, migrate, backup: the virtio guests' initramfs with the load generators
# (bench/blkload.c, bench/netload.c, compiled static here).
if bench_selected blk || bench_selected net || bench_selected snapshot || bench_selected migrate ||
	bench_selected backup; then
	ensure_cmds gcc:gcc e2fsprogs:mkfs.ext4 iproute2:ip
	bench_virtio_guest_build "$BENCH_GUEST_DIR"
fi
foreign_qemus &
watcher=$!

rc=0
case $mode in
direct)
	log "running the benchmarks directly on this machine's /dev/kvm"
	run_timeout $(($(selected_limits) + 300)) "$BENCH_DIR/run.sh" --inner || rc=$?
	;;
nested)
	[ -z "${VESSEL_NESTED:-}" ] || harness_fail "already inside the nested host, yet no hardware-backed /dev/kvm"
	log "no hardware-backed /dev/kvm here: running the benchmarks in one nested KVM host (QEMU TCG); absolute numbers are slow, compare ratios"
	bench_note all "measured inside a nested KVM host (QEMU TCG emulating SVM on this machine): absolute times are far slower than on hardware; compare the ratios"
	# the selected benchmarks' limits, plus the nested host's boots and
	# the guest's build inside it
	NESTED_TIMEOUT=${NESTED_TIMEOUT:-$(($(selected_limits) + 600))} "$HARNESS_DIR/nested-host.sh" "$BENCH_DIR/run.sh" --inner || rc=$?
	;;
*) die "BENCH_MODE must be direct or nested, not $mode" ;;
esac

kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
watcher=''
if [ -s "$BENCH_OUT/foreign-qemu.txt" ]; then
	n=$(wc -l <"$BENCH_OUT/foreign-qemu.txt")
	warn "$n other QEMU process(es) ran during the benchmark (see $BENCH_OUT/foreign-qemu.txt): the numbers are suspect"
	bench_note all "$n other qemu-system process(es) competed for the CPUs during this run (foreign-qemu.txt): the numbers are suspect"
fi
[ "$rc" -eq 0 ] || bench_note all "the benchmark harness failed (status $rc): the results are incomplete"
bench_meta wall_seconds $(($(date +%s) - start))
bench_render_md "$BENCH_OUT" >"$BENCH_OUT/results.md"
bench_render_json "$BENCH_OUT" >"$BENCH_OUT/results.json"
ln -sfn "$stamp" "$BENCH_DIR/results/latest"
echo
echo "## vessel benchmarks ($stamp, $mode, ${BENCH_ONLY:-all})"
echo
cat "$BENCH_OUT/results.md"
echo
log "results: $BENCH_OUT/results.md and results.json (wall time $(($(date +%s) - start)) s)"
if [ "$rc" -ne 0 ]; then
	log "the benchmark harness failed (status $rc)"
	case $rc in 124 | 125) exit "$rc" ;; *) exit "$H_EXIT_HARNESS" ;; esac
fi
exit 0

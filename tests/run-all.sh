#!/usr/bin/env bash
# tests/run-all.sh [SUITE...]: runs vessel's test suites and ends with one
# table (suite, where it ran, passed, failed, skipped, retries, seconds; the
# nested host's boots), the skipped tests with their reasons, and the line
# `N passed, N failed, N skipped`. Exits non-zero if anything failed.
# SUITE: unit kvm-test container-test manage-test integration oci-test
# backup-test appliance-test
# (default: all).
#
# Where it runs: with a hardware-backed /dev/kvm (kvm_intel, kvm_amd) every
# suite runs here. Otherwise (no /dev/kvm, or a software one such as PVM)
# what needs KVM runs in ONE boot of the nested KVM host
# (tests/harness/nested-host.sh): the unit tests that open /dev/kvm
# (unit:vm), kvm-test, the VM half of manage-test (manage-test:vm) and the
# integration suite with the OCI tests and the container tests that depend
# on the cgroup hierarchy again under cgroup v2 (oci-test:v2,
# container-test:v2; TEST_V2_SET=all: every container test); the rest runs here (unit:host,
# container-test, oci-test, manage-test:host). A nested host that hangs is booted again (up to 3
# boots); jobs that finished are not run again.
#
# Env: BUILD       build directory of the binaries (build; build-asan)
#      TEST_ASAN   suites to run again from build-asan/ (built already), in
#                  the same nested boot: CI's ASan pass. Their VM-side jobs
#                  in the nested host run from build-asan only
#                  (TEST_NESTED_BOTH=1: from both builds)
#      TEST_KVM_MODE  direct|nested: force where the KVM jobs run
#      VESSEL      the vessel binary of BUILD (default: its usual path)
#      VESSEL_ALLOW_SKIP  "suite", or suite names: a suite that skips all
#                  its tests (or runs none) passes; by default it fails
#      SKIP_NESTED_CONTAINERS=1  no container-test:v2, no oci-test:v2
# Internal: `run-all.sh --jobs JOB...` runs JOBs here (nested-suite.sh, in
# the nested host), recording results in TEST_RESULTS (a directory).
# A JOB is BUILD/SUITE[:PART], e.g. build-asan/manage-test:vm.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/harness/lib.sh"

BUILD=${BUILD:-build}
ALL_SUITES="unit kvm-test container-test manage-test integration oci-test backup-test appliance-test"

# vessel_of BUILD: the vessel binary built in BUILD.
vessel_of() {
	if [ "$1" = "$BUILD" ] && [ -n "${VESSEL:-}" ]; then
		case $VESSEL in /*) echo "$VESSEL" ;; *) echo "$PWD/$VESSEL" ;; esac
	elif [ "$1" = build ]; then
		echo "$REPO/vessel"
	else
		echo "$REPO/$1/vessel"
	fi
}

# unit_bins BUILD PART: the unit-test binaries; PART vm: those whose source
# opens /dev/kvm, host: the others, empty: all.
unit_bins() {
	local b name
	for b in "$REPO/$1"/tests/unit/test_*; do
		name=${b##*/}
		if [ ! -x "$b" ] || [ ! -f "$REPO/tests/unit/$name.c" ]; then continue; fi
		if grep -q '"/dev/kvm"' "$REPO/tests/unit/$name.c"; then
			[ "$2" != host ] || continue
		else
			[ "$2" != vm ] || continue
		fi
		echo "$b"
	done
}

# where: the name of this machine in the table.
where() { if [ "${VESSEL_NESTED:-0}" = 1 ]; then echo nested; else echo host; fi; }

# label JOB: its name in the table (build/ dropped, asan marked).
label() {
	local b=${1%%/*} rest=${1#*/}
	case $b in
	build) echo "$rest" ;;
	build-asan) echo "$rest (asan)" ;;
	*) echo "$rest ($b)" ;;
	esac
}

# suite_cmd JOB: runs the suite of JOB here, output on stdout.
suite_cmd() {
	local b=${1%%/*} rest=${1#*/} suite part vessel
	suite=${rest%%:*}
	part=${rest#"$suite"}
	part=${part#:}
	vessel=$(vessel_of "$b")
	case $suite in
	unit)
		# shellcheck disable=SC2046 # one word per binary
		"$REPO/tests/unit/run.sh" $(unit_bins "$b" "$part")
		;;
	kvm-test)
		VESSEL=$vessel GUESTS=$REPO/$b/tests/kvm/guests "$REPO/tests/kvm/run.sh"
		;;
	container-test)
		if [ "$part" = v2 ]; then
			echo "# container tests under cgroup v2 ($(stat -fc %T /sys/fs/cgroup)): ${TEST_V2_SET:-cgroup} tests"
			# / is read-only in the nested host: unpacked rootfs caches go
			# to a tmpfs that mapped ids (userns) can pass through, not list (0711).
			local cache
			cache=$(mktemp -d /tmp/vessel-cache.XXXXXX)
			chmod 711 "$cache"
			VESSEL=$vessel VESSEL_CACHE_DIR=$cache TEST_SET=${TEST_V2_SET:-cgroup} "$REPO/tests/container/run.sh"
		else
			VESSEL=$vessel "$REPO/tests/container/run.sh"
		fi
		;;
	manage-test)
		# In the nested host: a re-booted host resumes where it hung.
		local done_file=''
		[ -z "${jobs_mode:-}" ] || done_file=$results/$(echo "$1" | tr '/:' '__').done
		VESSEL=$vessel GUESTS=$REPO/$b/tests/manage/guests MANAGE_PART=${part:-all} \
			MANAGE_DONE_FILE=$done_file "$REPO/tests/manage/run.sh"
		;;
	integration)
		VESSEL=$vessel "$REPO/tests/integration/run-all.sh"
		;;
	oci-test)
		# All of them under v2 too: issue #15 asks for both hierarchies.
		[ "$part" != v2 ] || echo "# OCI tests under cgroup v2 ($(stat -fc %T /sys/fs/cgroup))"
		VESSEL=$vessel "$REPO/tests/oci/run.sh"
		;;
	backup-test)
		VESSEL=$vessel "$REPO/tests/backup/run.sh"
		;;
	appliance-test)
		VESSEL=$vessel "$REPO/tests/appliance/run.sh"
		;;
	*)
		echo "FAIL $suite: no such suite"
		return 1
		;;
	esac
}

# allowed_all_skip LABEL: VESSEL_ALLOW_SKIP lets this suite skip everything.
allowed_all_skip() {
	local w
	for w in ${VESSEL_ALLOW_SKIP:-}; do
		[ "$w" = suite ] || [ "$w" = all ] || [ "$w" = "${1%% *}" ] || [ "$w" = "${1%%:*}" ] && return 0
	done
	return 1
}

# run_job JOB: runs it (output streamed and kept in $results/N.log) and
# appends a row to $results/rows (TAB-separated: label where passed failed
# skipped retries seconds note cpu%, the CPUs' busy share where it ran) and its SKIP lines to $results/skips.
# Returns 75 when the job asked for a fresh nested host (no row then).
run_job() {
	local job=$1 lbl log t0 rc p=0 f=0 s=0 r secs note='' line c0 c1
	lbl=$(label "$job")
	log=$results/$(echo "$job" | tr '/:' '__').log
	echo "=== $lbl ($(where))"
	t0=$(now_ms)
	c0=$(cpu_ticks)
	# Appended to: a job run again on a fresh nested host keeps the log
	# (and the retries) of its first attempt.
	suite_cmd "$job" 2>&1 | tee -a "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq "$NESTED_EXIT_FRESH" ] && [ -n "${jobs_mode:-}" ] &&
		[ "${NESTED_FRESH_LEFT:-0}" -gt 0 ]; then
		return "$rc"
	fi
	secs=$((($(now_ms) - t0 + 500) / 1000))
	c1=$(cpu_ticks)
	line=$(grep -aE '^([a-z-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n1)
	if [ -n "$line" ]; then
		read -r p f s <<<"$(echo "$line" | sed -E 's/^([a-z-]+: )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\2 \3 \5/')"
		s=${s:-0}
		if [ $((p + f)) -eq 0 ] && ! allowed_all_skip "$lbl"; then
			f=1 note="skipped all its tests (VESSEL_ALLOW_SKIP=suite allows that)"
		elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 note="exit status $rc"
		fi
	else
		f=1 note="no result line (exit status $rc)"
	fi
	r=$(grep -ac '^retry ' "$log")
	grep -a '^SKIP ' "$log" | sed "s|^SKIP |$lbl: |" >>"$results/skips"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$lbl" "$(where)" "$p" "$f" "$s" "$r" "$secs" "$note" \
		"$(cpu_busy "$c0" "$c1")" >>"$results/rows"
	[ -z "$note" ] || echo "FAIL $lbl: $note"
	return 0
}

# ---- in the nested host: run the jobs given ----------------------------
if [ "${1:-}" = --jobs ]; then
	shift
	results=${TEST_RESULTS:?} jobs_mode=1
	for job in "$@"; do
		# Done in an earlier boot of this nested host.
		! grep -qxF "$job" "$results/done" 2>/dev/null || continue
		run_job "$job" || exit $?
		echo "$job" >>"$results/done"
	done
	exit 0
fi

# ---- plan: which job runs where ------------------------------------------
suites=${*:-$ALL_SUITES}
mode=${TEST_KVM_MODE:-}
if [ -z "$mode" ]; then
	if have_hw_kvm || [ "${VESSEL_NESTED:-0}" = 1 ]; then mode=direct; else mode=nested; fi
fi
case $mode in direct | nested) ;; *) die "TEST_KVM_MODE must be direct or nested, not $mode" ;; esac

here_jobs=() side_jobs=() nested_jobs=() late_jobs=()
# plan BUILD SUITE...: adds the jobs of the SUITEs built in BUILD.
plan() {
	local b=$1 s
	shift
	for s in "$@"; do
		# QEMU (TCG, one vCPU) here, never KVM: in the side lane.
		if [ "$s" = appliance-test ]; then
			side_jobs+=("$b/$s")
			continue
		fi
		if [ "$mode" = direct ]; then
			here_jobs+=("$b/$s")
			continue
		fi
		case $s in
		unit)
			here_jobs+=("$b/unit:host")
			[ -z "$(unit_bins "$b" vm)" ] || nested_jobs+=("$b/unit:vm")
			;;
		kvm-test) nested_jobs+=("$b/kvm-test") ;;
		container-test) here_jobs+=("$b/container-test") ;;
		oci-test)
			here_jobs+=("$b/oci-test")
			# podman and containerd driving vessel-runc on cgroup v2 too.
			[ -n "${SKIP_NESTED_CONTAINERS:-}" ] || late_jobs+=("$b/oci-test:v2")
			;;
		backup-test) here_jobs+=("$b/backup-test") ;;
		manage-test)
			here_jobs+=("$b/manage-test:host")
			nested_jobs+=("$b/manage-test:vm")
			;;
		integration)
			# After the short jobs: it may ask for a fresh host.
			late_jobs+=("$b/integration")
			[ -n "${SKIP_NESTED_CONTAINERS:-}" ] || late_jobs+=("$b/container-test:v2")
			;;
		*) die "no such suite: $s (suites: $ALL_SUITES)" ;;
		esac
	done
}
# shellcheck disable=SC2086 # lists of words
plan "$BUILD" $suites
# shellcheck disable=SC2086
[ -z "${TEST_ASAN:-}" ] || plan build-asan $TEST_ASAN
# In the nested host, a VM-side job planned for both builds (unit:vm,
# kvm-test, manage-test:vm) runs once, from build-asan: the same tests
# with ASan+UBSan watching, and the nested host's time is CI's scarcest
# (TEST_NESTED_BOTH=1 runs both). The plain build's binary still runs
# every integration test.
if [ "${TEST_NESTED_BOTH:-0}" != 1 ] && [ -n "${TEST_ASAN:-}" ]; then
	kept=()
	for job in ${nested_jobs[@]+"${nested_jobs[@]}"}; do
		case " ${nested_jobs[*]} " in
		*" build-asan/${job#*/} "*) [ "${job%%/*}" = build-asan ] || continue ;;
		esac
		kept+=("$job")
	done
	nested_jobs=(${kept[@]+"${kept[@]}"})
fi
nested_jobs+=(${late_jobs[@]+"${late_jobs[@]}"})

# On the repo share, not $CACHE/tmp (a fresh tmpfs in the nested host).
mkdir -p "$CACHE/nested"
results=$(mktemp -d "$CACHE/nested/results.XXXXXX")
trap 'rm -rf "$results"' EXIT
: >"$results/rows"
: >"$results/skips"
t_start=$(now_ms)

# nested_prep: what the nested host needs from here, made before it boots:
# QEMU, the kernel, and for the integration suite test_15's systemd disk
# image (debootstrap needs the network, which the nested host lacks) and
# test_18's PREEMPT_RT kernel. Exits non-zero if the kernel is missing.
nested_prep() {
	[ $nested_setup_ok = 1 ] || return 0
	ensure_cmds qemu-system-x86:qemu-system-x86_64 busybox-static:/bin/busybox cpio:cpio
	"$HARNESS_DIR/fetch-kernel.sh" >/dev/null || { log "error: fetching the kernel failed"; return 1; }
	case " ${nested_jobs[*]} " in
	*/integration\ *)
		if [ -z "${TEST_FILTER:-}" ] || [[ test_15_systemd_blk =~ $TEST_FILTER ]]; then
			run_timeout 1200 "$REPO/tests/integration/systemd-vm-image.sh" >/dev/null ||
				warn "could not build test_15's systemd disk image: test_15 will SKIP"
		fi
		if [ -z "${TEST_FILTER:-}" ] || [[ test_18_rt_smp =~ $TEST_FILTER ]]; then
			KERNEL_FLAVOUR=rt-amd64 "$HARNESS_DIR/fetch-kernel.sh" >/dev/null ||
				warn "could not fetch the PREEMPT_RT kernel: test_18 will fail"
		fi
		;;
	esac
}
nested_setup_ok=1
if [ ${#nested_jobs[@]} -gt 0 ] && ! command -v qemu-system-x86_64 >/dev/null 2>&1 &&
	{ [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; }; then
	warn "no hardware KVM and no qemu-system-x86_64 for a nested KVM host: install qemu-system-x86 or run on a machine with /dev/kvm"
	nested_setup_ok=0
fi

# ---- the host jobs, in two lanes -----------------------------------------
# They leave the CPUs mostly idle (about 40%: sleeps, waits for guests and
# containers, one QEMU vCPU), so the side lane (the nested host's
# preparation, then the appliance suite, which shares nothing with the
# others) runs alongside the other host jobs. Its output follows theirs.
side_pid=''
if [ ${#side_jobs[@]} -gt 0 ] || [ ${#nested_jobs[@]} -gt 0 ]; then
	what=${side_jobs[*]-}
	[ ${#nested_jobs[@]} -eq 0 ] || what="preparing the nested host${what:+, then $what}"
	echo "=== alongside the host jobs: $what (output below, when done)"
	(
		st=0
		if [ ${#nested_jobs[@]} -gt 0 ]; then nested_prep || st=1; fi
		for job in ${side_jobs[@]+"${side_jobs[@]}"}; do run_job "$job"; done
		exit $st
	) >"$results/side.out" 2>&1 </dev/null &
	side_pid=$!
fi
for job in ${here_jobs[@]+"${here_jobs[@]}"}; do run_job "$job"; done
side_st=0
if [ -n "$side_pid" ]; then
	wait "$side_pid" || side_st=$?
	cat "$results/side.out"
fi

# ---- one nested host for the KVM jobs ----------------------------------
nested_note=''
if [ ${#nested_jobs[@]} -gt 0 ]; then
	log "no hardware-backed /dev/kvm here; running ${nested_jobs[*]} in one nested KVM host"
	[ "$side_st" = 0 ] || die "preparing the nested host failed"
	case " ${nested_jobs[*]} " in
	*/integration\ *)
		# If the nested host is booted again, the integration tests that
		# passed already are not run twice (tests/integration/run-all.sh).
		export TEST_PASSED_FILE=$results/integration-passed
		;;
	esac
	export TEST_RESULTS=$results NESTED_STATS=$results/nested-stats
	# All boots of the nested host together (nested-host.sh): the
	# integration suite takes most of it.
	case " ${nested_jobs[*]} " in
	*/integration\ *) export NESTED_TIMEOUT=${NESTED_TIMEOUT:-2700} ;;
	*) export NESTED_TIMEOUT=${NESTED_TIMEOUT:-1200} ;;
	esac
	# A hung host is booted again (8 s) and runs the jobs not finished.
	# TCG's SVM model hangs or panics the host about once in 6 minutes of
	# tests here (CI, Dec 2026): a run of ~30 minutes needs room for more.
	export NESTED_BOOTS=${NESTED_BOOTS:-10}
	t0=$(now_ms)
	nrc=0
	if [ $nested_setup_ok = 1 ]; then
		"$HARNESS_DIR/nested-host.sh" "$HARNESS_DIR/nested-suite.sh" "${nested_jobs[@]}" || nrc=$?
	else
		nrc=$H_EXIT_HARNESS
	fi
	nsecs=$((($(now_ms) - t0 + 500) / 1000))
	# A job the nested host never finished: a failure of its own.
	for job in "${nested_jobs[@]}"; do
		grep -qxF "$job" "$results/done" 2>/dev/null && continue
		printf '%s\tnested\t0\t1\t0\t0\t0\t%s\t-\n' "$(label "$job")" \
			"not run to the end: the nested host failed (status $nrc)" >>"$results/rows"
	done
	boots=$(grep -c '^boot ' "$results/nested-stats" 2>/dev/null) || boots=0
	waited=$(awk '$1 == "lock-wait" { print $2 }' "$results/nested-stats" 2>/dev/null)
	up=$(awk '$1 == "boot" && $3 != "-" { printf "%s%s s", sep, $3; sep = ", " }' "$results/nested-stats" 2>/dev/null)
	why=$(awk '$1 == "boot" && $4 != "ok" { printf "%s%s", sep, $4; sep = ", " }' "$results/nested-stats" 2>/dev/null)
	nested_note="nested host: $boots boot(s), $((boots > 1 ? boots - 1 : 0)) retries${why:+ ($why)}; up after ${up:-?}; $nsecs s in all (status $nrc), of which ${waited:-?} s waiting for another nested host"
fi

# ---- the report -------------------------------------------------------------
total_secs=$((($(now_ms) - t_start + 500) / 1000))
echo
echo "==== test summary"
awk -F'\t' -v total="$total_secs" '
	BEGIN { fmt = "%-28s %-7s %6s %6s %7s %7s %7s %5s\n"
		printf fmt, "suite", "where", "passed", "failed", "skipped", "retries", "seconds", "cpu%" }
	{ printf fmt, $1, $2, $3, $4, $5, $6, $7, $9; p += $3; f += $4; s += $5; r += $6
	  if ($8 != "") notes = notes "  " $1 ": " $8 "\n" }
	END { printf fmt, "total", "", p, f, s, r, total, ""
	      if (notes != "") printf "failed suites:\n%s", notes }' "$results/rows"
[ -z "$nested_note" ] || echo "$nested_note"
if [ -s "$results/skips" ]; then
	echo "skipped tests:"
	awk '!seen[$0]++ { print "  " $0 }' "$results/skips"
fi
awk -F'\t' '{ p += $3; f += $4; s += $5 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s; exit f > 0 }' "$results/rows"

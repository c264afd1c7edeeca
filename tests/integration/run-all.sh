#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh (sorted), each under a time limit
# (TEST_TIMEOUT, default 180 s, or more if the test has a line
# "# test-timeout: SECONDS"; running out is reported as a hang of that
# test). Builds the test guest's initramfs once first and exports
#   GUEST_KERNEL GUEST_INITRD GUEST_TOKEN  (see lib.sh)
# Prints `ok NAME` / `FAIL NAME` / `SKIP NAME: why` (a test that called
# skip, lib.sh) per test, then `N passed, N failed[, N skipped]`; exits
# non-zero if any failed. Needs VESSEL (default: the repo's ./vessel) and a
# usable /dev/kvm (use tests/harness/run-integration.sh to get one).
# Env: TEST_FILTER (bash regex on test names), TEST_TIMEOUT, VM_TIMEOUT,
#      TEST_VERBOSE=1 (show the logs of passing tests too), KEEP_TMP=1 (keep
#      each test's scratch dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/../harness/lib.sh"

export VESSEL=${VESSEL:-$REPO/vessel}
TEST_TIMEOUT=${TEST_TIMEOUT:-180}
export VM_TIMEOUT=${VM_TIMEOUT:-$((TEST_TIMEOUT - 30))}

tests=()
for t in "$here"/test_*.sh; do
	name=$(basename "$t" .sh)
	[ -z "${TEST_FILTER:-}" ] || [[ $name =~ $TEST_FILTER ]] || continue
	tests+=("$t")
done
[ ${#tests[@]} -gt 0 ] || die "no tests match TEST_FILTER='${TEST_FILTER:-}'"

# abort_all MSG: every test fails for the same reason.
abort_all() {
	log "$*"
	for t in "${tests[@]}"; do echo "FAIL $(basename "$t" .sh)"; done
	echo "0 passed, ${#tests[@]} failed"
	exit 1
}
[ -x "$VESSEL" ] || abort_all "VESSEL=$VESSEL is not an executable (run make first)"
[ -c /dev/kvm ] || abort_all "no /dev/kvm (use tests/harness/run-integration.sh)"

work=$(mktemp -d "${TMPDIR:-/tmp}/integration.XXXXXX")
trap 'rm -rf "$work"' EXIT
# One kernel cache for the run: the first boot of the stock kernel fills
# it, the others skip the guest's decompression (root's default,
# /var/cache, is read-only in the nested host).
export VESSEL_KERNEL_CACHE=${VESSEL_KERNEL_CACHE:-$work/kernel-cache}
eval "$("$HARNESS_DIR/fetch-kernel.sh")" || abort_all "fetching the guest kernel failed"
# A private copy: read once per test, and 9p (nested host) is slow.
cp "$KERNEL" "$work/vmlinuz"
export GUEST_KERNEL=$work/vmlinuz
# its symbols, for the guest RIPs in a stalled test's KVM trace (lib.sh)
export GUEST_SYSTEM_MAP=${KERNEL%/*}/System.map-$KVERSION
export GUEST_TOKEN
GUEST_TOKEN=$(random_token)
export GUEST_INITRD=$work/guest-initrd.cpio.gz
build_guest_initrd "$GUEST_INITRD" "$GUEST_TOKEN" || abort_all "building the guest initramfs failed"
# The virtio tests' guest (modules, mkfs.ext4): cached, built once.
export VIRTIO_INITRD
VIRTIO_INITRD=$(virtio_initrd_cached) || abort_all "building the virtio guest initramfs failed"
log "vessel: $VESSEL; guest kernel: $KVERSION; ${#tests[@]} tests, ${TEST_TIMEOUT}s each"

# TEST_PASSED_FILE: tests named in it passed in an earlier attempt of this
# same run (the nested host hung and was booted again) and are not run
# again; each test that passes now is added to it.
passed=0 failed=0 skipped=0
# What a crashed or stalled guest leaves in a test's log.
crash_re='vessel exit status:? 4([^0-9]|$)|triple fault \(KVM_EXIT_SHUTDOWN\)|^ *last [0-9]+ exits \(of|^FAIL: no .* within [0-9]+s$|^FAIL: no .*: the guest stalled$|^FAIL: vessel hung|^FAIL: the guest.s kernel panicked'
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	if [ -n "${TEST_PASSED_FILE:-}" ] && grep -qx "$name" "$TEST_PASSED_FILE" 2>/dev/null; then
		passed=$((passed + 1))
		echo "ok $name (passed in an earlier attempt of this run)"
		continue
	fi
	tlog=$work/$name.log
	# A test may take longer than TEST_TIMEOUT if it says so in a line
	# "# test-timeout: SECONDS" (its VMs get that less 30 s).
	limit=$(sed -n 's/^# test-timeout: *\([0-9][0-9]*\)$/\1/p' "$t" | head -n 1)
	vm_limit=$VM_TIMEOUT
	if [ -n "$limit" ] && [ "$limit" -gt "$TEST_TIMEOUT" ]; then vm_limit=$((limit - 30)); else limit=$TEST_TIMEOUT; fi
	t0=$(now_ms)
	rc=0
	TMPDIR=$work VM_TIMEOUT=$vm_limit TEST_LIMIT=$limit timeout -k 10 "$limit" bash "$t" >"$tlog" 2>&1 </dev/null || rc=$?
	# A guest that crashed (vessel's exit status 4, a triple fault) or went
	# silent (a wait for its output ran out, or vessel hung) gets one more
	# try, and the first attempt is shown: inside the nested host the
	# emulated SVM has crashed and stalled guests early in boot (and the
	# nested host's own kernel) now and then; see tests/harness/README.md.
	# A test whose subject is a stall says "# test-retry: no": a retry
	# would hide what it checks.
	if [ "$rc" -ne 0 ] && [ "${TEST_RETRY_CRASH:-1}" = 1 ] &&
		! grep -qx '# test-retry: no' "$t" && grep -qE "$crash_re" "$tlog"; then
		echo "retry $name: the guest crashed or stalled; the first attempt's log:"
		sed 's/^/    | /' "$tlog"
		rc=0
		TMPDIR=$work VM_TIMEOUT=$vm_limit TEST_LIMIT=$limit timeout -k 10 "$limit" bash "$t" >"$tlog" 2>&1 </dev/null || rc=$?
		# Twice in this host: a fresh nested host, if nested-host.sh has
		# one to give (and nothing failed here for other reasons), runs
		# this test and the ones not yet passed. Once per test: a test
		# that fails the same way on a fresh host fails (a real bug must
		# not spend the run's time on host after host).
		if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && [ "${VESSEL_NESTED:-0}" = 1 ] &&
			[ "${NESTED_FRESH_LEFT:-0}" -gt 0 ] && [ -n "${TEST_PASSED_FILE:-}" ] &&
			! grep -qx "$name" "$TEST_PASSED_FILE.fresh" 2>/dev/null &&
			grep -qE "$crash_re" "$tlog"; then
			echo "retry $name on a fresh nested host: the guest crashed or stalled again; this attempt's log:"
			sed 's/^/    | /' "$tlog"
			echo "$name" >>"$TEST_PASSED_FILE.fresh"
			exit "$NESTED_EXIT_FRESH"
		fi
	fi
	took=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
	if [ "$rc" -eq 0 ] && grep -q '^SKIP: ' "$tlog"; then
		skipped=$((skipped + 1))
		echo "SKIP $name: $(sed -n 's/^SKIP: //p' "$tlog" | head -n1)"
	elif [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok $name (${took}s)"
		[ -z "${TEST_PASSED_FILE:-}" ] || echo "$name" >>"$TEST_PASSED_FILE"
		[ -z "${TEST_VERBOSE:-}" ] || sed 's/^/    /' "$tlog"
	else
		failed=$((failed + 1))
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "FAIL $name (hang: no result within ${limit}s)"
		else
			echo "FAIL $name (status $rc, ${took}s)"
		fi
		sed 's/^/    /' "$tlog"
	fi
done
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Live kernel text patching on 2 vCPUs (issue #11). The guest flips its
# kernel's sched_schedstats static key on and off (each flip is a
# text_poke_bp on the scheduler's jump sites: an int3 over each site, a
# sync IPI to every CPU, the new bytes, another sync) TEST_PATCH_FLIPS
# times (default 400) or for TEST_PATCH_SECONDS (default 90), while two
# pipes between processes pinned one per vCPU keep both CPUs switching
# tasks through those sites. It must finish with no Oops, BUG or panic,
# and at least TEST_PATCH_MIN (default 100) flips.
#
# This is the "Oops: int3" of the PREEMPT_RT guest (test_18) made
# reproducible: under QEMU 7.2's multi-threaded TCG, the emulator the
# nested host runs on, a vCPU can keep running a stale
# translation of the int3 after memory held the new jump (see
# tests/harness/README.md, "Stale code after live patching", and
# tcg-smc.sh, the same check on the nested host's own kernel).
# In a nested host on QEMU before 8 with multi-threaded TCG (Debian 12's
# 7.2, the harness's default) the guest hangs in about 1 run of 3: there
# it skips, saying so, unless TEST_PATCH_FORCE=1 (to see the fault).
# A stall is what this test looks for, so it is not retried:
# test-retry: no
# test-timeout: 240
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

flips=${TEST_PATCH_FLIPS:-400}
secs=${TEST_PATCH_SECONDS:-90}
min=${TEST_PATCH_MIN:-100}
for v in "$flips" "$secs" "$min"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || fail "TEST_PATCH_FLIPS, _SECONDS and _MIN must be positive integers, not '$v'"
done

qv=${NESTED_QEMU_VERSION:-}
if [ "${VESSEL_NESTED:-0}" = 1 ] && [ "${TEST_PATCH_FORCE:-0}" != 1 ] &&
	[ "${NESTED_TCG_THREAD:-multi}" = multi ] && [ "${qv%%.*}" -lt 8 ] 2>/dev/null; then
	skip "the nested host runs on QEMU $qv with multi-threaded TCG, which runs stale code after live patching (tests/harness/README.md); TEST_PATCH_FORCE=1 runs it anyway"
fi

virtio_guest t38 <<SH
ctl=/proc/sys/kernel/sched_schedstats
echo "VT-NPROC=\$(nproc)"
[ -w \$ctl ] || { echo "VT-NO-SCHEDSTATS"; exit 3; }
# Two pipes across the two CPUs: each side sleeps and wakes the other.
taskset -c 0 yes 0 | taskset -c 1 cat >/dev/null &
taskset -c 1 yes 1 | taskset -c 0 cat >/dev/null &
n=0
end=\$((\$(date +%s) + $secs))
while [ \$n -lt $flips ] && [ \$(date +%s) -lt \$end ]; do
	echo 1 >\$ctl
	echo 0 >\$ctl
	n=\$((n + 1))
	[ \$((n % 100)) -ne 0 ] || echo "VT-FLIPS-SO-FAR=\$n"
done
echo "VT-FLIPS=\$n"
killall yes cat 2>/dev/null || true
SH
GUEST_CMDLINE="$GUEST_CMDLINE panic=-1"
virtio_config t38 256M 2 </dev/null

vm_run "$CFG" $((secs + 120))
if grep -qE 'Oops|BUG:|Kernel panic|general protection' "$T/console"; then
	echo "--- guest console from the first Oops/BUG/panic:"
	console_excerpt 'Oops|BUG:|Kernel panic|general protection' 80
	vfail "the guest oopsed while patching its text: $(grep -m1 -E 'Oops|BUG:|Kernel panic|general protection' "$T/console")"
fi
expect_booted
[ "$(guest_value VT-NPROC)" = 2 ] || vfail "the guest has '$(guest_value VT-NPROC)' CPUs online, want 2"
expect_no_output '^VT-NO-SCHEDSTATS'
expect_guest_ok
expect_rc 0 "guest powered off"
n=$(guest_value VT-FLIPS)
info "static key flips: $n (of at most $flips, or ${secs}s)"
[[ $n =~ ^[0-9]+$ ]] || vfail "the guest did not report its flips (VT-FLIPS='$n')"
[ "$n" -ge "$min" ] || vfail "only $n flips in ${secs}s, want at least $min: too few to count as a check"
pass

#!/usr/bin/env bash
# Live migration of a guest that dirties memory fast (issue #16): the guest
# (1 vCPU, 256 MiB) rewrites a 64 MiB buffer in /dev/shm in a loop while it
# prints TICK lines. Source and destination are two run directories on
# this host, over 127.0.0.1.
# - With a 1 ms downtime limit, 2 MiB/s and a 20 s timeout the migration
#   cannot converge: `vessel migrate` exits 1 within the timeout (plus
#   slack) saying "did not converge" with the measured rates; the guest
#   runs on at the source (ps: running, ticks go on), nothing runs at the
#   destination.
# - With a 10 s downtime limit it converges in a bounded number of rounds
#   (migrate exits 0, reports its rounds), and the guest's ticks continue
#   at the destination.
# test-timeout: 300
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

snap_init
ensure_cmds iproute2:ip
ip link set lo up 2>/dev/null || true	# the test may run without it
SRC_RUN=$T/run DST_RUN=$T/run-dst
mkdir -m 0700 "$DST_RUN"
at_exit "VESSEL_RUN_DIR=$DST_RUN timeout 60 $VESSEL stop --force t31 >/dev/null 2>&1"
port=$((20000 + RANDOM % 20000))

virtio_guest t31 <<SH
$SNAP_GUEST_FUNCS
dd if=/dev/zero of=/dev/shm/buf bs=1M count=64 2>/dev/null
( while :; do dd if=/dev/urandom of=/dev/shm/buf bs=1M count=64 conv=notrunc 2>/dev/null; done ) &
echo "VT-DIRTYING"
snap_ticker 0.2
SH
virtio_config t31 256M 1 <<YAML
YAML
name=t31

snap_start "$CFG" "$name"
snap_wait '^VT-DIRTYING$'
snap_wait_ticks 10

# 1. Cannot converge: fails cleanly.
mig_receive_bg recv1 "127.0.0.1:$port" 60
t0=$(now_ms)
snap_cmd mig1 migrate --max-downtime 1ms --bandwidth 2M --timeout 20s "$name" "127.0.0.1:$port"
took=$(($(now_ms) - t0))
wait "$RECV_PID" 2>/dev/null || true
[ "$SRC" = 1 ] || snap_fail "a migration that cannot converge exited $SRC, want 1: $(cat "$T/mig1.out" "$T/mig1.err")"
grep -q 'did not converge' "$T/mig1.err" || snap_fail "no 'did not converge' in: $(cat "$T/mig1.err")"
[ "$took" -lt 60000 ] || snap_fail "the failed migration took $took ms (timeout 20 s)"
grep -q 'did not converge\|the source gave up' "$T/recv1.err" ||
	snap_fail "the destination did not hear why: $(cat "$T/recv1.err")"
[ "$(mig_state "$SRC_RUN" "$name")" = running ] || snap_fail "after it failed the source says '$(mig_state "$SRC_RUN" "$name")', want running"
[ -z "$(mig_state "$DST_RUN" "$name")" ] || snap_fail "the destination runs t31 after a failed migration"
before=$(snap_last_tick)
snap_wait_ticks $((before + 5)) 30
info "did not converge, as expected, in $took ms: $(head -c 300 "$T/mig1.err")"

# 2. A generous limit: converges.
mig_receive_bg recv2 "127.0.0.1:$port" 60
snap_ok mig2 migrate --max-downtime 10s "$name" "127.0.0.1:$port"
wait "$RECV_PID" || snap_fail "vessel receive exited $?: $(cat "$T/recv2.err")"
info "migrate: $(tail -n 3 "$T/mig2.out" | tr '\n' ' ')"
rounds=$(sed -nE 's/.* ([0-9]+) rounds.*/\1/p' "$T/mig2.out")
[ -n "$rounds" ] && [ "$rounds" -le 32 ] || snap_fail "rounds: '$rounds'"
snap_life_end 15
last=$(snap_last_tick)
[ "$(mig_state "$DST_RUN" "$name")" = running ] || snap_fail "the destination lists t31 as '$(mig_state "$DST_RUN" "$name")'"
export VESSEL_RUN_DIR=$DST_RUN
snap_follow "$name"
snap_wait_ticks 10 60
snap_expect_continued $((SNAP_LIFE - 1)) $((last - 5)) $((last + 2))
pass

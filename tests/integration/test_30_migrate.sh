#!/usr/bin/env bash
# Live migration between two "hosts" (issue #16): two network namespaces
# joined by a veth pair (10.86.0.1 the source, 10.86.0.2 the destination),
# each with a vessel run directory of its own. A guest (1 vCPU, 256 MiB)
# started in the source namespace prints TICK lines every 0.2 s with its
# uptime and CLOCK_MONOTONIC, and writes "line N" for each TICK N to a
# virtio-blk disk (a raw image both "hosts" see under the same path, as
# shared storage; synced every 0.5 s).
# - A migration whose destination dies mid-stream (`vessel receive` killed
#   while a --bandwidth-limited pre-copy runs; `vessel ps` there lists the
#   guest before, as its supervisor is made early) fails with a clear message:
#   the guest keeps ticking on the source, `vessel ps` there says running,
#   and nothing runs on the destination (what the killed receiver left in
#   its run directory is removed by the next `vessel receive`).
# - A second migration succeeds: `vessel migrate` exits 0 and reports its
#   downtime; the source's supervisor is gone; `vessel ps` in the
#   destination's run directory lists the guest running; its console there
#   goes on from the TICK it had reached (no boot banner, counter, uptime
#   and CLOCK_MONOTONIC continue); the received directory is gone; after
#   a hard stop on the destination the image holds "line 1", "line 2"...
#   without a gap up to past the TICK the guest had reached when it moved:
#   the source handed the disk over, synced, and the destination wrote on.
# test-timeout: 420
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
ensure_cmds iproute2:ip
snap_init
SRC_RUN=$T/run DST_RUN=$T/run-dst
mkdir -m 0700 "$DST_RUN"
mig_two_hosts 0
ns_dst=$MIG_NS_DST
at_exit "VESSEL_RUN_DIR=$DST_RUN timeout 60 $VESSEL stop --force t30 >/dev/null 2>&1"

truncate -s 16M "$T/disk.img"
virtio_guest t30 <<SH
$SNAP_GUEST_FUNCS
vt_wait_dev /dev/vda
exec 3>/dev/vda
SNAP_FD3=1
( while :; do sync; sleep 0.5; done ) &
echo "VT-READY"
snap_ticker 0.2
SH
virtio_config t30 256M 1 <<YAML
disks:
  - path: disk.img
YAML
name=t30

# Source: start in the source namespace.
mig_start_on_source "$CFG" "$name"
snap_wait '^VT-READY$'
snap_wait_ticks 10

# 1. The destination dies mid-migration.
mig_receive_bg recv1 10.86.0.2:4444 120 ip netns exec "$ns_dst"
info "vessel migrate --bandwidth 4M $name 10.86.0.2:4444 (the destination is killed after 2 s)"
( rc=0; timeout -k 5 300 "$VESSEL" migrate --bandwidth 4M "$name" 10.86.0.2:4444 \
	</dev/null >"$T/mig1.out" 2>"$T/mig1.err" || rc=$?; echo "$rc" >"$T/mig1.status" ) &
mig_pid=$!
sleep 2
# The destination made the guest's supervisor as soon as the definition
# and RAM size were in: the name is taken there while the pages arrive.
during=$(VESSEL_RUN_DIR=$DST_RUN "$VESSEL" ps 2>/dev/null | grep t30 || true)
info "vessel ps on the destination during the pre-copy: ${during:-nothing}"
[ -n "$during" ] || snap_fail "the destination does not list t30 while it receives it"
# vessel itself (not its timeout wrapper), the oldest: the guest's
# supervisor, forked from the receiver, has the same command line.
pkill -9 -o -f "^$VESSEL receive --listen 10.86.0.2:4444" 2>/dev/null || true
wait "$RECV_PID" 2>/dev/null || true
# Its supervisor saw the receiver go (the "go" pipe closed) and ended.
for _ in $(seq 1 50); do
	[ -e "$DST_RUN/t30" ] || break
	sleep 0.2
done
[ ! -e "$DST_RUN/t30" ] || snap_fail "the killed destination's supervisor for t30 is still there: $(ls -la "$DST_RUN/t30")"
wait "$mig_pid" || true
[ "$(cat "$T/mig1.status")" = 1 ] ||
	snap_fail "vessel migrate to a killed destination exited $(cat "$T/mig1.status"), want 1: $(cat "$T/mig1.out" "$T/mig1.err")"
grep -q 'not migrated' "$T/mig1.err" || snap_fail "vessel migrate to a killed destination: unexpected error: $(cat "$T/mig1.err")"
info "migration to a killed destination: $(head -c 300 "$T/mig1.err")"
[ "$(mig_state "$SRC_RUN" "$name")" = running ] || snap_fail "after the failed migration the source says '$(mig_state "$SRC_RUN" "$name")', want running"
before=$(snap_last_tick)
snap_wait_ticks $((before + 5)) 30
! pgrep -f "receive --listen 10.86.0.2:4444" >/dev/null ||
	snap_fail "a vessel receive is still running after it was killed"
[ -z "$(VESSEL_RUN_DIR=$DST_RUN "$VESSEL" ps 2>/dev/null | grep t30 || true)" ] ||
	snap_fail "the killed destination started t30 all the same"

# 2. A migration that succeeds.
mig_receive_bg recv2 10.86.0.2:4444 120 ip netns exec "$ns_dst"
snap_ok mig2 migrate "$name" 10.86.0.2:4444
wait "$RECV_PID" || snap_fail "vessel receive exited $?: $(cat "$T/recv2.err")"
info "migrate: $(cat "$T/mig2.out")"
grep -qE "^t30: migrated to 10.86.0.2:4444: downtime [0-9]+ ms" "$T/mig2.out" ||
	snap_fail "vessel migrate's report: $(cat "$T/mig2.out")"
grep -q "^t30: received from 10.86.0.1" "$T/recv2.out" ||
	snap_fail "vessel receive's report: $(cat "$T/recv2.out") $(cat "$T/recv2.err")"
snap_life_end 15
last=$(snap_last_tick)
[ -z "$(mig_state "$SRC_RUN" "$name")" ] || snap_fail "the source still lists t30 ($(mig_state "$SRC_RUN" "$name")) after the migration"
[ "$(mig_state "$DST_RUN" "$name")" = running ] || snap_fail "the destination lists t30 as '$(mig_state "$DST_RUN" "$name")', want running"
export VESSEL_RUN_DIR=$DST_RUN
snap_follow "$name"
snap_wait_ticks 10 60
snap_expect_continued $((SNAP_LIFE - 1)) $((last - 5)) $((last + 2))
! ls -d "$DST_RUN"/incoming.* >/dev/null 2>&1 ||
	snap_fail "the received directory is still there: $(ls -d "$DST_RUN"/incoming.*)"
info "the guest continues on the destination from TICK $last"

# The disk: written on the source, then on the destination, no gap.
sleep 2
now=$(snap_last_tick)
snap_ok stop stop --force "$name"
snap_life_end 15
lines=$(tr -d '\000' <"$T/disk.img" | awk '/^line [0-9]+$/ { n++; if ($2 != n) { print "gap at " n ": " $0; exit } } END { print "last " n }')
info "disk: $lines (TICK $last when it moved, $now when stopped)"
case $lines in
last\ *) ;;
*) snap_fail "the disk's lines: $lines" ;;
esac
[ "${lines#last }" -ge $((last + 5)) ] ||
	snap_fail "the disk holds lines up to ${lines#last } only; the guest moved at TICK $last and wrote on to TICK $now"
pass

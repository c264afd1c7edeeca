#!/usr/bin/env bash
# A TCP connection to a guest survives its live migration (issue #16).
# Three network namespaces: the source and destination "hosts" (joined by
# a veth pair for the migration stream, 10.86.1.1 and 10.86.1.2:
# mig_two_hosts), each with
# a bridge of the same name the guest's tap joins, and the client (this
# script's namespace), whose bridge (10.88.0.1/24) has one veth port to
# each host's bridge: one Ethernet segment, as two hosts on one switch.
# The guest (1 vCPU, 256 MiB, NIC with a fixed MAC, vhost: auto) sets
# 10.88.0.2 on eth0 at boot (IPv6 off: no multicast reports of its own)
# and serves a line echo on port 7000; the
# client holds one connection (a bash /dev/tcp descriptor) and exchanges
# lines with it.
# First a destination killed midway (it had made the guest's tap, as the
# VM is made while the pages arrive): its tap goes with it, and the guest
# answers on the source. Then a migration that succeeds: the source's tap
# is gone after it.
# After `vessel migrate`, the guest, which sends nothing by itself, has
# announced its MAC from the destination (RARP frames through its new
# tap, before the first exchange): within 2 s the client's bridge forwards
# its MAC to the port towards the destination. Without that the client's frames
# would go on to the source, where the tap is gone, and be lost until
# its neighbour entry timed out (tens of seconds). The same connection
# then goes on exchanging lines within seconds, and the guest never
# configured eth0 again (no boot in between).
# test-timeout: 360
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces, bridges, taps)"
ensure_cmds iproute2:ip iproute2:bridge
host_modprobe tun bridge veth || fail "cannot load tun/bridge/veth on this host"
snap_init
DST_RUN=$T/run-dst
mkdir -m 0700 "$DST_RUN"
name=t33
mig_two_hosts 1
sfx=$MIG_SFX ns_src=$MIG_NS_SRC ns_dst=$MIG_NS_DST
brc=vnmc-$sfx                   # the client's bridge (this namespace)
hbr=vnmbr0                      # each host's bridge (same name on both)
tap=vnmt0 mac=52:54:00:33:00:01
at_exit "VESSEL_RUN_DIR=$DST_RUN timeout 60 $VESSEL stop --force $name >/dev/null 2>&1; ip link del vnmcs-$sfx 2>/dev/null; ip link del vnmcd-$sfx 2>/dev/null; ip link del $brc 2>/dev/null"
# The guests' segment: the client's bridge, a port to each host's bridge.
ip link add "$brc" type bridge forward_delay 0
ip addr add 10.88.0.1/24 dev "$brc"
ip link set "$brc" up
for side in s d; do
	ns=$ns_src
	[ "$side" = d ] && ns=$ns_dst
	ip -n "$ns" link add "$hbr" type bridge forward_delay 0
	ip -n "$ns" link set "$hbr" up
	ip link add "vnmc$side-$sfx" type veth peer name "vnmh$side" netns "$ns" ||
		fail "cannot create the veth pair to the $side host's bridge"
	ip link set "vnmc$side-$sfx" master "$brc" up
	ip -n "$ns" link set "vnmh$side" master "$hbr" up
done

virtio_guest "$name" <<SH
$SNAP_GUEST_FUNCS
vt_wait_dev /sys/class/net/eth0
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/eth0/disable_ipv6
ip link set lo up
ip addr add 10.88.0.2/24 dev eth0
ip link set eth0 up
echo "VT-NET-CONFIGURED"
$SNAP_ECHO_SERVICE
snap_ticker 0.5
SH
virtio_config "$name" 256M 1 <<YAML
nets:
  - tap: $tap
    mac: $mac
    bridge: $hbr
YAML

# fdb_port: the port of the client's bridge the guest's MAC is learnt on.
fdb_port() {
	bridge fdb show br "$brc" 2>/dev/null | awk -v m="$mac" 'tolower($1) == m && $2 == "dev" { print $3; exit }'
}

mig_start_on_source "$CFG" "$name"
snap_wait '^VT-SERVICE-UP$'
snap_connect 10.88.0.2
for i in 1 2 3; do snap_exchange "before-$i" 60; done
[ "$(fdb_port)" = "vnmcs-$sfx" ] ||
	snap_fail "before the move the client's bridge has the guest's MAC on '$(fdb_port)', want vnmcs-$sfx (towards the source)"
sport=$(ss -Htn state established dst 10.88.0.2 dport = :7000 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
info "the connection: ${sport:-?} -> 10.88.0.2:7000, the MAC towards the source"

# A destination killed midway: it had made the guest's tap already (the
# VM is made while the pages arrive); once it is gone, so is the tap, and
# the guest still answers on the source.
mig_receive_bg recv0 10.86.1.2:4444 120 ip netns exec "$ns_dst"
( timeout -k 5 120 "$VESSEL" migrate --bandwidth 4M "$name" 10.86.1.2:4444 </dev/null >"$T/mig0.out" 2>"$T/mig0.err" || true ) &
mig_pid=$!
for ((i = 0; i < 50; i++)); do
	ip -n "$ns_dst" link show "$tap" >/dev/null 2>&1 && break
	sleep 0.1
done
ip -n "$ns_dst" link show "$tap" >/dev/null 2>&1 || snap_fail "the destination made no tap while it received the guest"
pkill -9 -o -f "^$VESSEL receive --listen 10.86.1.2:4444" 2>/dev/null || true
wait "$RECV_PID" 2>/dev/null || true
wait "$mig_pid" || true
for ((i = 0; i < 50; i++)); do
	ip -n "$ns_dst" link show "$tap" >/dev/null 2>&1 || break
	sleep 0.2
done
! ip -n "$ns_dst" link show "$tap" >/dev/null 2>&1 || snap_fail "the killed destination left its tap $tap behind"
info "migration to a killed destination: $(head -c 200 "$T/mig0.err"); its tap is gone"
snap_exchange "between" 30

# Quiet first: about 5 s after its last reply the guest checks its
# neighbour entry for the client (a unicast ARP probe), which would teach
# the bridges where it is as well. After that it sends nothing unasked.
sleep 8
mig_receive_bg recv 10.86.1.2:4444 120 ip netns exec "$ns_dst"
snap_ok mig migrate "$name" 10.86.1.2:4444
wait "$RECV_PID" || snap_fail "vessel receive exited $?: $(cat "$T/recv.err")"
info "migrate: $(cat "$T/mig.out")"
snap_life_end 15
[ "$(mig_state "$DST_RUN" "$name")" = running ] ||
	snap_fail "the destination lists $name as '$(mig_state "$DST_RUN" "$name")', want running"
export VESSEL_RUN_DIR=$DST_RUN
! ip -n "$ns_src" link show "$tap" >/dev/null 2>&1 || snap_fail "the source left its tap $tap behind after the move"

# The announce, before the client sent anything.
for ((i = 0; i < 20; i++)); do
	[ "$(fdb_port)" = "vnmcd-$sfx" ] && break
	sleep 0.1
done
[ "$(fdb_port)" = "vnmcd-$sfx" ] ||
	snap_fail "2 s after the move the client's bridge has the guest's MAC on '$(fdb_port)', want vnmcd-$sfx (towards the destination): no announce"
info "the client's bridge learnt the guest's MAC towards the destination"
for i in 1 2 3 4 5; do snap_exchange "after-$i" 10; done
sport2=$(ss -Htn state established dst 10.88.0.2 dport = :7000 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
[ -z "$sport" ] || [ "$sport2" = "$sport" ] || snap_fail "the connection is now '$sport2', was '$sport'"
snap_follow "$name"
snap_wait_ticks 2 60
! grep -q '^VT-NET-CONFIGURED$' "$SNAP_CON" || snap_fail "the migrated guest configured its network again"
exec {tcp}>&-
snap_ok stop stop --force "$name"
pass

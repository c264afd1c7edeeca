#!/usr/bin/env bash
# A TCP connection survives snapshot, stop and restore (issue #12). The
# guest (1 vCPU, 256 MiB) has one NIC on a tap vessel creates and attaches
# to a bridge the test made (10.84.0.1/24 on the host), sets 10.84.0.2 on
# eth0 once at boot and serves a line echo on port 7000 (busybox nc -ll -e:
# each line comes back as "guest-LINE"). The host opens one connection (a
# bash /dev/tcp descriptor held by this script) and exchanges lines; then
# `vessel snapshot --stop` (vessel removes the tap it made), `vessel start
# --restore`: the tap is back with the same name on the same bridge, the
# guest's MAC answers, and the same connection goes on exchanging lines,
# with no reconfiguration in the guest (it prints no boot banner and does
# not set up eth0 again).
# The NIC has vhost: auto, so where /dev/vhost-net works (the nested host)
# the snapshot is taken with vhost-net carrying the packets. With
# TEST_T24_RESTORE=userspace the restore runs where /dev/vhost-net does not
# work (a private mount namespace with /dev/null over it): the same
# connection must go on over vessel's user-space path.
# test-timeout: 300
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (a tap and a bridge)"
ensure_cmds iproute2:ip
host_modprobe tun bridge || fail "cannot load tun/bridge on this host"
[ -c /dev/net/tun ] || fail "no /dev/net/tun after loading tun"
snap_init
name=t24
sfx=$(random_token | cut -c1-6)
tap=vsn-$sfx br=vsnbr-$sfx mac=52:54:00:24:00:01
at_exit "ip link del $tap 2>/dev/null; ip link del $br 2>/dev/null"
ip link add "$br" type bridge forward_delay 0
ip addr add 10.84.0.1/24 dev "$br"
ip link set "$br" up

virtio_guest t24 <<SH
$SNAP_GUEST_FUNCS
vt_wait_dev /sys/class/net/eth0
echo "VT-MAC=\$(cat /sys/class/net/eth0/address)"
ip link set lo up
ip addr add 10.84.0.2/24 dev eth0
ip link set eth0 up
echo "VT-NET-CONFIGURED"
$SNAP_ECHO_SERVICE
snap_ticker 0.5
SH
virtio_config t24 256M 1 <<YAML
nets:
  - tap: $tap
    mac: $mac
    bridge: $br
YAML

snap_start "$CFG" "$name"
snap_wait '^VT-SERVICE-UP$'
[ "$(snap_value VT-MAC)" = "$mac" ] || snap_fail "eth0's MAC is '$(snap_value VT-MAC)', want $mac"
snap_connect 10.84.0.2
for i in 1 2 3; do snap_exchange "before-$i" 60; done
sport=$(ss -Htn state established dst 10.84.0.2 dport = :7000 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
info "the connection: ${sport:-?} -> 10.84.0.2:7000"

# vhost_holders: how many descriptors on /dev/vhost-net processes hold.
vhost_holders() {
	local n=0 fd
	for fd in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" != /dev/vhost-net ] || n=$((n + 1))
	done
	echo "$n"
}
info "before the snapshot: $(vhost_holders) descriptor(s) on /dev/vhost-net"
restore_mode=${TEST_T24_RESTORE:-same}
if [ "$restore_mode" = userspace ]; then
	[ "$(vhost_holders)" -ge 1 ] || snap_fail "TEST_T24_RESTORE=userspace, but the guest did not run on vhost-net before the snapshot"
fi

snap_ok snapshot snapshot --stop "$name" "$T/snap"
info "snapshot --stop in $SNAP_CMD_MS ms"
snap_life_end
! ip link show "$tap" >/dev/null 2>&1 || snap_fail "$tap still exists after the guest stopped (vessel made it, so it removes it)"

if [ "$restore_mode" = userspace ]; then
	# vessel where /dev/vhost-net does not work: /dev/null over it, in
	# a private mount namespace (the guest's supervisor inherits it).
	cat >"$T/novhost.sh" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount --bind /dev/null /dev/vhost-net && exec "\$0" "\$@"' "$VESSEL" "\$@"
EOF
	chmod +x "$T/novhost.sh"
	real_vessel=$VESSEL
	VESSEL=$T/novhost.sh
	snap_restore_bg "$T/snap" "$name"
	VESSEL=$real_vessel
	info "after the restore: $(vhost_holders) descriptor(s) on /dev/vhost-net"
	[ "$(vhost_holders)" = 0 ] || snap_fail "the restore was to run without vhost-net, yet /dev/vhost-net is open"
else
	snap_restore_bg "$T/snap" "$name"
fi
[ -e "/sys/class/net/$tap" ] || snap_fail "no $tap on the host after the restore (vessel should make it again)"
master=$(readlink "/sys/class/net/$tap/master" || true)
[ "${master##*/}" = "$br" ] || snap_fail "$tap is a port of '${master##*/}' after the restore, want the bridge $br"
for i in 1 2 3 4 5; do snap_exchange "after-$i" 60; done
snap_wait_ticks 2 60
snap_expect_continued 1 "$(($(snap_last_tick 1) + 1))" "$(($(snap_last_tick 1) + 2))"
! grep -q '^VT-NET-CONFIGURED$' "$SNAP_CON" || snap_fail "the restored guest configured its network again"
ip neigh show 10.84.0.2 dev "$br" | grep -qi "$mac" ||
	snap_fail "the host's neighbour entry for 10.84.0.2 is '$(ip neigh show 10.84.0.2 dev "$br")', want MAC $mac"
sport2=$(ss -Htn state established dst 10.84.0.2 dport = :7000 2>/dev/null | awk 'NR == 1 { print $3 }' || true)
[ -z "$sport" ] || [ "$sport2" = "$sport" ] || snap_fail "the connection is now '$sport2', was '$sport'"
exec {tcp}>&-
snap_ok stop stop --force "$name"
pass

#!/usr/bin/env bash
# virtio-net over taps, two NICs with configured MACs (needs root: taps and a
# bridge on the host), on vessel's user-space path (vhost: false; test_29
# is the vhost-net one).
#   eth0: a persistent tap the test made and gave 10.77.0.1/24 (vessel reuses
#         it and must leave it in place);
#   eth1: a tap vessel creates, attached to a bridge the test made with
#         10.78.0.1/24 (vessel must remove the tap when it exits).
# The guest (2 vCPUs) checks both MACs, pings the host through each NIC, then
# over eth0 sends 64 MiB from /dev/urandom to the host and receives 64 MiB
# from it (busybox nc at both ends); both sides compare sha256 sums. The
# host side checks the tap was on the bridge while the VM ran.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (taps and a bridge)"
ensure_cmds iproute2:ip busybox-static:/bin/busybox
host_modprobe tun bridge || fail "cannot load tun/bridge on this host"
[ -c /dev/net/tun ] || fail "no /dev/net/tun after loading tun"

sfx=$(random_token | cut -c1-6)
tap0=vst0-$sfx tap1=vst1-$sfx br=vsbr-$sfx
mac0=52:54:00:12:34:56 mac1=52:54:00:ab:cd:ef
nc=/bin/busybox
ip link show "$tap1" >/dev/null 2>&1 && fail "$tap1 exists already"
at_exit "ip link del $tap0 2>/dev/null; ip link del $tap1 2>/dev/null; ip link del $br 2>/dev/null"
ip tuntap add dev "$tap0" mode tap
ip addr add 10.77.0.1/24 dev "$tap0"
ip link set "$tap0" up
ip link add "$br" type bridge forward_delay 0
ip addr add 10.78.0.1/24 dev "$br"
ip link set "$br" up

# The host's ends of the transfers, listening before the guest boots:
#   :5001 receives the guest's 64 MiB; :5002 sends the host's 64 MiB.
# busybox nc half-closes when its stdin ends and exits when the peer's side
# ends; so the receiver's stdin is a FIFO held open (by a sleep) until done,
# else its early half-close would end the sender's transfer.
head -c 64M /dev/urandom >"$T/send.bin"
send_sum=$(sha256sum "$T/send.bin" | cut -d' ' -f1)
mkfifo "$T/hold"
sleep 600 >"$T/hold" &
hold_pid=$!
at_exit "kill $hold_pid 2>/dev/null"
timeout -k 5 170 "$nc" nc -l -p 5001 <"$T/hold" >"$T/recv.bin" 2>"$T/nc-recv.err" &
recv_pid=$!
timeout -k 5 170 "$nc" nc -l -p 5002 <"$T/send.bin" >"$T/nc-send.out" 2>"$T/nc-send.err" &
send_pid=$!
at_exit "kill $recv_pid $send_pid 2>/dev/null"

virtio_guest t14 <<'SH'
for i in 0 1; do
	vt_wait_dev /sys/class/net/eth$i
	echo "VT-ETH$i-MAC=$(cat /sys/class/net/eth$i/address)"
done
ip link set lo up
ip addr add 10.77.0.2/24 dev eth0
ip link set eth0 up
ip addr add 10.78.0.2/24 dev eth1
ip link set eth1 up
echo "VT-NET-UP"
for h in 10.77.0.1 10.78.0.1; do
	rc=0
	ping -c 3 -w 20 $h || rc=$?
	echo "VT-PING-$h-RC=$rc"
done
dd if=/dev/urandom of=/tmp/out.bin bs=1M count=64 2>/dev/null
echo "VT-OUT-SIZE=$(stat -c %s /tmp/out.bin)"
echo "VT-OUT-SHA=$(sha256sum /tmp/out.bin | cut -d' ' -f1)"
t0=$(vt_uptime_ms)
rc=0
timeout 120 nc 10.77.0.1 5001 </tmp/out.bin || rc=$?
echo "VT-TX-RC=$rc"
echo "VT-TX-MS=$(($(vt_uptime_ms) - t0))"
rm -f /tmp/out.bin
mkfifo /tmp/hold
sleep 600 >/tmp/hold &
hold=$!
t0=$(vt_uptime_ms)
rc=0
timeout 120 nc 10.77.0.1 5002 </tmp/hold >/tmp/in.bin || rc=$?
kill $hold 2>/dev/null || true
echo "VT-RX-RC=$rc"
echo "VT-RX-MS=$(($(vt_uptime_ms) - t0))"
echo "VT-IN-SIZE=$(stat -c %s /tmp/in.bin)"
echo "VT-IN-SHA=$(sha256sum /tmp/in.bin | cut -d' ' -f1)"
SH
virtio_config t14 768M 2 <<YAML
nets:
  - tap: $tap0
    mac: $mac0
    vhost: false
  - tap: $tap1
    mac: $mac1
    bridge: $br
    vhost: false
YAML

vm_start
wait_output '^VT-NET-UP$'
[ -e "/sys/class/net/$tap1" ] || vfail "no $tap1 on the host while the VM runs (vessel should create it)"
master=$(readlink "/sys/class/net/$tap1/master" || true)
master=${master##*/}
[ "$master" = "$br" ] || vfail "$tap1 is a port of '$master', want the bridge $br"
wait_output '^VESSEL-TEST-EXIT=' "$VM_TIMEOUT"
vm_wait 60
expect_booted
expect_guest_ok
expect_rc 0 "guest powered off"

# Host-side devices after the VM: the pre-made tap stays, vessel's is gone.
ip link show "$tap0" >/dev/null 2>&1 || vfail "vessel removed $tap0, a persistent tap it did not create"
! ip link show "$tap1" >/dev/null 2>&1 || vfail "$tap1, created by vessel, still exists after it exited"

# MACs and pings.
[ "$(guest_value VT-ETH0-MAC)" = "$mac0" ] || vfail "eth0's MAC is '$(guest_value VT-ETH0-MAC)', want $mac0"
[ "$(guest_value VT-ETH1-MAC)" = "$mac1" ] || vfail "eth1's MAC is '$(guest_value VT-ETH1-MAC)', want $mac1"
[ "$(guest_value VT-PING-10.77.0.1-RC)" = 0 ] || vfail "the guest could not ping 10.77.0.1 (host, over eth0/$tap0)"
[ "$(guest_value VT-PING-10.78.0.1-RC)" = 0 ] || vfail "the guest could not ping 10.78.0.1 (host bridge, over eth1/$tap1)"

# Guest -> host.
rc=0
wait "$recv_pid" || rc=$?
[ "$(guest_value VT-TX-RC)" = 0 ] || vfail "the guest's nc (sending) exited $(guest_value VT-TX-RC)"
[ "$rc" = 0 ] || vfail "the host's nc (receiving) exited $rc: $(cat "$T/nc-recv.err")"
[ "$(guest_value VT-OUT-SIZE)" = $((64 << 20)) ] || vfail "the guest's file has $(guest_value VT-OUT-SIZE) bytes"
rsize=$(stat -c %s "$T/recv.bin")
rsum=$(sha256sum "$T/recv.bin" | cut -d' ' -f1)
info "guest -> host: $rsize bytes in $(guest_value VT-TX-MS) ms, sha256 $rsum (guest: $(guest_value VT-OUT-SHA))"
[ "$rsize" = $((64 << 20)) ] || vfail "the host received $rsize bytes, want $((64 << 20))"
[ "$rsum" = "$(guest_value VT-OUT-SHA)" ] || vfail "the host received data hashing to $rsum, the guest sent $(guest_value VT-OUT-SHA)"

# Host -> guest.
rc=0
wait "$send_pid" || rc=$?
[ "$(guest_value VT-RX-RC)" = 0 ] || vfail "the guest's nc (receiving) exited $(guest_value VT-RX-RC)"
[ "$rc" = 0 ] || vfail "the host's nc (sending) exited $rc: $(cat "$T/nc-send.err")"
info "host -> guest: $(guest_value VT-IN-SIZE) bytes in $(guest_value VT-RX-MS) ms, sha256 $(guest_value VT-IN-SHA) (host: $send_sum)"
[ "$(guest_value VT-IN-SIZE)" = $((64 << 20)) ] || vfail "the guest received $(guest_value VT-IN-SIZE) bytes, want $((64 << 20))"
[ "$(guest_value VT-IN-SHA)" = "$send_sum" ] || vfail "the guest received data hashing to $(guest_value VT-IN-SHA), the host sent $send_sum"
pass

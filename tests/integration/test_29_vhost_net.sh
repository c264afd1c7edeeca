#!/usr/bin/env bash
# virtio-net with vhost-net (issue #17): one NIC with `vhost: true` on a
# persistent tap the test made (10.87.0.1/24 on the host). The guest
# (2 vCPUs) pings the host, sends TEST_VHOST_MB MiB (default 64) from
# /dev/urandom to the host and receives as many from it (busybox nc at both
# ends); both sides compare sha256 sums. The host side proves the kernel
# moved the packets, so a silent fall-back to the user-space path fails:
# vessel holds /dev/vhost-net open while the VM runs, its vhost worker
# ("vhost-PID": a thread of vessel on Linux >= 6.4, a kernel thread before)
# exists and used CPU time during the transfers, and vessel said nothing
# about vhost-net on stderr. First, where /dev/vhost-net does not work,
# vhost: true must be an error naming the file and line.
# test-timeout: 300
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (a tap on the host)"
ensure_cmds iproute2:ip busybox-static:/bin/busybox
host_modprobe tun || fail "cannot load tun on this host"
[ -c /dev/net/tun ] || fail "no /dev/net/tun after loading tun"
host_modprobe vhost_net || skip "no vhost_net module on this host"
[ -c /dev/vhost-net ] || skip "no /dev/vhost-net on this host"

MB=${TEST_VHOST_MB:-64}
sfx=$(random_token | cut -c1-6)
tap=vsv-$sfx mac=52:54:00:29:00:01
nc=/bin/busybox
at_exit "ip link del $tap 2>/dev/null"
ip tuntap add dev "$tap" mode tap
ip addr add 10.87.0.1/24 dev "$tap"
ip link set "$tap" up

# The host's ends, as in test_14: :5001 receives, :5002 sends.
head -c "${MB}M" /dev/urandom >"$T/send.bin"
send_sum=$(sha256sum "$T/send.bin" | cut -d' ' -f1)
mkfifo "$T/hold"
sleep 600 >"$T/hold" &
hold_pid=$!
at_exit "kill $hold_pid 2>/dev/null"
timeout -k 5 260 "$nc" nc -l -p 5001 <"$T/hold" >"$T/recv.bin" 2>"$T/nc-recv.err" &
recv_pid=$!
timeout -k 5 260 "$nc" nc -l -p 5002 <"$T/send.bin" >"$T/nc-send.out" 2>"$T/nc-send.err" &
send_pid=$!
at_exit "kill $recv_pid $send_pid 2>/dev/null"

virtio_guest t29 <<SH
vt_wait_dev /sys/class/net/eth0
ip link set lo up
ip addr add 10.87.0.2/24 dev eth0
ip link set eth0 up
rc=0
ping -c 3 -w 20 10.87.0.1 || rc=\$?
echo "VT-PING-RC=\$rc"
echo "VT-NET-UP"
dd if=/dev/urandom of=/tmp/out.bin bs=1M count=$MB 2>/dev/null
echo "VT-OUT-SIZE=\$(stat -c %s /tmp/out.bin)"
echo "VT-OUT-SHA=\$(sha256sum /tmp/out.bin | cut -d' ' -f1)"
t0=\$(vt_uptime_ms)
rc=0
timeout 110 nc 10.87.0.1 5001 </tmp/out.bin || rc=\$?
echo "VT-TX-RC=\$rc"
echo "VT-TX-MS=\$((\$(vt_uptime_ms) - t0))"
rm -f /tmp/out.bin
mkfifo /tmp/hold
sleep 600 >/tmp/hold &
hold=\$!
t0=\$(vt_uptime_ms)
rc=0
timeout 110 nc 10.87.0.1 5002 </tmp/hold >/tmp/in.bin || rc=\$?
kill \$hold 2>/dev/null || true
echo "VT-RX-RC=\$rc"
echo "VT-RX-MS=\$((\$(vt_uptime_ms) - t0))"
echo "VT-IN-SIZE=\$(stat -c %s /tmp/in.bin)"
echo "VT-IN-SHA=\$(sha256sum /tmp/in.bin | cut -d' ' -f1)"
echo "VT-DONE"
SH
virtio_config t29 768M 2 <<YAML
nets:
  - tap: $tap
    mac: $mac
    vhost: true
YAML

# Where /dev/vhost-net does not work (/dev/null over it, in a private mount
# namespace), vhost: true is an error that names the file and line.
cat >"$T/novhost.sh" <<EOF2
#!/bin/sh
exec unshare -m sh -c 'mount --bind /dev/null /dev/vhost-net && exec "\$0" "\$@"' "$VESSEL" "\$@"
EOF2
chmod +x "$T/novhost.sh"
rc=0
timeout -k 5 60 "$T/novhost.sh" run "$CFG" </dev/null >"$T/novhost.out" 2>"$T/novhost.err" || rc=$?
info "vhost: true without a working /dev/vhost-net: status $rc, stderr: $(head -c 400 "$T/novhost.err")"
[ "$rc" != 0 ] || vfail "vhost: true without a working /dev/vhost-net, yet vessel ran the guest"
[ "$rc" != 124 ] || vfail "vhost: true without a working /dev/vhost-net: vessel hung"
line=$(grep -n 'vhost: true' "$CFG" | cut -d: -f1)
grep -qF "$CFG:$line:" "$T/novhost.err" && grep -qF "nets[0].vhost: true, but" "$T/novhost.err" ||
	vfail "vhost: true without a working /dev/vhost-net: the error does not name $CFG:$line (nets[0].vhost)"

# vhost_ticks: VHOST_SUM = utime + stime (clock ticks) of every vhost
# worker on the (nested) host, or nothing if there is none; VHOST_SEEN
# lists them. A worker is named vhost-TID after the thread that opened
# /dev/vhost-net: a thread of vessel on Linux >= 6.4, a kernel thread
# before. This VM is the only one here, so what the workers used meanwhile
# is its traffic; matching the TID against vessel's threads missed the
# worker once (151 ticks at the start and the end while 128 MiB went
# through).
VHOST_SEEN='' VHOST_SUM=''
vhost_ticks() {
	local f sum='' t c
	VHOST_SEEN=''
	for f in /proc/[0-9]*/task/*/comm; do
		read -r t 2>/dev/null <"$f" || continue
		[[ $t == vhost-* ]] || continue
		read -r c 2>/dev/null <"${f%/comm}/stat" || continue
		c=${c##*) }
		# fields after "(comm) ": state is 1, utime 12, stime 13
		# shellcheck disable=SC2086 # split into fields
		set -- $c
		[ $# -ge 13 ] || continue
		c=${f%/comm}
		VHOST_SEEN+=" $t(tid ${c##*/})=$((${12} + ${13}))"
		sum=$((${sum:-0} + ${12} + ${13}))
	done
	VHOST_SUM=$sum
}

vm_start
wait_output '^VT-NET-UP$'
# vessel holds /dev/vhost-net while the guest's driver runs.
held=0
for fd in /proc/"$VM_PID"/fd/*; do
	[ "$(readlink "$fd" 2>/dev/null)" = /dev/vhost-net ] && held=$((held + 1))
done
info "vessel holds /dev/vhost-net $held time(s)"
[ "$held" -ge 1 ] || vfail "vessel has no descriptor on /dev/vhost-net while the VM runs (vhost: true)"
vhost_ticks
t_start=$VHOST_SUM
info "vhost workers at the start:$VHOST_SEEN"
[ -n "$t_start" ] || vfail "no vhost worker thread while the VM runs"
# Sample the worker's CPU time until the guest is done (the VM exits
# right after).
# The guest's two transfers have 110 s each: 240 s is past them, and
# within the test's limit (a stall must be reported with the console).
t_last=$t_start
end=$((SECONDS + 240))
while ! grep -q '^VT-DONE' "$T/stdout" 2>/dev/null && kill -0 "$VM_PID" 2>/dev/null; do
	[ $SECONDS -lt $end ] || fail "no '^VT-DONE' within 240s"
	_t_console
	guest_panic_check "'^VT-DONE'"
	vhost_ticks
	[ -z "$VHOST_SUM" ] || t_last=$VHOST_SUM
	sleep 0.5
done
wait_output '^VESSEL-TEST-EXIT=' "$VM_TIMEOUT"
vm_wait 60
expect_booted
expect_guest_ok
expect_rc 0 "guest powered off"
info "vhost workers: $t_start ticks of CPU at the start, $t_last at the end (threads:$VHOST_SEEN)"
[ "$((t_last - t_start))" -gt 0 ] || vfail "vessel's vhost worker used no CPU time while $MB MiB went each way: the packets did not go through vhost-net"
if grep -i 'vhost' "$T/stderr"; then vfail "vessel said something about vhost-net on stderr"; fi
[ "$(guest_value VT-PING-RC)" = 0 ] || vfail "the guest could not ping the host"

# Guest -> host.
rc=0
wait "$recv_pid" || rc=$?
[ "$(guest_value VT-TX-RC)" = 0 ] || vfail "the guest's nc (sending) exited $(guest_value VT-TX-RC)"
[ "$rc" = 0 ] || vfail "the host's nc (receiving) exited $rc: $(cat "$T/nc-recv.err")"
[ "$(guest_value VT-OUT-SIZE)" = $((MB << 20)) ] || vfail "the guest's file has $(guest_value VT-OUT-SIZE) bytes"
rsize=$(stat -c %s "$T/recv.bin")
rsum=$(sha256sum "$T/recv.bin" | cut -d' ' -f1)
info "guest -> host (vhost): $rsize bytes in $(guest_value VT-TX-MS) ms, sha256 $rsum (guest: $(guest_value VT-OUT-SHA))"
[ "$rsize" = $((MB << 20)) ] || vfail "the host received $rsize bytes, want $((MB << 20))"
[ "$rsum" = "$(guest_value VT-OUT-SHA)" ] || vfail "the host received data hashing to $rsum, the guest sent $(guest_value VT-OUT-SHA)"

# Host -> guest.
rc=0
wait "$send_pid" || rc=$?
[ "$(guest_value VT-RX-RC)" = 0 ] || vfail "the guest's nc (receiving) exited $(guest_value VT-RX-RC)"
[ "$rc" = 0 ] || vfail "the host's nc (sending) exited $rc: $(cat "$T/nc-send.err")"
info "host -> guest (vhost): $(guest_value VT-IN-SIZE) bytes in $(guest_value VT-RX-MS) ms, sha256 $(guest_value VT-IN-SHA) (host: $send_sum)"
[ "$(guest_value VT-IN-SIZE)" = $((MB << 20)) ] || vfail "the guest received $(guest_value VT-IN-SIZE) bytes, want $((MB << 20))"
[ "$(guest_value VT-IN-SHA)" = "$send_sum" ] || vfail "the guest received data hashing to $(guest_value VT-IN-SHA), the host sent $send_sum"
pass

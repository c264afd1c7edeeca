# shellcheck shell=bash
# The network soak shared by test_20 (1 vCPU), test_21 (2 vCPUs, the
# NIC's interrupts moved between them while it runs) and test_32 (test_21
# with vhost-net), sourced after lib.sh.
#
# One VM with one NIC on a tap the test made (10.79.0.1/24 on the host).
# The guest alternates SOAK_N transfers each way of SOAK_KB KiB with busybox
# nc against two persistent servers on the host (nc -ll -e): to :5001 it
# sends a fixed random file, each received copy is kept and checked on the
# host; from :5002 it receives the host's fixed random file, keeps each
# copy and checks them all against its sha256 at the end. Each
# transfer has SOAK_XFER_TIMEOUT seconds; one that fails or runs out counts
# as lost, and after 3 in a row the guest
# stops (a stalled NIC). None lost, no crash: the guest prints how many went
# through, the host recounts its side.
# TEST_SOAK_VHOST (false, true or auto) is the NIC's vhost: key; false (the
# default) soaks vessel's user-space path, true vhost-net.
#   soak_run VCPUS MOVE_IRQ (0|1)
SOAK_N=${SOAK_N:-200}
TEST_SOAK_VHOST=${TEST_SOAK_VHOST:-false}
SOAK_KB=${SOAK_KB:-32}
SOAK_XFER_TIMEOUT=${SOAK_XFER_TIMEOUT:-20}

# soak_value KEY: the number the guest printed as KEY=N (a kernel message
# can land right after it on the serial line, as "N[ 138.8] reboot: ...").
soak_value() { guest_value "$1" | grep -oE '^[0-9]+' || true; }

soak_run() {
	local vcpus=$1 move_irq=$2 sfx tap mac=52:54:00:5a:0a:01 send_sum ok_host bad_host want sum
	[ "$(id -u)" -eq 0 ] || fail "needs root (a tap on the host)"
	ensure_cmds iproute2:ip busybox-static:/bin/busybox
	host_modprobe tun || fail "cannot load tun on this host"
	[ -c /dev/net/tun ] || fail "no /dev/net/tun after loading tun"
	sfx=$(random_token | cut -c1-6)
	tap=vss-$sfx
	at_exit "ip link del $tap 2>/dev/null"
	ip tuntap add dev "$tap" mode tap
	ip addr add 10.79.0.1/24 dev "$tap"
	ip link set "$tap" up

	# The host's servers: a connection to :5001 is stored whole in rx/,
	# one to :5002 gets send.bin.
	mkdir -p "$T/rx"
	head -c "$((SOAK_KB * 1024))" /dev/urandom >"$T/send.bin"
	send_sum=$(sha256sum "$T/send.bin" | cut -d' ' -f1)
	printf '#!/bin/sh\nexec cat >"%s/rx/in.$$"\n' "$T" >"$T/recv.sh"
	printf '#!/bin/sh\nexec cat "%s/send.bin"\n' "$T" >"$T/send.sh"
	chmod +x "$T/recv.sh" "$T/send.sh"
	/bin/busybox nc -ll -p 5001 -e "$T/recv.sh" </dev/null >/dev/null 2>"$T/nc-recv.err" &
	at_exit "kill $! 2>/dev/null"
	/bin/busybox nc -ll -p 5002 -e "$T/send.sh" </dev/null >/dev/null 2>"$T/nc-send.err" &
	at_exit "kill $! 2>/dev/null"

	virtio_guest soak <<SH
vt_wait_dev /sys/class/net/eth0
ip link set lo up
ip addr add 10.79.0.2/24 dev eth0
ip link set eth0 up
# The host answers (up to 3 tries of 10 s: once, in CI14, no reply came
# in the first 20 s while every transfer after went through; the tries it
# took are reported, so that stays visible).
rc=1 n=0
while [ \$rc != 0 ] && [ \$n -lt 3 ]; do
	n=\$((n + 1)) rc=0
	ping -c 2 -w 10 10.79.0.1 >/dev/null || rc=\$?
done
echo "VT-PING-RC=\$rc"
echo "VT-PING-TRIES=\$n"
head -c $((SOAK_KB * 1024)) /dev/urandom >/tmp/out.bin
echo "VT-OUT-SHA=\$(sha256sum /tmp/out.bin | cut -d' ' -f1)"
if [ $move_irq = 1 ]; then
	# The NIC's interrupts, moved between the two vCPUs every 200 ms
	# (hundreds of MSI-X reprogrammings in a soak; at every 50 ms the
	# nested host's own kernel, TCG's SVM underneath, panicked 3 times in
	# one CI run: a page fault on a bad GS base in kvm's context)
	irqs=\$(awk -F: '/virtio[0-9]+-(input|output)\\.[0-9]+/ { gsub(/ /, "", \$1); print \$1 }' /proc/interrupts)
	echo "VT-NIC-IRQS=\$(echo \$irqs)"
	(
		m=1
		while :; do
			m=\$((3 - m))
			for i in \$irqs; do echo \$m >/proc/irq/\$i/smp_affinity 2>/dev/null || true; done
			moves=\$((moves + 1))
			echo \$moves >/tmp/moves
			sleep 0.2
		done
	) &
	mover=\$!
fi
mkfifo /tmp/hold
sleep 100000 >/tmp/hold &
hold=\$!
tx=0 got=0 lost=0 row=0 i=0
t0=\$(vt_uptime_ms)
while [ \$i -lt $SOAK_N ] && [ \$row -lt 3 ]; do
	i=\$((i + 1))
	rc=0
	timeout $SOAK_XFER_TIMEOUT nc 10.79.0.1 5001 </tmp/out.bin || rc=\$?
	if [ \$rc = 0 ]; then tx=\$((tx + 1)); row=0; else lost=\$((lost + 1)); row=\$((row + 1)); echo "VT-LOST=\$i tx rc=\$rc"; fi
	rc=0
	timeout $SOAK_XFER_TIMEOUT nc 10.79.0.1 5002 </tmp/hold >/tmp/in.\$i || rc=\$?
	if [ \$rc = 0 ]; then
		got=\$((got + 1)); row=0
	else
		lost=\$((lost + 1)); row=\$((row + 1))
		echo "VT-LOST=\$i rx rc=\$rc bytes=\$(stat -c %s /tmp/in.\$i)"
		rm -f /tmp/in.\$i
	fi
	[ \$((i % 25)) != 0 ] || echo "VT-PROGRESS=\$i tx=\$tx rx=\$got ms=\$((\$(vt_uptime_ms) - t0))"
done
# Every copy received whole must be the host's file: checked once at the
# end (a process per transfer less: in the nested host each costs).
rx=0
[ \$got = 0 ] || rx=\$(sha256sum /tmp/in.* | grep -c "^$send_sum " || true)
if [ \$rx != \$got ]; then
	lost=\$((lost + got - rx))
	sha256sum /tmp/in.* | grep -v "^$send_sum " | sed 's/^/VT-DAMAGED: /'
fi
kill \$hold 2>/dev/null || true
[ $move_irq = 0 ] || { kill \$mover 2>/dev/null || true; echo "VT-IRQ-MOVES=\$(cat /tmp/moves 2>/dev/null || echo 0)"; grep -E 'virtio[0-9]+-(input|output)\.[0-9]+' /proc/interrupts | sed 's/^/VT-IRQS: /'; }
echo "VT-SOAK-MS=\$((\$(vt_uptime_ms) - t0))"
echo "VT-SOAK-TX=\$tx"
echo "VT-SOAK-RX=\$rx"
echo "VT-SOAK-LOST=\$lost"
SH
	virtio_config soak 512M "$vcpus" <<YAML
nets:
  - tap: $tap
    mac: $mac
    vhost: $TEST_SOAK_VHOST
YAML

	vm_start
	# The guest prints a VT- line at least every 25 transfers (about 20 s
	# apart, 40 s before the first): two minutes without one is a stall,
	# reported then rather than at the end of VM_TIMEOUT.
	wait_progress '^VESSEL-TEST-EXIT=' '^VT-' "${SOAK_STALL_S:-120}" "$VM_TIMEOUT"
	vm_wait 60
	expect_booted
	[ "$(soak_value VT-PING-RC)" = 0 ] || vfail "the guest could not ping the host ($(soak_value VT-PING-TRIES) tries)"
	[ "$(soak_value VT-PING-TRIES)" = 1 ] || info "the guest's ping of the host needed $(soak_value VT-PING-TRIES) tries of 10 s"
	info "soak (vhost: $TEST_SOAK_VHOST): $(soak_value VT-SOAK-TX) sent, $(soak_value VT-SOAK-RX) received, $(soak_value VT-SOAK-LOST) lost of $SOAK_N each way, $SOAK_KB KiB each, in $(soak_value VT-SOAK-MS) ms"
	if [ "$move_irq" = 1 ]; then
		info "NIC interrupts $(guest_value VT-NIC-IRQS) moved $(soak_value VT-IRQ-MOVES) times"
		grep '^VT-IRQS: ' "$T/console" | sed 's/^/# /' || true
		[ -n "$(guest_value VT-NIC-IRQS)" ] || vfail "the guest found no virtio-net interrupts in /proc/interrupts"
		[ "$(soak_value VT-IRQ-MOVES)" -gt 10 ] 2>/dev/null || vfail "the NIC's interrupts moved only '$(soak_value VT-IRQ-MOVES)' times"
	fi
	expect_guest_ok
	expect_rc 0 "guest powered off"
	if [ "$TEST_SOAK_VHOST" = true ] && grep -i 'vhost' "$T/stderr"; then
		vfail "vessel said something about vhost-net on stderr (a fall-back to the user-space path?)"
	fi
	[ "$(soak_value VT-SOAK-LOST)" = 0 ] || vfail "$(soak_value VT-SOAK-LOST) transfers lost"
	[ "$(soak_value VT-SOAK-TX)" = "$SOAK_N" ] || vfail "the guest sent $(soak_value VT-SOAK-TX) of $SOAK_N"
	[ "$(soak_value VT-SOAK-RX)" = "$SOAK_N" ] || vfail "the guest received $(soak_value VT-SOAK-RX) of $SOAK_N intact"
	# The host's side: every copy it received whole and intact.
	want=$(guest_value VT-OUT-SHA)
	ok_host=0 bad_host=0
	while read -r sum _; do
		if [ "$sum" = "$want" ]; then ok_host=$((ok_host + 1)); else bad_host=$((bad_host + 1)); fi
	done < <(find "$T/rx" -name 'in.*' -exec sha256sum {} +)
	info "host: $ok_host intact copies from the guest, $bad_host damaged"
	if [ "$ok_host" != "$SOAK_N" ] || [ "$bad_host" != 0 ]; then vfail "the host got $ok_host intact and $bad_host damaged copies, want $SOAK_N intact"; fi
	pass
}

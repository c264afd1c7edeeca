#!/usr/bin/env bash
# Paused really means paused (issue #12). A guest (2 vCPUs, 256 MiB) does
# heavy disk and network I/O at once: one loop writes a 4 MiB pattern with
# O_DIRECT and fsync over a raw virtio-blk disk (cache: none on a host
# ext4, so vessel's AIO path has requests in flight), another fetches
# 1 MiB from the host over a tap again and again and checks its sha256,
# and the main loop polls a control port on the host every 0.5 s. While
# both run, `vessel pause`:
#   - the image's sha256 on the host does not change for 5 s, nor the
#     console (no guest output);
#   - two snapshots of the paused guest taken 5 s apart have byte-identical
#     memory files (nothing wrote guest RAM in between), while the host
#     pings the guest (frames arrive on the tap all along) and its TCP
#     sender retransmits; the image is still unchanged after them;
# then `vessel resume`: both loops go on, and when told to stop the guest
# reads back every region it wrote (all must hold the pattern) and says
# VT-IO-OK with no failed dd or transfer.
# test-timeout: 420
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (a tap on the host)"
ensure_cmds iproute2:ip busybox-static:/bin/busybox
host_modprobe tun || fail "cannot load tun on this host"
[ -c /dev/net/tun ] || fail "no /dev/net/tun after loading tun"
snap_init
name=t23
sfx=$(random_token | cut -c1-6)
tap=vsp-$sfx mac=52:54:00:23:00:01
at_exit "ip link del $tap 2>/dev/null"
ip tuntap add dev "$tap" mode tap
ip addr add 10.83.0.1/24 dev "$tap"
ip link set "$tap" up
host_ext4_dir "$T/fs" 256
img=$T/fs/disk.img
truncate -s 64M "$img"

# The host's servers: :5002 sends send.bin, :5003 says what is in ctl.
head -c 1M /dev/urandom >"$T/send.bin"
send_sum=$(sha256sum "$T/send.bin" | cut -d' ' -f1)
echo go >"$T/ctl"
printf '#!/bin/sh\nexec cat "%s/send.bin"\n' "$T" >"$T/send.sh"
printf '#!/bin/sh\nexec cat "%s/ctl"\n' "$T" >"$T/ctl.sh"
chmod +x "$T/send.sh" "$T/ctl.sh"
/bin/busybox nc -ll -p 5002 -e "$T/send.sh" </dev/null >/dev/null 2>"$T/nc-send.log" &
at_exit "kill $! 2>/dev/null"
/bin/busybox nc -ll -p 5003 -e "$T/ctl.sh" </dev/null >/dev/null 2>"$T/nc-ctl.log" &
at_exit "kill $! 2>/dev/null"

virtio_guest t23 <<SH
vt_wait_dev /dev/vda
vt_wait_dev /sys/class/net/eth0
ip link set lo up
ip addr add 10.83.0.2/24 dev eth0
ip link set eth0 up
ping -c 2 -w 20 10.83.0.1 >/dev/null
head -c 4194304 /dev/urandom >/tmp/pat
pat=\$(sha256sum </tmp/pat | cut -d' ' -f1)
mkfifo /tmp/hold
sleep 100000 >/tmp/hold &
disk_loop() {
	n=0 bad=0
	while [ ! -e /tmp/stop ]; do
		dd if=/tmp/pat of=/dev/vda bs=1M seek=\$(((n % 12) * 4)) count=4 oflag=direct conv=fsync,notrunc 2>/dev/null || bad=\$((bad + 1))
		n=\$((n + 1))
		echo "VT-DISK n=\$n bad=\$bad"
	done
	echo "\$n \$bad" >/tmp/disk.res
}
net_loop() {
	n=0 bad=0
	while [ ! -e /tmp/stop ]; do
		s=\$(timeout 600 nc 10.83.0.1 5002 </tmp/hold | sha256sum | cut -d' ' -f1)
		[ "\$s" = $send_sum ] || bad=\$((bad + 1))
		n=\$((n + 1))
		echo "VT-NET n=\$n bad=\$bad"
	done
	echo "\$n \$bad" >/tmp/net.res
}
disk_loop &
dl=\$!
net_loop &
nl=\$!
echo "VT-IO-RUNNING"
while :; do
	c=\$(timeout 600 nc 10.83.0.1 5003 </tmp/hold 2>/dev/null) || c=
	[ "\$c" != stop ] || break
	sleep 0.5
done
touch /tmp/stop
wait \$dl \$nl
read -r dn dbad </tmp/disk.res
read -r nn nbad </tmp/net.res
echo "VT-DISK-DONE n=\$dn bad=\$dbad"
echo "VT-NET-DONE n=\$nn bad=\$nbad"
r=0 rbad=0
while [ \$r -lt 12 ] && [ \$r -lt \$dn ]; do
	s=\$(dd if=/dev/vda bs=1M skip=\$((r * 4)) count=4 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "\$s" = "\$pat" ] || { rbad=\$((rbad + 1)); echo "VT-READBACK-BAD region=\$r"; }
	r=\$((r + 1))
done
echo "VT-READBACK regions=\$r bad=\$rbad"
[ "\$dbad\$nbad\$rbad" = 000 ] && echo "VT-IO-OK"
SH
virtio_config t23 256M 2 <<YAML
disks:
  - path: fs/disk.img
    cache: none
nets:
  - tap: $tap
    mac: $mac
YAML

# guest_out: how many bytes the guest has printed: the console log less
# the supervisor's own "[vessel: ...]" lines (e.g. "[vessel: snapshot
# taken]") and the empty lines it puts before them.
guest_out() { tr -d '\r' <"$SNAP_RAW" | grep -av -e '^\[vessel: ' -e '^$' | wc -c; }
# last_n KIND: the n of the last "VT-KIND n=N bad=B" line so far.
last_n() { snap_con; sed -nE "s/^VT-$1 n=([0-9]+) bad=[0-9]+\$/\\1/p" "$SNAP_CON" | tail -n 1; }
# wait_more KIND K: waits until the VT-KIND count is K higher than now.
wait_more() {
	local from want
	from=$(last_n "$1")
	want=$((${from:-0} + $2))
	snap_wait "^VT-$1 n=$want bad=[0-9]+\$" 180
}

snap_start "$CFG" "$name"
snap_wait '^VT-IO-RUNNING$'
wait_more DISK 3
wait_more NET 2

# The host keeps frames coming while the guest is paused.
ping -q -i 0.2 10.83.0.2 >/dev/null 2>&1 &
pinger=$!
at_exit "kill $pinger 2>/dev/null"
snap_ok pause pause "$name"
sleep 0.5
sum1=$(sha256sum "$img" | cut -d' ' -f1)
con1=$(guest_out)
info "paused at VT-DISK n=$(last_n DISK), VT-NET n=$(last_n NET); image sha256 $sum1"
sleep 5
sum2=$(sha256sum "$img" | cut -d' ' -f1)
con2=$(guest_out)
[ "$sum2" = "$sum1" ] || snap_fail "the image changed while the guest was paused (sha256 $sum1, 5 s later $sum2)"
[ "$con2" = "$con1" ] || snap_fail "the paused guest printed in 5 s (its output: $con1 bytes, then $con2)"

snap_ok snap1 snapshot "$name" "$T/snap1"
info "first snapshot of the paused guest in $SNAP_CMD_MS ms"
sleep 5
snap_ok snap2 snapshot "$name" "$T/snap2"
mem=memory
[ -e "$T/snap1/$mem" ] || mem=memory.z
[ -e "$T/snap1/$mem" ] && [ -e "$T/snap2/$mem" ] || snap_fail "a snapshot has no memory file ($(ls -A "$T/snap1" | tr '\n' ' '))"
cmp "$T/snap1/$mem" "$T/snap2/$mem" >"$T/cmp.out" 2>&1 ||
	snap_fail "the paused guest's RAM changed between two snapshots 5 s apart: $(head -c 300 "$T/cmp.out")"
info "the two snapshots' memory files are identical ($(stat -c %s "$T/snap1/$mem") bytes, $(du -k "$T/snap1/$mem" | cut -f1) KiB on disk)"
sum3=$(sha256sum "$img" | cut -d' ' -f1)
[ "$sum3" = "$sum1" ] || snap_fail "the image changed while the guest was paused and snapshotted (sha256 $sum1, then $sum3)"
[ "$(guest_out)" = "$con1" ] || snap_fail "the paused guest printed while it was snapshotted (its output: $con1 bytes, then $(guest_out))"
kill "$pinger" 2>/dev/null || true
rm -rf "$T/snap1" "$T/snap2"

snap_ok resume resume "$name"
wait_more DISK 3
wait_more NET 2
echo stop >"$T/ctl"
snap_wait '^VESSEL-TEST-EXIT=' 240
info "guest: $(grep -E '^VT-(DISK-DONE|NET-DONE|READBACK) ' "$SNAP_CON" | tr '\n' ' ')"
grep -q '^VT-DISK-DONE n=[0-9]* bad=0$' "$SNAP_CON" || snap_fail "disk writes failed: $(grep -m1 '^VT-DISK-DONE' "$SNAP_CON")"
grep -q '^VT-NET-DONE n=[0-9]* bad=0$' "$SNAP_CON" || snap_fail "transfers failed: $(grep -m1 '^VT-NET-DONE' "$SNAP_CON")"
grep -q '^VT-READBACK regions=[0-9]* bad=0$' "$SNAP_CON" || snap_fail "regions read back wrong: $(grep '^VT-READBACK' "$SNAP_CON" | tr '\n' ' ')"
grep -q '^VT-IO-OK$' "$SNAP_CON" || snap_fail "the guest did not say VT-IO-OK"
[ "$(snap_value VESSEL-TEST-EXIT)" = 0 ] || snap_fail "the guest's script failed (VESSEL-TEST-EXIT=$(snap_value VESSEL-TEST-EXIT))"
pass

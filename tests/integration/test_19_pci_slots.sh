#!/usr/bin/env bash
# The guest's PCI topology comes from the definition: disks in file order,
# then NICs, then virtio-rng, each in its `slot:` or the lowest free slot
# from 1 (needs root: vessel creates two taps). The file lists the NICs
# before the disks and gives the second disk slot 7 and the first NIC
# slot 2, so:
#   00:01.0 disk 0 (8 MiB)    00:02.0 NIC 0 (mac0)   00:03.0 disk 2 (16 MiB)
#   00:04.0 NIC 1 (mac1)      00:05.0 virtio-rng     00:07.0 disk 1 (12 MiB)
# and nothing in 00:06.0 or 00:08.0. The guest reads each slot's device id
# from /sys/bus/pci/devices/0000:00:SS.0/device, and the block device (with
# its size) or NIC (with its MAC) behind it; vda, vdb, vdc and eth0, eth1
# follow slot order.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (vessel creates taps)"
ensure_cmds iproute2:ip
host_modprobe tun || fail "cannot load tun on this host"
[ -c /dev/net/tun ] || fail "no /dev/net/tun after loading tun"

sfx=$(random_token | cut -c1-6)
tap0=vss0-$sfx tap1=vss1-$sfx
mac0=52:54:00:19:00:01 mac1=52:54:00:19:00:02
at_exit "ip link del $tap0 2>/dev/null; ip link del $tap1 2>/dev/null"
truncate -s 8M "$T/d0.img"
truncate -s 12M "$T/d1.img"
truncate -s 16M "$T/d2.img"

virtio_guest t19 <<'SH'
for d in vda vdb vdc; do vt_wait_dev /dev/$d; done
for i in 0 1; do vt_wait_dev /sys/class/net/eth$i; done
for s in 01 02 03 04 05 06 07 08; do
	p=/sys/bus/pci/devices/0000:00:$s.0
	if [ ! -e $p ]; then
		echo "VT-SLOT-$s=none"
		continue
	fi
	what=-
	for b in $p/virtio*/block/*; do
		[ -e "$b" ] && what="blk:${b##*/}:$(cat "$b/size")"
	done
	for n in $p/virtio*/net/*; do
		[ -e "$n" ] && what="net:${n##*/}:$(cat "$n/address")"
	done
	echo "VT-SLOT-$s=$(cat $p/device) $what"
done
SH
virtio_config t19 256M <<YAML
nets:
  - tap: $tap0
    mac: "$mac0"
    slot: 2
  - tap: $tap1
    mac: "$mac1"
disks:
  - path: d0.img
    cache: writeback
  - path: d1.img
    cache: writeback
    slot: 7
  - path: d2.img
    cache: writeback
rng: true
YAML

vm_run
expect_booted
expect_guest_ok
expect_rc 0 "guest powered off"
want() {
	local got
	got=$(guest_value "VT-SLOT-$1")
	info "00:$1.0: $got"
	[ "$got" = "$2" ] || vfail "00:$1.0 holds '$got', want '$2'"
}
want 01 "0x1042 blk:vda:$((8 * 2048))"
want 02 "0x1041 net:eth0:$mac0"
want 03 "0x1042 blk:vdb:$((16 * 2048))"
want 04 "0x1041 net:eth1:$mac1"
want 05 "0x1044 -"
want 06 "none"
want 07 "0x1042 blk:vdc:$((12 * 2048))"
want 08 "none"
pass

#!/usr/bin/env bash
# virtio-rng (on by default: no rng: key): the guest has one virtio-rng PCI
# function (1af4:1044), the hw_random core picks it (rng_current names
# virtio), and two 64-byte reads of /dev/hwrng return 64 bytes each, not all
# zero, and different.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

virtio_guest t13 <<'SH'
vt_wait_dev /dev/hwrng
echo "VT-PCI-RNG=$(grep -l 0x1044 /sys/bus/pci/devices/*/device | wc -l)"
echo "VT-RNG-AVAILABLE=$(cat /sys/class/misc/hw_random/rng_available)"
echo "VT-RNG-CURRENT=$(cat /sys/class/misc/hw_random/rng_current)"
for i in 1 2; do
	timeout 20 head -c 64 /dev/hwrng >/tmp/rng$i
	echo "VT-RNG$i=$(od -An -v -tx1 /tmp/rng$i | tr -d ' \n')"
done
SH
virtio_config t13 256M </dev/null

vm_run
expect_booted
expect_guest_ok
expect_rc 0 "guest powered off"
[ "$(guest_value VT-PCI-RNG)" = 1 ] || vfail "the guest sees $(guest_value VT-PCI-RNG) virtio-rng PCI functions, want 1"
info "rng_available '$(guest_value VT-RNG-AVAILABLE)', rng_current '$(guest_value VT-RNG-CURRENT)'"
[[ $(guest_value VT-RNG-CURRENT) == virtio* ]] ||
	vfail "rng_current is '$(guest_value VT-RNG-CURRENT)', want a virtio_rng device"
r1=$(guest_value VT-RNG1) r2=$(guest_value VT-RNG2)
info "/dev/hwrng: $r1 / $r2"
[[ $r1 =~ ^[0-9a-f]{128}$ ]] || vfail "first read of /dev/hwrng: '$r1', want 64 bytes (128 hex digits)"
[[ $r2 =~ ^[0-9a-f]{128}$ ]] || vfail "second read of /dev/hwrng: '$r2', want 64 bytes (128 hex digits)"
[[ $r1 =~ [1-9a-f] ]] || vfail "/dev/hwrng returned 64 zero bytes"
[ "$r1" != "$r2" ] || vfail "two reads of /dev/hwrng returned the same 64 bytes"
pass

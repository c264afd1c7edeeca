#!/usr/bin/env bash
# memory: 4G (more than fits below the 32-bit PCI hole): the guest's
# MemTotal is within -8%/+0 of 4 GiB (the kernel keeps some for itself).
# With cmdline_auto: false, the guest's command line is the file's alone.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

guest_config mem4g 1 4G poweroff
echo "cmdline_auto: false" >>"$CFG"
vm_run
expect_booted
[[ " $(guest_value VESSEL-CMDLINE) " != *" noreplace-smp "* ]] ||
	fail "cmdline_auto: false, yet guest /proc/cmdline '$(guest_value VESSEL-CMDLINE)' has noreplace-smp"
kb=$(guest_value VESSEL-MEMTOTAL-KB)
[[ $kb =~ ^[0-9]+$ ]] || fail "no MemTotal from the guest (got '$kb')"
want=$((4 * 1024 * 1024))
min=$((want * 92 / 100))
info "MemTotal ${kb} kB; want $min..$want kB"
[ "$kb" -le "$want" ] || fail "MemTotal $kb kB exceeds 4 GiB ($want kB)"
[ "$kb" -ge "$min" ] || fail "MemTotal $kb kB is below 92% of 4 GiB ($min kB)"
expect_rc 0 "guest powered off"
pass

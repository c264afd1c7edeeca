#!/usr/bin/env bash
# 4 vCPUs: the guest brings all of them up; vessel adds no noreplace-smp.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

guest_config smp4 4 512M poweroff
vm_run
expect_booted
[ "$(guest_value VESSEL-CPUINFO)" = 4 ] || fail "cpuinfo counts '$(guest_value VESSEL-CPUINFO)' CPUs, want 4"
[ "$(guest_value VESSEL-NPROC)" = 4 ] || fail "nproc is '$(guest_value VESSEL-NPROC)', want 4 (CPUs present but not online?)"
[[ " $(guest_value VESSEL-CMDLINE) " != *" noreplace-smp "* ]] ||
	fail "4 vCPUs, yet guest /proc/cmdline '$(guest_value VESSEL-CMDLINE)' has noreplace-smp"
expect_rc 0 "guest powered off"
pass

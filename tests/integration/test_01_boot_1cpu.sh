#!/usr/bin/env bash
# 1 vCPU, 512M: the guest reaches userspace, sees 1 CPU, our cmdline (with
# the noreplace-smp vessel adds for one vCPU after it) and the initrd
# contents, powers off; vessel exits 0.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

guest_config boot 1 512M poweroff
vm_run
expect_booted
[ "$(guest_value VESSEL-CPUINFO)" = 1 ] || fail "cpuinfo counts '$(guest_value VESSEL-CPUINFO)' CPUs, want 1"
[ "$(guest_value VESSEL-NPROC)" = 1 ] || fail "nproc is '$(guest_value VESSEL-NPROC)', want 1"
[[ " $(guest_value VESSEL-CMDLINE) " == *" vessel_cmdline_token=$T_CMDTOKEN noreplace-smp "* ]] ||
	fail "guest /proc/cmdline '$(guest_value VESSEL-CMDLINE)' does not end in the noreplace-smp vessel adds for 1 vCPU"
expect_output '^VESSEL-POWEROFF$'
expect_no_output 'VESSEL-INIT-STUCK'
expect_rc 0 "guest powered off"
pass

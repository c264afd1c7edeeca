#!/usr/bin/env bash
# on_reboot: restart: a guest reboot boots it again, from a fresh kernel and
# initrd. The guest (vessel_test=reboot) reboots on every boot, so the test
# waits for the second boot to reach userspace, then stops vessel with
# SIGTERM, which must end it promptly and cleanly with status 143 (128 +
# SIGTERM, as README documents). Not 3 (the reboot ended the run) nor 4.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

guest_config restart 1 512M reboot restart
vm_start
wait_output '^VESSEL-USERSPACE-OK$' "$VM_TIMEOUT" 2
# The second boot must be complete and sound, not just started.
wait_output "^VESSEL-INITRD-TOKEN=$GUEST_TOKEN\$" 60 2
vm_signal TERM
vm_wait 20
expect_output '^VESSEL-REBOOTING$'
[ "$RC" = 143 ] || fail "vessel exit status $RC after SIGTERM, want 143"
expect_no_output 'VESSEL-POWEROFF'
pass

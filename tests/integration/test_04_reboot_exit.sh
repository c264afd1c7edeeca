#!/usr/bin/env bash
# on_reboot: exit: a guest reboot ends vessel with status 3, no second boot.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

guest_config reboot 1 512M reboot exit
vm_run
expect_booted
expect_output '^VESSEL-REBOOTING$'
n=$(count_output '^VESSEL-USERSPACE-OK$')
[ "$n" -eq 1 ] || fail "guest booted $n times, want 1"
expect_rc 3 "guest rebooted with on_reboot: exit"
pass

#!/usr/bin/env bash
# stdin reaches the guest's console: a line typed into vessel's stdin (a
# FIFO, no terminal) runs in the guest's shell and its output comes back.
# The typed text itself never contains the expected output, so an echo of
# the input does not count.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

guest_config shell 1 512M shell
vm_start
wait_output '^VESSEL-SHELL-READY$'
sleep 2 # let sh start reading the console
vm_send "echo hel''lo-\$((6*7))"
wait_output '^hello-42$' 60
shell_poweroff
pass

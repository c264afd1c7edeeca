#!/usr/bin/env bash
# SIGUSR2 makes vessel print each vCPU's state on stderr while the guest
# runs on: registers, the words of its stack (read through the guest's page
# tables) and its last exits. A 2-vCPU guest at its shell: both vCPUs dump,
# each with a kernel RIP and kernel stack words, the guest still answers
# afterwards, and it powers off normally. (Without the handler, SIGUSR2's
# default action would kill vessel.)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

guest_config dump 2 512M shell
vm_start
wait_output '^VESSEL-SHELL-READY$'
sleep 2 # let sh start reading the console
vm_signal USR2
end=$(($(date +%s) + 30))
# each dump ends with its exit trace, 16 lines after its "last N exits"
while [ "$(grep -A16 '^ last [0-9]* exits' "$T/stderr" | grep -c '^  ')" -lt 32 ]; do
	kill -0 "$VM_PID" 2>/dev/null || fail "vessel exited after SIGUSR2"
	[ "$(date +%s)" -lt "$end" ] || fail "no whole dump of both vCPUs on stderr within 30 s of SIGUSR2"
	sleep 0.2
done
for cpu in 0 1; do
	grep -q "^vessel: vCPU $cpu: state on request (the guest runs on)$" "$T/stderr" ||
		fail "no dump of vCPU $cpu"
done
# Registers: the guest idles in its kernel, so RIP is a kernel address.
[ "$(grep -cE '^ rip ffffffff[0-9a-f]{8} rsp ffff[0-9a-f]{12} rflags' "$T/stderr")" -eq 2 ] ||
	fail "not two register dumps with a kernel RIP and RSP"
[ "$(grep -c '^ cr0 ' "$T/stderr")" -eq 2 ] || fail "not two control register lines"
# The stack: lines "  ADDRESS: WORD..." in the kernel half, holding at least
# one return address into the kernel's text.
grep -qE '^  ffff[0-9a-f]{12}:( [0-9a-f]{16})*( ffffffff8[0-9a-f]{7})' "$T/stderr" ||
	fail "no stack words with a kernel text address"
info "$(grep -c '^  ffff' "$T/stderr") stack lines"
# The guest runs on.
vm_send "echo ali''ve-\$((6*7))"
wait_output '^alive-42$' 60
shell_poweroff
pass

#!/usr/bin/env bash
# tcg-smc.sh: a check of the nested host's CPU emulation, not of vessel.
# Run it in a nested host: `tests/harness/nested-host.sh tests/harness/tcg-smc.sh`
# (NESTED_TCG_THREAD=single to compare).
#
# It flips one of the host kernel's static keys (kernel.sched_schedstats,
# whose jumps sit in the scheduler's hot paths) on and off, SMC_TOGGLES
# times (default 20000) or for SMC_SECONDS (default 300), while both vCPUs
# context-switch through a pipe. Each flip is a text_poke_bp: an int3 on
# the site, a sync on every CPU, the new bytes, another sync. On a correct
# CPU nothing else happens. Under QEMU 7.2's multi-threaded TCG, a vCPU
# can keep running its stale translation of the int3 after memory holds
# the new jump: the kernel's int3 handler sees no int3 there, returns to
# the same address to retry, and the vCPU traps again forever, so the host
# hangs (the harness's vCPU dump shows asm_exc_int3 over the patched
# site). That is the same fault as a guest's "Oops: int3" on a live-patched
# static key (issue #11): see tests/harness/README.md.
# Prints "SMC toggles N" every 50 flips and "SMC finished: N toggles, no
# hang" at the end; exits 0.
set -u
toggles=${SMC_TOGGLES:-20000}
end=$(($(date +%s) + ${SMC_SECONDS:-300}))
ctl=/proc/sys/kernel/sched_schedstats
[ -w "$ctl" ] || {
	echo "tcg-smc: $ctl is not writable (needs root and CONFIG_SCHEDSTATS)" >&2
	exit 1
}
echo "SMC: $(nproc) CPUs, flipping $ctl up to $toggles times or for ${SMC_SECONDS:-300} s"
# Two processes, one per CPU, waking each other through pipes.
python3 -c '
import os
r1, w1 = os.pipe(); r2, w2 = os.pipe()
if os.fork() == 0:
    os.sched_setaffinity(0, {1})
    while True:
        os.read(r1, 1); os.write(w2, b"x")
os.sched_setaffinity(0, {0})
while True:
    os.write(w1, b"x"); os.read(r2, 1)
' &
load=$!
n=0
while [ "$n" -lt "$toggles" ] && [ "$(date +%s)" -lt "$end" ]; do
	for _ in $(seq 25); do
		echo 1 >"$ctl"
		echo 0 >"$ctl"
	done
	n=$((n + 50))
	echo "SMC toggles $n"
done
pkill -P "$load" 2>/dev/null
kill "$load" 2>/dev/null
echo "SMC finished: $n toggles, no hang"

#!/usr/bin/env python3
"""kvm-trace.py PID[,PID...] [SECONDS] [SYSTEM_MAP]: what KVM does for a
VMM's guest, recorded from KVM's tracepoints for SECONDS (1) and summed
up per thread of the VMM's processes (lib.sh's vmm_pids gives them: the
VMM, its descendants and their vhost workers): every exit
by reason, the guest RIPs it exited at most (named from SYSTEM_MAP, the
guest kernel's System.map, when given and real: Debian ships a one-line
placeholder, the symbols are in its -dbg package; a kernel booted from
vessel's kernel cache runs without KASLR, so its RIPs are the same in
every boot and can be looked up later), the interrupts and IPIs accepted
and injected, the wake-ups; then the last trace lines.

For a guest that stops answering: a vCPU spinning in the guest without
exits, one caught in an exit loop, one halted with an interrupt accepted
but never injected, or an MSI that was never signalled each look
different here. Needs root and tracefs; says why and exits 0 without."""
import collections
import os
import sys
import time

EVENTS = ["kvm_exit", "kvm_inj_virq", "kvm_apic_accept_irq", "kvm_msi_set_irq",
          "kvm_apic_ipi", "kvm_vcpu_wakeup", "kvm_set_irq", "kvm_hypercall",
          "kvm_msr", "kvm_pio", "kvm_mmio"]


def tracefs():
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(os.path.join(d, "events")):
            return d
    try:
        os.makedirs("/sys/kernel/tracing", exist_ok=True)
        if os.system("mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null") == 0:
            return "/sys/kernel/tracing"
    except OSError:
        pass
    return None


def put(path, text):
    with open(path, "w") as f:
        f.write(text)


def tids_of(pids):
    """{tid: name} of every thread of the processes pids."""
    out = {}
    for p in pids:
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/comm") as f:
                    out[int(t)] = f.read().strip()
        except OSError:
            pass
    return out


def load_map(path):
    syms = []
    try:
        with open(path) as f:
            for line in f:
                a = line.split()
                if len(a) >= 3 and a[1] in "tTwW":
                    try:
                        syms.append((int(a[0], 16), a[2]))
                    except ValueError:
                        pass
    except OSError:
        return []
    syms.sort()
    return syms


def name_of(syms, rip):
    lo, hi = 0, len(syms)
    while lo < hi:
        mid = (lo + hi) // 2
        if syms[mid][0] <= rip:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0 or rip - syms[lo - 1][0] > 0x100000:
        return hex(rip)
    return f"{syms[lo - 1][1]}+{rip - syms[lo - 1][0]:#x}"


def parse(line):
    """'  comm-tid  [cpu] flags  ts: event: text' -> (tid, event, text)."""
    try:
        head, event, text = line.split(": ", 2)
        tid = int(head.split("[")[0].rsplit("-", 1)[1])
    except (ValueError, IndexError):
        return None
    return tid, event.strip(), text.strip()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pids = [int(p) for p in sys.argv[1].split(",") if p]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    syms = load_map(sys.argv[3]) if len(sys.argv) > 3 else []
    tr = tracefs()
    if os.geteuid() != 0 or not tr or not os.path.isdir(f"{tr}/events/kvm"):
        print("kvm-trace: no KVM tracepoints here (needs root, tracefs and kvm)")
        return
    tids = tids_of(pids)
    with open(f"{tr}/tracing_on") as f:
        was_on = f.read().strip()
    with open(f"{tr}/buffer_size_kb") as f:
        was_kb = f.read().split()[0]
    try:
        put(f"{tr}/tracing_on", "0")
        put(f"{tr}/buffer_size_kb", "8192")
        put(f"{tr}/trace", "")
        for e in EVENTS:
            if os.path.isdir(f"{tr}/events/kvm/{e}"):
                put(f"{tr}/events/kvm/{e}/enable", "1")
        put(f"{tr}/tracing_on", "1")
        time.sleep(secs)
        put(f"{tr}/tracing_on", "0")
        with open(f"{tr}/trace", errors="replace") as f:
            lines = [ln.rstrip("\n") for ln in f if not ln.startswith("#")]
    finally:
        for e in EVENTS:
            if os.path.isdir(f"{tr}/events/kvm/{e}"):
                put(f"{tr}/events/kvm/{e}/enable", "0")
        put(f"{tr}/trace", "")
        put(f"{tr}/buffer_size_kb", was_kb)
        put(f"{tr}/tracing_on", was_on)
    mine = [(p, ln) for ln in lines if (p := parse(ln)) and p[0] in tids]
    print(f"kvm-trace: {len(mine)} events of pids {sys.argv[1]}'s threads in {secs:g} s "
          f"({len(lines)} in all)")
    per = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
    for (tid, ev, text), _ in mine:
        w = text.split()
        if ev == "kvm_exit" and "reason" in w:
            i = w.index("reason")
            per[tid]["exit"][w[i + 1]] += 1
            if "rip" in w:
                per[tid]["rip"][int(w[w.index("rip") + 1], 16)] += 1
        elif ev in ("kvm_inj_virq", "kvm_apic_accept_irq", "kvm_msi_set_irq",
                    "kvm_apic_ipi"):
            per[tid][ev][" ".join(w[:4])] += 1
        else:
            per[tid][ev][w[0] if w else ""] += 1
    for tid in sorted(per):
        d = per[tid]
        print(f"  tid {tid} ({tids.get(tid, '?')}): {sum(d['exit'].values())} exits")
        for k, c in sorted(d.items()):
            if k == "rip":
                top = ", ".join(f"{name_of(syms, r)} x{n}" for r, n in c.most_common(6))
            else:
                top = ", ".join(f"{r} x{n}" for r, n in c.most_common(6))
            print(f"    {k}: {top}")
    quiet = sorted(t for t, n in tids.items() if t not in per)
    if quiet:
        print("  no events: " + ", ".join(f"{t} ({tids[t]})" for t in quiet))
    for _, ln in mine[-20:]:
        print("  | " + ln.strip())


if __name__ == "__main__":
    main()

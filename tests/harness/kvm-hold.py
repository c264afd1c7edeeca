#!/usr/bin/env python3
"""kvm-hold.py: holds one KVM VM open, with an in-kernel irqchip and one
vCPU that never runs, until it is killed. The nested host starts it
before its script (nested-host.sh).

Why: the host's kernel flips static keys when its first VM comes or its
last one goes (KVM's preempt notifiers patch __schedule) and when a vCPU's
APIC is first software-disabled. Each flip patches live code through int3
while the other CPU runs it, and under QEMU's TCG the hung nested hosts
were caught there (tests/harness/README.md). With one VM always alive the
counts never fall to zero, so the tests' VMs coming and going patch
nothing."""
import fcntl
import os
import signal
import sys

KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_CREATE_IRQCHIP = 0xAE60


def main():
    try:
        kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
        fcntl.ioctl(vm, KVM_CREATE_IRQCHIP, 0)
        fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
    except OSError as e:
        print("kvm-hold: cannot hold a VM: %s" % e, file=sys.stderr)
        return 1
    print("kvm-hold: holding one VM (pid %d)" % os.getpid(), flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())

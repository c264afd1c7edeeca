/* What the KVM core takes from the machine: how many vCPUs, and whether a
 * triple fault is a crash or a reset. */
#ifndef VESSEL_VM_SPEC_H
#define VESSEL_VM_SPEC_H

enum on_triple_fault { ON_TRIPLE_FAULT_CRASH, ON_TRIPLE_FAULT_REBOOT };

struct vm_core_spec {
	unsigned vcpus;
	enum on_triple_fault on_triple_fault;
};

#endif

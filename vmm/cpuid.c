/* CPUID for each vCPU: what KVM supports, with a coherent topology of
 * `ncpus` single-threaded cores in one package and the hypervisor bit.
 * Plus what KVM emulates but leaves out of KVM_GET_SUPPORTED_CPUID: the
 * TSC-deadline mode of the in-kernel LAPIC timer (KVM_CAP_TSC_DEADLINE_TIMER;
 * the KVM API's "known problems" section), as QEMU's -cpu host has it.
 * Without it Linux ticks on the LAPIC timer's periodic mode, each CPU at
 * its own phase; with it every CPU's tick is programmed at the same jiffy
 * boundaries (see tests/integration/test_18_rt_smp.sh for what that
 * changed for an SMP PREEMPT_RT guest). */
#include "vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)

/* Features KVM emulates, with the in-kernel irqchip, that its supported
 * list leaves for userspace to turn on. */
static void add_emulated(int kvm_fd, struct kvm_cpuid2 *c)
{
	bool deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
			      KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1 && deadline)
			c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
}

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct error *err)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return err_set(err, "out of memory");
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			add_emulated(kvm_fd, c);
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return err_sys(err, "KVM_GET_SUPPORTED_CPUID");
	}
	return err_set(err, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

static unsigned order_of(unsigned n)
{
	unsigned s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static void fix_entry(struct kvm_cpuid_entry2 *e, unsigned id, unsigned ncpus)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((ncpus & 0xff) << 16);
		if (ncpus > 1)
			e->edx |= 1u << 28;     /* HTT: the count above is valid */
		e->ecx |= 1u << 31;             /* running under a hypervisor */
		break;
	case 4:                                 /* Intel deterministic caches */
		if ((e->eax & 0x1f) == 0)
			break;
		e->eax &= 0x3ff;
		e->eax |= (ncpus - 1) << 26;
		if (((e->eax >> 5) & 7) == 3)   /* L3 shared by the package */
			e->eax |= (ncpus - 1) << 14;
		break;
	case 0xb:                               /* extended topology */
	case 0x1f:
		e->edx = id;
		if (e->index == 0) {            /* SMT level: 1 thread per core */
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1 << 8) | 0;
		} else if (e->index == 1) {     /* core level */
			e->eax = order_of(ncpus);
			e->ebx = ncpus;
			e->ecx = (2 << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000001:
		e->ecx &= ~(1u << 22);          /* no TOPOEXT: leaf 0x8000001e unset */
		break;
	case 0x80000008:                        /* AMD: cores per package */
		e->ecx = (order_of(ncpus) << 12) | ((ncpus - 1) & 0xff);
		break;
	}
}

int cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id,
	      unsigned ncpus, struct error *err)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return err_set(err, "out of memory");
	memcpy(c, supported, sz);
	for (unsigned i = 0; i < c->nent; i++)
		fix_entry(&c->entries[i], id, ncpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = err_sys(err, "KVM_SET_CPUID2 (vCPU %u)", id);
	free(c);
	return ret;
}

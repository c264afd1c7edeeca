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

/* ---- Is a saved guest CPUID served by this host? ----
 * Only the registers that are feature bitmaps are compared; the others
 * hold counts, sizes, signatures and topology, which vessel itself or the
 * host's model sets. Bits that change at run time with guest state
 * (OSXSAVE, APIC, OSPKE) and the ones vessel turns on itself (HTT, the
 * hypervisor bit) are left out. */

enum { REG_EAX, REG_EBX, REG_ECX, REG_EDX };

struct cpuid_features {
	uint32_t function, index;
	unsigned reg;
	uint32_t ignore;        /* bits not compared */
};

static const struct cpuid_features feature_regs[] = {
	{ 0x1, 0, REG_ECX, (1u << 27) | (1u << 31) },   /* OSXSAVE, hypervisor */
	{ 0x1, 0, REG_EDX, (1u << 9) | (1u << 28) },    /* APIC, HTT */
	{ 0x7, 0, REG_EBX, 0 },
	{ 0x7, 0, REG_ECX, 1u << 4 },                   /* OSPKE */
	{ 0x7, 0, REG_EDX, 0 },
	{ 0x7, 1, REG_EAX, 0 },
	{ 0xd, 0, REG_EAX, 0 },                         /* XCR0 components */
	{ 0xd, 0, REG_EDX, 0 },
	{ 0xd, 1, REG_EAX, 0 },                         /* XSAVEOPT, XSAVEC, ... */
	{ 0xd, 1, REG_ECX, 0 },                         /* XSS components */
	{ 0xd, 1, REG_EDX, 0 },
	{ 0x40000001, 0, REG_EAX, 0 },                  /* KVM paravirt features */
	{ 0x80000001, 0, REG_ECX, 0 },
	{ 0x80000001, 0, REG_EDX, 0 },
	{ 0x80000007, 0, REG_EDX, 0 },                  /* invariant TSC */
	{ 0x80000008, 0, REG_EBX, 0 },
};

static const char *const reg_name[] = { "EAX", "EBX", "ECX", "EDX" };

static uint32_t reg_of(const struct kvm_cpuid_entry2 *e, unsigned reg)
{
	switch (reg) {
	case REG_EAX: return e->eax;
	case REG_EBX: return e->ebx;
	case REG_ECX: return e->ecx;
	default:      return e->edx;
	}
}

/* The entry for (function, index); index counts only where it matters. */
static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c,
						 uint32_t function, uint32_t index)
{
	for (unsigned i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index)
			return e;
	}
	return NULL;
}

int cpuid_check_compatible(const struct kvm_cpuid2 *guest,
			   const struct kvm_cpuid2 *supported, struct error *err)
{
	const struct kvm_cpuid_entry2 *g = cpuid_find(guest, 0, 0);
	const struct kvm_cpuid_entry2 *h = cpuid_find(supported, 0, 0);

	/* Leaf 0: the vendor. Its CPUID model (and KVM's) differs by vendor. */
	if (g && h && (g->ebx != h->ebx || g->ecx != h->ecx || g->edx != h->edx)) {
		char gv[13], hv[13];

		memcpy(gv, &g->ebx, 4);
		memcpy(gv + 4, &g->edx, 4);
		memcpy(gv + 8, &g->ecx, 4);
		memcpy(hv, &h->ebx, 4);
		memcpy(hv + 4, &h->edx, 4);
		memcpy(hv + 8, &h->ecx, 4);
		gv[12] = hv[12] = 0;
		for (unsigned i = 0; i < 12; i++) {
			if (gv[i] < 0x20 || gv[i] > 0x7e)
				gv[i] = '?';
			if (hv[i] < 0x20 || hv[i] > 0x7e)
				hv[i] = '?';
		}
		return err_input(err, "CPUID leaf 0x0: the guest ran on a %s CPU, "
				 "this host is %s", gv, hv);
	}
	for (size_t i = 0; i < sizeof(feature_regs) / sizeof(feature_regs[0]); i++) {
		const struct cpuid_features *f = &feature_regs[i];
		uint32_t want, have, missing;

		g = cpuid_find(guest, f->function, f->index);
		if (!g)
			continue;
		h = cpuid_find(supported, f->function, f->index);
		want = reg_of(g, f->reg) & ~f->ignore;
		have = h ? reg_of(h, f->reg) : 0;
		missing = want & ~have;
		if (missing)
			return err_input(err, "CPUID leaf 0x%x subleaf %u %s: this host "
					 "lacks feature bits 0x%08x the guest had "
					 "(guest 0x%08x, host 0x%08x)",
					 f->function, f->index, reg_name[f->reg],
					 missing, want, have);
	}
	return 0;
}

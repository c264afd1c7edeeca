/* One x86 vCPU's state for a snapshot: section "vcpu.N", version 1, a
 * sequence of blobs (state_blob.h) in restore order:
 *
 *   cpuid      kvm_cpuid_entry2[] the vCPU was given (KVM_GET_CPUID2)
 *   tsc_khz    u32, its TSC frequency (0: unknown)
 *   mp_state   struct kvm_mp_state
 *   regs       struct kvm_regs
 *   sregs      struct kvm_sregs
 *   xsave      KVM_GET_XSAVE2's buffer (KVM_CAP_XSAVE2 bytes), else
 *              KVM_GET_XSAVE's struct kvm_xsave
 *   xcrs       struct kvm_xcrs
 *   debugregs  struct kvm_debugregs
 *   lapic      struct kvm_lapic_state
 *   msrs       kvm_msr_entry[], the IA32_TSC first
 *   events     struct kvm_vcpu_events
 *
 * The VM is paused: the vCPU's thread is parked with its last exit
 * completed (vm_stopping), so the registers are final. Saving gets
 * MP state first (KVM_GET_MP_STATE may move pending INIT/SIPI into the
 * state) and vcpu events last. Restoring goes in the order above, KVM's:
 * regs before events (KVM_SET_REGS drops a pending exception), sregs
 * before the LAPIC (the APIC base), the LAPIC before the MSRs (the
 * TSC-deadline MSR needs the LAPIC timer in TSC-deadline mode) and the TSC
 * before TSC_DEADLINE (the deadline counts in guest TSC). */
#include "vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "state_blob.h"

#define VCPU_STATE_VERSION   1
#define CPUID_MAX_ENTRIES    256        /* KVM's own limit */
#define MSR_MAX              1024       /* more than KVM knows */
#define MSR_CHUNK            100        /* per KVM_GET/SET_MSRS call */
#define XSAVE_MAX            (1u << 20)
/* A TSC frequency within 250 ppm is the same one measured again. */
#define TSC_KHZ_PPM          250

#define MSR_IA32_TSC          0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)

struct vcpu_image {
	struct kvm_cpuid2 *cpuid;
	uint32_t tsc_khz;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave *xsave;
	size_t xsave_len;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_msr_entry *msrs;
	unsigned nmsrs;
	struct kvm_vcpu_events events;
};

static void image_free(struct vcpu_image *im)
{
	free(im->cpuid);
	free(im->xsave);
	free(im->msrs);
}

/* KVM_GET_XSAVE2's size, at least struct kvm_xsave's. */
static size_t xsave_size(struct vm *vm)
{
	int n = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
}

static struct kvm_cpuid2 *cpuid_alloc(unsigned nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (c)
		c->nent = nent;
	return c;
}

static int get_cpuid(struct vcpu *v, struct kvm_cpuid2 **out, struct error *err)
{
	struct kvm_cpuid2 *c = cpuid_alloc(CPUID_MAX_ENTRIES);

	if (!c)
		return err_set(err, "out of memory");
	if (ioctl(v->fd, KVM_GET_CPUID2, c) < 0) {
		free(c);
		return err_sys(err, "KVM_GET_CPUID2 (vCPU %u)", v->id);
	}
	*out = c;
	return 0;
}

static const struct kvm_cpuid_entry2 *leaf(const struct kvm_cpuid2 *c, uint32_t fn)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

/* KVM's paravirtual MSRs the guest may use, by CPUID 0x40000001 EAX bit. */
static const struct { unsigned bit; uint32_t msr; } kvm_pv_msrs[] = {
	{ 0, 0x11 }, { 0, 0x12 },                       /* kvmclock, old */
	{ 3, 0x4b564d00 }, { 3, 0x4b564d01 },           /* kvmclock */
	{ 4, 0x4b564d02 },                              /* async PF */
	{ 5, 0x4b564d03 },                              /* steal time */
	{ 6, 0x4b564d04 },                              /* PV EOI */
	{ 12, 0x4b564d05 },                             /* poll control */
	{ 14, 0x4b564d06 },                             /* async PF interrupt */
};

static bool has_msr(const uint32_t *l, unsigned n, uint32_t msr)
{
	for (unsigned i = 0; i < n; i++)
		if (l[i] == msr)
			return true;
	return false;
}

/* The MSRs worth saving for this vCPU: the IA32_TSC first, then KVM's
 * list (KVM_GET_MSR_INDEX_LIST: the MSRs it saves and emulates), plus the
 * paravirtual ones the guest's CPUID offers; TSC_DEADLINE only when the
 * CPUID has the TSC-deadline timer. Not filtered yet. */
static int msr_candidates(struct vcpu *v, const struct kvm_cpuid2 *cpuid,
			  uint32_t **out, unsigned *nout, struct error *err)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *kl;
	const struct kvm_cpuid_entry2 *e1 = leaf(cpuid, 1), *pv = leaf(cpuid, 0x40000001);
	bool deadline = e1 && (e1->ecx & CPUID_1_ECX_TSC_DEADLINE);
	uint32_t *l;
	unsigned n = 0;

	if (ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return err_sys(err, "KVM_GET_MSR_INDEX_LIST");
	if (probe.nmsrs > MSR_MAX)
		return err_set(err, "KVM_GET_MSR_INDEX_LIST: %u MSRs", probe.nmsrs);
	kl = calloc(1, sizeof(*kl) + probe.nmsrs * sizeof(kl->indices[0]));
	l = calloc(probe.nmsrs + 2 + sizeof(kvm_pv_msrs) / sizeof(kvm_pv_msrs[0]),
		   sizeof(*l));
	if (!kl || !l) {
		free(kl);
		free(l);
		return err_set(err, "out of memory");
	}
	kl->nmsrs = probe.nmsrs;
	if (ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, kl) < 0) {
		free(kl);
		free(l);
		return err_sys(err, "KVM_GET_MSR_INDEX_LIST");
	}
	l[n++] = MSR_IA32_TSC;
	for (unsigned i = 0; i < kl->nmsrs; i++) {
		uint32_t m = kl->indices[i];

		if (m != MSR_IA32_TSC && m != MSR_IA32_TSC_DEADLINE && !has_msr(l, n, m))
			l[n++] = m;
	}
	for (size_t i = 0; pv && i < sizeof(kvm_pv_msrs) / sizeof(kvm_pv_msrs[0]); i++)
		if ((pv->eax >> kvm_pv_msrs[i].bit & 1) && !has_msr(l, n, kvm_pv_msrs[i].msr))
			l[n++] = kvm_pv_msrs[i].msr;
	if (deadline)
		l[n++] = MSR_IA32_TSC_DEADLINE;
	free(kl);
	*out = l;
	*nout = n;
	return 0;
}

/* KVM_GET_MSRS or KVM_SET_MSRS on e[0..n) in chunks; returns how many
 * were done before the first one KVM refused (n if none), -1 on error. */
static int msrs_io(struct vcpu *v, unsigned long req, struct kvm_msr_entry *e,
		   unsigned n, struct error *err)
{
	_Alignas(struct kvm_msrs) uint8_t buf[sizeof(struct kvm_msrs) +
					     MSR_CHUNK * sizeof(struct kvm_msr_entry)];
	struct kvm_msrs *b = (struct kvm_msrs *)buf;
	unsigned done = 0;

	while (done < n) {
		unsigned k = n - done < MSR_CHUNK ? n - done : MSR_CHUNK;
		int r;

		memset(b, 0, sizeof(*b));
		b->nmsrs = k;
		memcpy(b->entries, e + done, k * sizeof(e[0]));
		r = ioctl(v->fd, req, b);
		if (r < 0)
			return err_sys(err, "%s (vCPU %u)", req == KVM_GET_MSRS ?
				       "KVM_GET_MSRS" : "KVM_SET_MSRS", v->id);
		if ((unsigned)r > k)
			r = (int)k;
		memcpy(e + done, b->entries, (unsigned)r * sizeof(e[0]));
		done += (unsigned)r;
		if ((unsigned)r < k)
			break;
	}
	return (int)done;
}

/* Read every candidate MSR KVM_GET_MSRS reads; drop the others. */
static int get_msrs(struct vcpu *v, const struct kvm_cpuid2 *cpuid,
		    struct vcpu_image *im, struct error *err)
{
	uint32_t *l = NULL;
	unsigned n = 0, kept = 0;

	if (msr_candidates(v, cpuid, &l, &n, err) < 0)
		return -1;
	im->msrs = calloc(n ? n : 1, sizeof(im->msrs[0]));
	if (!im->msrs) {
		free(l);
		return err_set(err, "out of memory");
	}
	for (unsigned i = 0; i < n; i++)
		im->msrs[i].index = l[i];
	free(l);
	/* Reads stop at the first MSR KVM refuses: skip it, go on after it. */
	for (unsigned i = 0; i < n;) {
		int r = msrs_io(v, KVM_GET_MSRS, im->msrs + i, n - i, err);

		if (r < 0)
			return -1;
		for (int j = 0; j < r; j++)
			im->msrs[kept++] = im->msrs[i + j];
		i += (unsigned)r + 1;
	}
	im->nmsrs = kept;
	return 0;
}

static int get_state(struct vcpu *v, struct vcpu_image *im, struct error *err)
{
	size_t xs = xsave_size(v->vm);
	int khz;

#define GET(req, p) \
	if (ioctl(v->fd, req, p) < 0) \
		return err_sys(err, #req " (vCPU %u)", v->id)
	GET(KVM_GET_MP_STATE, &im->mp);
	GET(KVM_GET_REGS, &im->regs);
	GET(KVM_GET_SREGS, &im->sregs);
	im->xsave = calloc(1, xs);
	if (!im->xsave)
		return err_set(err, "out of memory");
	im->xsave_len = xs;
	if (xs > sizeof(struct kvm_xsave)) {
		GET(KVM_GET_XSAVE2, im->xsave);
	} else {
		GET(KVM_GET_XSAVE, im->xsave);
	}
	GET(KVM_GET_XCRS, &im->xcrs);
	GET(KVM_GET_DEBUGREGS, &im->dregs);
	GET(KVM_GET_LAPIC, &im->lapic);
	if (get_cpuid(v, &im->cpuid, err) < 0 || get_msrs(v, im->cpuid, im, err) < 0)
		return -1;
	GET(KVM_GET_VCPU_EVENTS, &im->events);
#undef GET
	khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	im->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	return 0;
}

int vcpu_state_save(struct vcpu *v, struct vmstate_writer *w, struct error *err)
{
	struct vcpu_image im;
	char id[VMSTATE_ID_LEN];

	memset(&im, 0, sizeof(im));
	if (get_state(v, &im, err) < 0) {
		image_free(&im);
		return -1;
	}
	snprintf(id, sizeof(id), "vcpu.%u", v->id);
	vmstate_begin(w, id, VCPU_STATE_VERSION);
	blob_put(w, im.cpuid->entries, im.cpuid->nent * sizeof(im.cpuid->entries[0]));
	blob_put(w, &im.tsc_khz, sizeof(im.tsc_khz));
	blob_put(w, &im.mp, sizeof(im.mp));
	blob_put(w, &im.regs, sizeof(im.regs));
	blob_put(w, &im.sregs, sizeof(im.sregs));
	blob_put(w, im.xsave, im.xsave_len);
	blob_put(w, &im.xcrs, sizeof(im.xcrs));
	blob_put(w, &im.dregs, sizeof(im.dregs));
	blob_put(w, &im.lapic, sizeof(im.lapic));
	blob_put(w, im.msrs, im.nmsrs * sizeof(im.msrs[0]));
	blob_put(w, &im.events, sizeof(im.events));
	vmstate_end(w);
	image_free(&im);
	return 0;
}

/* Parse the section whole before anything is set. xsave_max: the most
 * XSAVE bytes this host's KVM takes (xsave_size). */
static int parse(struct vmstate_section *s, size_t xsave_max, struct vcpu_image *im,
		 struct error *err)
{
	void *p;
	size_t len;

	if (vmstate_check_version(s, VCPU_STATE_VERSION, err) < 0)
		return -1;
	if (blob_get_alloc(s, "CPUID", sizeof(struct kvm_cpuid_entry2),
			   CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2),
			   sizeof(struct kvm_cpuid_entry2), &p, &len, err) < 0)
		return -1;
	im->cpuid = cpuid_alloc(len / sizeof(struct kvm_cpuid_entry2));
	if (!im->cpuid) {
		free(p);
		return err_set(err, "out of memory");
	}
	memcpy(im->cpuid->entries, p, len);
	free(p);
	for (unsigned i = 0; i < im->cpuid->nent; i++)
		memset(im->cpuid->entries[i].padding, 0,
		       sizeof(im->cpuid->entries[i].padding));
	if (blob_get(s, "TSC kHz", &im->tsc_khz, sizeof(im->tsc_khz), err) < 0 ||
	    blob_get(s, "MP state", &im->mp, sizeof(im->mp), err) < 0 ||
	    blob_get(s, "registers", &im->regs, sizeof(im->regs), err) < 0 ||
	    blob_get(s, "special registers", &im->sregs, sizeof(im->sregs), err) < 0)
		return -1;
	/* XSAVE: at least the legacy struct; more only if this host's KVM
	 * takes that much (KVM_SET_XSAVE reads its own size, zero-padded). */
	if (blob_get_alloc(s, "XSAVE", sizeof(struct kvm_xsave), XSAVE_MAX, 1, &p,
			   &len, err) < 0)
		return -1;
	im->xsave_len = xsave_max;
	if (len > im->xsave_len) {
		free(p);
		return err_input(err, "%.*s: XSAVE: %zu bytes, this host's KVM takes "
				 "at most %zu (the guest used CPU state this host "
				 "lacks)", VMSTATE_ID_LEN, s->id, len, im->xsave_len);
	}
	im->xsave = calloc(1, im->xsave_len);
	if (!im->xsave) {
		free(p);
		return err_set(err, "out of memory");
	}
	memcpy(im->xsave, p, len);
	free(p);
	if (blob_get(s, "XCRs", &im->xcrs, sizeof(im->xcrs), err) < 0 ||
	    blob_get(s, "debug registers", &im->dregs, sizeof(im->dregs), err) < 0 ||
	    blob_get(s, "LAPIC", &im->lapic, sizeof(im->lapic), err) < 0)
		return -1;
	if (blob_get_alloc(s, "MSRs", 0, MSR_MAX * sizeof(struct kvm_msr_entry),
			   sizeof(struct kvm_msr_entry), &p, &len, err) < 0)
		return -1;
	im->msrs = p;
	im->nmsrs = len / sizeof(struct kvm_msr_entry);
	if (blob_get(s, "vcpu events", &im->events, sizeof(im->events), err) < 0)
		return -1;
	return blob_end(s, err);
}

/* A saved struct KVM refuses (EINVAL) is bad input; other errors are the
 * host's. */
static int set(struct vcpu *v, unsigned long req, const char *name, void *p,
	       struct error *err)
{
	if (ioctl(v->fd, req, p) == 0)
		return 0;
	if (errno == EINVAL)
		return err_input(err, "vcpu.%u: KVM refuses the saved %s (%s)", v->id,
				 name, strerror(errno));
	return err_sys(err, "vcpu.%u: %s", v->id, name);
}

static bool cpuid_equal(const struct kvm_cpuid2 *a, const struct kvm_cpuid2 *b)
{
	return a->nent == b->nent &&
	       !memcmp(a->entries, b->entries, a->nent * sizeof(a->entries[0]));
}

/* The CPUID: this host must serve it; vcpu_create set the host's own,
 * which is replaced by the saved one when they differ. */
static int restore_cpuid(struct vcpu *v, struct vcpu_image *im, struct error *err)
{
	struct kvm_cpuid2 *now;
	bool same;

	if (cpuid_check_compatible(im->cpuid, v->vm->cpuid, err) < 0)
		return err_prefix(err, "vcpu.%u", v->id);
	if (get_cpuid(v, &now, err) < 0)
		return -1;
	for (unsigned i = 0; i < now->nent; i++)
		memset(now->entries[i].padding, 0, sizeof(now->entries[i].padding));
	same = cpuid_equal(now, im->cpuid);
	free(now);
	return same ? 0 : set(v, KVM_SET_CPUID2, "CPUID", im->cpuid, err);
}

/* The guest's TSC frequency: scaled to when this host's differs, if KVM
 * can scale it (KVM_CAP_TSC_CONTROL). */
static int restore_tsc_khz(struct vcpu *v, uint32_t khz, struct error *err)
{
	int now = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	uint64_t diff;

	if (khz == 0 || now <= 0)
		return 0;       /* not known on one side: nothing to compare */
	diff = (uint64_t)(khz > (uint32_t)now ? khz - (uint32_t)now : (uint32_t)now - khz);
	if (diff * 1000000 <= (uint64_t)khz * TSC_KHZ_PPM)
		return 0;
	if (ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) <= 0)
		return err_input(err, "vcpu.%u: the guest's TSC ran at %u kHz, this "
				 "host's runs at %d kHz and its KVM cannot scale it",
				 v->id, khz, now);
	if (ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
		return err_sys(err, "vcpu.%u: KVM_SET_TSC_KHZ %u", v->id, khz);
	return 0;
}

static int set_msrs(struct vcpu *v, struct kvm_msr_entry *e, unsigned n,
		    struct error *err)
{
	int r = msrs_io(v, KVM_SET_MSRS, e, n, err);

	if (r < 0)
		return -1;
	if ((unsigned)r < n)
		return err_input(err, "vcpu.%u: KVM refuses MSR 0x%x = 0x%llx", v->id,
				 e[r].index, (unsigned long long)e[r].data);
	return 0;
}

/* The guest's TSC goes on from the saved value. KVM takes a written
 * IA32_TSC that lands within a second of what it expects (its last write
 * plus the time since) for an attempt to line vCPUs up, and on a host
 * with a stable TSC keeps the offset it has: a guest saved less than a
 * second into its life would get the new VM's TSC, counted from when its
 * vCPUs were made, and see its TSC run backwards. Where KVM lets the
 * offset be set (KVM_VCPU_TSC_OFFSET, Linux 5.16), vCPU 0's is chosen so
 * that its TSC goes on from its saved value, and every other vCPU gets the
 * same offset, the TSCs in step as KVM's own matching keeps them. */
static int restore_tsc(struct vcpu *v, struct kvm_msr_entry *tsc, struct error *err)
{
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL,
				     .attr = KVM_VCPU_TSC_OFFSET };
	struct kvm_msr_entry now = { .index = MSR_IA32_TSC };
	uint64_t off;
	int r;

	if (set_msrs(v, tsc, 1, err) < 0)
		return -1;
	if (ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &a) < 0)
		return 0;       /* an older KVM: the write stands as it took */
	a.addr = (uintptr_t)&off;
	if (v->id == 0 || !v->vm->tsc_restore.set) {
		if (ioctl(v->fd, KVM_GET_DEVICE_ATTR, &a) < 0)
			return err_sys(err, "vcpu.%u: KVM_GET_DEVICE_ATTR (TSC offset)", v->id);
		r = msrs_io(v, KVM_GET_MSRS, &now, 1, err);
		if (r < 0)
			return -1;
		if (r != 1)
			return err_set(err, "vcpu.%u: KVM refuses to read IA32_TSC", v->id);
		/* guest TSC = host TSC (scaled) + offset: the same host
		 * instant, moved to the saved value. */
		v->vm->tsc_restore.offset = off + (tsc->data - now.data);
		v->vm->tsc_restore.set = true;
	}
	off = v->vm->tsc_restore.offset;
	if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return err_sys(err, "vcpu.%u: KVM_SET_DEVICE_ATTR (TSC offset)", v->id);
	return 0;
}

/* The IA32_TSC first, wherever the file has it, then the others in order
 * (the saver put TSC_DEADLINE last). */
static int restore_msrs(struct vcpu *v, struct vcpu_image *im, struct error *err)
{
	struct kvm_msr_entry *e = im->msrs;
	unsigned n = im->nmsrs;

	for (unsigned i = 1; i < n; i++)
		if (e[i].index == MSR_IA32_TSC) {
			struct kvm_msr_entry t = e[i];

			memmove(e + 1, e, i * sizeof(e[0]));
			e[0] = t;
			break;
		}
	for (unsigned i = 0; i < n; i++)
		e[i].reserved = 0;
	if (n > 0 && e[0].index == MSR_IA32_TSC) {
		if (restore_tsc(v, e, err) < 0)
			return -1;
		e++;
		n--;
	}
	return set_msrs(v, e, n, err);
}

/* Flags KVM_GET_VCPU_EVENTS sets that need a capability vessel does not
 * enable are dropped when they carry nothing; unknown flags are refused. */
static int check_events(struct vcpu *v, struct kvm_vcpu_events *ev, struct error *err)
{
	const uint32_t known = KVM_VCPUEVENT_VALID_NMI_PENDING |
		KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW |
		KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD |
		KVM_VCPUEVENT_VALID_TRIPLE_FAULT;

	if (ev->flags & ~known)
		return err_input(err, "vcpu.%u: vcpu events: unknown flags 0x%x",
				 v->id, ev->flags & ~known);
	if (ev->flags & KVM_VCPUEVENT_VALID_PAYLOAD) {
		if (ev->exception_has_payload)
			return err_input(err, "vcpu.%u: a pending exception payload "
					 "(KVM_CAP_EXCEPTION_PAYLOAD is not enabled)",
					 v->id);
		ev->flags &= ~KVM_VCPUEVENT_VALID_PAYLOAD;
	}
	if (ev->flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT) {
		if (ev->triple_fault.pending)
			return err_input(err, "vcpu.%u: a pending triple fault "
					 "(KVM_CAP_X86_TRIPLE_FAULT_EVENT is not "
					 "enabled)", v->id);
		ev->flags &= ~KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	}
	return 0;
}

int vcpu_state_restore(struct vcpu *v, const struct vmstate_reader *r,
		       struct error *err)
{
	struct vmstate_section s;
	struct vcpu_image im;
	char id[VMSTATE_ID_LEN];
	int ret = -1;

	memset(&im, 0, sizeof(im));
	snprintf(id, sizeof(id), "vcpu.%u", v->id);
	if (vmstate_find(r, id, &s, err) < 0)
		return -1;
	if (parse(&s, xsave_size(v->vm), &im, err) < 0 || check_events(v, &im.events, err) < 0 ||
	    restore_cpuid(v, &im, err) < 0 || restore_tsc_khz(v, im.tsc_khz, err) < 0)
		goto out;
	if (set(v, KVM_SET_MP_STATE, "MP state", &im.mp, err) < 0 ||
	    set(v, KVM_SET_REGS, "registers", &im.regs, err) < 0 ||
	    set(v, KVM_SET_SREGS, "special registers", &im.sregs, err) < 0 ||
	    set(v, KVM_SET_XSAVE, "XSAVE state", im.xsave, err) < 0 ||
	    set(v, KVM_SET_XCRS, "XCRs", &im.xcrs, err) < 0 ||
	    set(v, KVM_SET_DEBUGREGS, "debug registers", &im.dregs, err) < 0 ||
	    set(v, KVM_SET_LAPIC, "LAPIC", &im.lapic, err) < 0 ||
	    restore_msrs(v, &im, err) < 0 ||
	    set(v, KVM_SET_VCPU_EVENTS, "vcpu events", &im.events, err) < 0)
		goto out;
	ret = 0;
out:
	image_free(&im);
	return ret;
}

/* x86 vCPU and VM state on real KVM ("/dev/kvm"; tests/run-all.sh runs
 * it in the nested KVM host): a guest that counts (tests/kvm/guests/
 * snapcount.S) runs in a VM built by vessel's vmm code, is paused, its
 * VM and vCPU state and RAM saved, the VM destroyed; a new VM gets the
 * state and the RAM and runs on. The pause comes while the vCPU is in the
 * exit of the OUT that reports the counter (the case vcpu_complete_io is
 * for). Checked: the counter goes on from the last value the first VM
 * reported (+1: no access run twice, none lost),
 * the guest's TSC goes on monotonic, its LAPIC timer (x2APIC,
 * TSC-deadline mode, set up before the snapshot only) keeps ticking. And
 * hostile state: a wrong-size XSAVE or LAPIC blob, a CPUID feature the
 * host lacks, are refused as bad input with a clear message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../vmm/vm.h"
/* With the machine layer (vmm/machine/machine.h), vm_create also takes a
 * snapshot to build from (none here); without it, it does not. */
#if __has_include("../../vmm/machine/machine.h")
#include "../../vmm/machine/machine.h"
#define board_create(vm, cfg, loop, con, err) vm_create(vm, cfg, NULL, NULL, loop, con, err)
#else
#define board_create vm_create
#endif

#define PORT       0x520        /* snapcount.S */
#define NVCPUS     2            /* vCPU 1 stays waiting for a SIPI */
#define PAUSE_AT   2000         /* the counter value the pause comes at */

/* What the guest reported on its ports, in one VM. */
struct report {
	pthread_mutex_t lock;
	unsigned ncounter;
	uint32_t first_counter, last_counter;
	unsigned bad_steps;             /* counter not last + 1 */
	uint32_t bad_from, bad_to;
	uint32_t first_ticks, ticks;
	uint32_t tsc_lo;
	bool have_lo;                   /* tsc_lo seen, its high half not yet */
	unsigned ntsc;
	uint64_t first_tsc, last_tsc;
	unsigned tsc_backwards;
	unsigned unexpected;            /* the guest took a stray vector */
	/* Pause the VM from inside the exit that reports this counter, so
	 * that its vCPU parks with that OUT still to complete. */
	uint32_t pause_at;
	struct vm *vm;
};

static void port_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		    bool is_write)
{
	struct report *r = opaque;
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, len < 4 ? len : 4);
	pthread_mutex_lock(&r->lock);
	switch (off) {
	case 0:
		if (r->ncounter == 0)
			r->first_counter = v;
		else if (v != r->last_counter + 1 && r->bad_steps++ == 0) {
			r->bad_from = r->last_counter;
			r->bad_to = v;
		}
		r->last_counter = v;
		r->ncounter++;
		if (r->pause_at && v == r->pause_at)
			__atomic_store_n(&r->vm->paused, true, __ATOMIC_RELEASE);
		break;
	case 4:
		if (r->ncounter <= 1)
			r->first_ticks = v;
		r->ticks = v;
		break;
	case 8:
		r->tsc_lo = v;
		r->have_lo = true;
		break;
	case 12: {
		uint64_t tsc = (uint64_t)v << 32 | r->tsc_lo;

		/* The guest may have been paused between the two halves: a
		 * restored VM's first high half has no low half. */
		if (!r->have_lo)
			break;
		r->have_lo = false;
		if (r->ntsc == 0)
			r->first_tsc = tsc;
		else if (tsc <= r->last_tsc)
			r->tsc_backwards++;
		r->last_tsc = tsc;
		r->ntsc++;
		break;
	}
	case 16:
		r->unexpected++;
		break;
	}
	pthread_mutex_unlock(&r->lock);
}

static void report_get(struct report *r, struct report *copy)
{
	pthread_mutex_lock(&r->lock);
	*copy = *r;
	pthread_mutex_unlock(&r->lock);
}

/* One VM with its loop, console and report. */
struct box {
	struct vm vm;
	struct machine_spec cfg;
	struct loop loop;
	struct console console;
	struct report rep;
	int null_fd;
	char kernel[PATH_MAX];
};

static int box_open(struct box *b)
{
	struct error err;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	memset(b, 0, sizeof(*b));
	/* vm.o finds the devices in a linker section; linked from the
	 * archive, only the ones something references are there: the PM
	 * device is enough (and keeps the test quiet). */
	(void)pm_power_button;
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		print_message("skipped: /dev/kvm: %s\n", strerror(errno));
		return -1;
	}
	assert_true(n > 0);
	self[n] = 0;
	/* build/tests/unit/test_vcpu_state -> build/tests/kvm/guests/ */
	snprintf(b->kernel, sizeof(b->kernel), "%s/../kvm/guests/snapcount.bin",
		 dirname(self));
	if (access(b->kernel, R_OK) < 0)
		fail_msg("%s: %s (make builds it)", b->kernel, strerror(errno));
	pthread_mutex_init(&b->rep.lock, NULL);
	b->cfg.vcpus = NVCPUS;
	b->cfg.memory = 64 << 20;
	b->cfg.kernel = b->kernel;
	b->cfg.cmdline = (char *)"";
	b->cfg.name = "snaptest";
	b->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(b->null_fd >= 0);
	if (loop_init(&b->loop, &err) < 0 || loop_start(&b->loop, &err) < 0 ||
	    console_open(&b->console, &b->loop, -1, b->null_fd, &err) < 0)
		fail_msg("loop/console: %s", err.msg);
	vcpu_signals_init();
	if (board_create(&b->vm, &b->cfg, &b->loop, &b->console, &err) < 0)
		fail_msg("vm_create: %s", err.msg);
	if (bus_register(&b->vm.pio, PORT, 0x14, port_io, &b->rep, "snaptest", &err) < 0)
		fail_msg("bus_register: %s", err.msg);
	return 0;
}

static void box_start(struct box *b)
{
	struct error err;

	for (unsigned i = 0; i < b->vm.nvcpus; i++)
		if (vcpu_start(&b->vm.vcpu[i], &err) < 0)
			fail_msg("vcpu_start: %s", err.msg);
}

/* What vm_control_pause does: every vCPU thread parked in vm_stopping. */
static void box_pause(struct box *b)
{
	struct vm *vm = &b->vm;
	struct timespec until;

	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->paused, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpu[i]);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&vm->lock);
	while (vm->parked < vm->nvcpus)
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &until))
			break;
	assert_int_equal(vm->parked, vm->nvcpus);
	pthread_mutex_unlock(&vm->lock);
}

static void box_close(struct box *b)
{
	vm_request(&b->vm, VM_EVENT_STOP);
	vm_destroy(&b->vm);
	loop_stop(&b->loop);
	console_close(&b->console);
	loop_destroy(&b->loop);
	close(b->null_fd);
	pthread_mutex_destroy(&b->rep.lock);
}

/* Wait until the guest counted to `counter` with `ticks` timer ticks, or
 * `secs` passed. */
static void box_wait(struct box *b, uint32_t counter, uint32_t ticks, int secs,
		     struct report *out)
{
	for (int i = 0; i < secs * 100; i++) {
		report_get(&b->rep, out);
		if (out->unexpected)
			fail_msg("the guest took an unexpected interrupt vector");
		if (out->ncounter && out->last_counter >= counter && out->ticks >= ticks)
			return;
		usleep(10000);
	}
	report_get(&b->rep, out);
}

/* ---- the saved image ---- */

struct saved {
	struct vmstate_writer w;        /* the state image */
	uint8_t *ram;
	size_t ram_size;
	struct report before;
};

static void ram_copy(struct gmem *m, uint8_t *buf, bool out)
{
	size_t off = 0;

	for (unsigned i = 0; i < m->nregions; i++) {
		if (out)
			memcpy(buf + off, m->region[i].hva, m->region[i].size);
		else
			memcpy(m->region[i].hva, buf + off, m->region[i].size);
		off += m->region[i].size;
	}
}

/* Run a guest until it counted a while and ticked, pause it, save. */
static int take_snapshot(struct saved *s)
{
	static struct box b;
	struct error err;

	memset(s, 0, sizeof(*s));
	if (box_open(&b) < 0)
		return -1;
	b.rep.pause_at = PAUSE_AT;
	b.rep.vm = &b.vm;
	box_start(&b);
	box_wait(&b, PAUSE_AT, 0, 60, &s->before);
	box_pause(&b);
	report_get(&b.rep, &s->before);
	assert_int_equal(s->before.last_counter, PAUSE_AT);
	if (s->before.ticks < 5)
		fail_msg("the guest's LAPIC timer did not tick (%u ticks, counter %u)",
			 s->before.ticks, s->before.last_counter);
	assert_int_equal(s->before.bad_steps, 0);
	assert_int_equal(s->before.tsc_backwards, 0);

	vmstate_writer_init(&s->w);
	if (vm_state_save(&b.vm, &s->w, &err) < 0)
		fail_msg("vm_state_save: %s", err.msg);
	for (unsigned i = 0; i < b.vm.nvcpus; i++)
		if (vcpu_state_save(&b.vm.vcpu[i], &s->w, &err) < 0)
			fail_msg("vcpu_state_save: %s", err.msg);
	if (vmstate_finish(&s->w, &err) < 0)
		fail_msg("vmstate_finish: %s", err.msg);
	s->ram_size = b.vm.mem.ram_size;
	s->ram = malloc(s->ram_size);
	assert_non_null(s->ram);
	ram_copy(&b.vm.mem, s->ram, true);
	box_close(&b);
	return 0;
}

static void saved_free(struct saved *s)
{
	vmstate_writer_free(&s->w);
	free(s->ram);
}

/* Build a VM and restore image into it; -1 with err if refused. */
static int restore_into(struct box *b, const struct saved *s, const void *img,
			size_t len, struct error *err)
{
	struct vmstate_reader r;

	if (box_open(b) < 0)
		return -2;
	assert_int_equal(b->vm.mem.ram_size, s->ram_size);
	ram_copy(&b->vm.mem, s->ram, false);
	if (vmstate_open(&r, img, len, err) < 0 || vm_state_restore(&b->vm, &r, err) < 0)
		return -1;
	for (unsigned i = 0; i < b->vm.nvcpus; i++)
		if (vcpu_state_restore(&b->vm.vcpu[i], &r, err) < 0)
			return -1;
	return 0;
}

static void test_snapshot_continues(void **st)
{
	static struct box b;
	struct saved s;
	struct report after;
	struct error err;

	(void)st;
	if (take_snapshot(&s) < 0) {
		skip();
		return;
	}
	if (restore_into(&b, &s, s.w.buf, s.w.len, &err) < 0)
		fail_msg("restore: %s", err.msg);
	box_start(&b);
	box_wait(&b, s.before.last_counter + 2000, s.before.ticks + 5, 30, &after);
	print_message("before: counter %u ticks %u tsc %llu; after: counter %u.."
		      "%u ticks %u..%u tsc %llu..%llu\n", s.before.last_counter,
		      s.before.ticks, (unsigned long long)s.before.last_tsc,
		      after.first_counter, after.last_counter, after.first_ticks,
		      after.ticks, (unsigned long long)after.first_tsc,
		      (unsigned long long)after.last_tsc);
	box_close(&b);
	saved_free(&s);
	assert_true(after.ncounter > 0);
	/* Continues where it was: the access pending at the pause was
	 * completed, not run again, and RAM came along (not 0). */
	assert_int_equal(after.first_counter, s.before.last_counter + 1);
	assert_int_equal(after.bad_steps, 0);
	assert_true(after.last_counter >= s.before.last_counter + 2000);
	/* Registers: %r12 (the tick count) went on from where it was. */
	assert_true(after.first_ticks >= s.before.ticks);
	/* The LAPIC timer (x2APIC, TSC-deadline) survived and ticks on. */
	assert_true(after.ticks >= s.before.ticks + 5);
	/* The TSC went on, monotonic across the restore. */
	assert_true(after.first_tsc > s.before.last_tsc);
	assert_int_equal(after.tsc_backwards, 0);
}

/* ---- hostile state: the image rebuilt with one blob of vcpu.0 changed ---- */

/* Blob k of a section's payload: its bytes and length. */
static const uint8_t *blob_at(const struct vmstate_section *sec, unsigned k,
			      uint32_t *len)
{
	size_t pos = 0;

	for (unsigned i = 0; pos + 4 <= sec->len; i++) {
		uint32_t n;

		memcpy(&n, sec->data + pos, 4);
		if (i == k) {
			*len = n;
			return sec->data + pos + 4;
		}
		pos += 4 + (size_t)n;
	}
	fail_msg("no blob %u in %s", k, sec->id);
	return NULL;
}

/* A copy of image s with vcpu.0's blob k replaced by p (len bytes). */
static void rebuild(const struct saved *s, unsigned k, const void *p, uint32_t len,
		    struct vmstate_writer *w)
{
	struct vmstate_reader r;
	struct vmstate_section sec;
	struct error err;
	size_t cursor = 0;

	assert_int_equal(vmstate_open(&r, s->w.buf, s->w.len, &err), 0);
	vmstate_writer_init(w);
	while (vmstate_next(&r, &cursor, &sec) == 1) {
		vmstate_begin(w, sec.id, sec.version);
		if (strcmp(sec.id, "vcpu.0")) {
			vmstate_put(w, sec.data, sec.len);
		} else {
			size_t pos = 0;

			for (unsigned i = 0; pos + 4 <= sec.len; i++) {
				uint32_t n;

				memcpy(&n, sec.data + pos, 4);
				if (i == k) {
					vmstate_put_u32(w, len);
					vmstate_put(w, p, len);
				} else {
					vmstate_put(w, sec.data + pos, 4 + (size_t)n);
				}
				pos += 4 + (size_t)n;
			}
		}
		vmstate_end(w);
	}
	assert_int_equal(vmstate_finish(w, &err), 0);
}

/* Blob numbers in "vcpu.N" (vmm/vcpu_state_x86.c) */
enum { B_CPUID, B_TSC_KHZ, B_MP, B_REGS, B_SREGS, B_XSAVE, B_XCRS, B_DREGS,
       B_LAPIC, B_MSRS, B_EVENTS };

/* Restoring w's image must fail as bad input, its message holding all of
 * the words given. */
static void expect_refused(const struct saved *s, struct vmstate_writer *w,
			   const char *what, ...)
{
	static struct box b;
	struct error err;
	va_list ap;
	const char *word;
	int r;

	memset(&err, 0, sizeof(err));
	r = restore_into(&b, s, w->buf, w->len, &err);
	box_close(&b);
	vmstate_writer_free(w);
	print_message("%s: %s\n", what, err.msg);
	if (r != -1)
		fail_msg("%s: restored (%d), want an input error", what, r);
	if (!err.input)
		fail_msg("%s: \"%s\" is not marked as bad input", what, err.msg);
	va_start(ap, what);
	while ((word = va_arg(ap, const char *)))
		if (!strstr(err.msg, word))
			fail_msg("%s: \"%s\" lacks \"%s\"", what, err.msg, word);
	va_end(ap);
}

static void test_hostile_state(void **st)
{
	struct saved s;
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section sec;
	struct error err;
	const uint8_t *p;
	uint32_t n;
	uint8_t small[100];
	struct kvm_cpuid_entry2 *cpuid;
	struct kvm_cpuid2 *host;
	unsigned nent;
	uint32_t missing = 0;

	(void)st;
	if (take_snapshot(&s) < 0) {
		skip();
		return;
	}
	assert_int_equal(vmstate_open(&r, s.w.buf, s.w.len, &err), 0);
	assert_int_equal(vmstate_find(&r, "vcpu.0", &sec, &err), 0);

	/* XSAVE of 100 bytes */
	p = blob_at(&sec, B_XSAVE, &n);
	memcpy(small, p, sizeof(small));
	rebuild(&s, B_XSAVE, small, sizeof(small), &w);
	expect_refused(&s, &w, "short XSAVE", "vcpu.0", "XSAVE", "100 bytes", NULL);

	/* LAPIC one byte short */
	p = blob_at(&sec, B_LAPIC, &n);
	rebuild(&s, B_LAPIC, p, n - 1, &w);
	expect_refused(&s, &w, "short LAPIC", "vcpu.0", "LAPIC", "1023 bytes", NULL);

	/* A leaf 7 EBX feature this host's KVM does not offer */
	p = blob_at(&sec, B_CPUID, &n);
	cpuid = malloc(n);
	assert_non_null(cpuid);
	memcpy(cpuid, p, n);
	nent = n / sizeof(*cpuid);
	{
		int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

		assert_true(kvm >= 0);
		assert_int_equal(cpuid_get_supported(kvm, &host, &err), 0);
		close(kvm);
	}
	for (unsigned i = 0; i < host->nent; i++)
		if (host->entries[i].function == 7 && host->entries[i].index == 0)
			missing = ~host->entries[i].ebx & (host->entries[i].ebx + 1);
	free(host);
	assert_true(missing != 0);
	for (unsigned i = 0; i < nent; i++)
		if (cpuid[i].function == 7 && cpuid[i].index == 0)
			cpuid[i].ebx |= missing;
	rebuild(&s, B_CPUID, cpuid, n, &w);
	free(cpuid);
	expect_refused(&s, &w, "CPUID the host lacks", "vcpu.0", "leaf 0x7",
		       "EBX", NULL);

	/* vcpu events with a flag KVM does not define */
	{
		struct kvm_vcpu_events ev;

		p = blob_at(&sec, B_EVENTS, &n);
		assert_int_equal(n, sizeof(ev));
		memcpy(&ev, p, sizeof(ev));
		ev.flags |= 0x80000000u;
		rebuild(&s, B_EVENTS, &ev, sizeof(ev), &w);
		expect_refused(&s, &w, "unknown event flag", "vcpu.0", "flags", NULL);
	}
	saved_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_continues),
		cmocka_unit_test(test_hostile_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

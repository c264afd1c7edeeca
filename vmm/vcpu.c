/* vCPUs: one thread each, KVM_RUN turned into bus dispatch, and the boot
 * register state. A vCPU is kicked out of KVM_RUN with SIGUSR1 plus
 * immediate_exit. */
#include "vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../boot/layout.h"
#include "timeline.h"

#define KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig;
}

void vcpu_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;   /* no SA_RESTART: KVM_RUN returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
}

int vcpu_create(struct vm *vm, unsigned id, struct error *err)
{
	struct vcpu *v = &vm->vcpu[id];
	struct kvm_lapic_state lapic;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return err_sys(err, "KVM_CREATE_VCPU %u", id);
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return err_sys(err, "mmap kvm_run (vCPU %u)", id);
	}
	if (cpuid_set(v->fd, vm->cpuid, id, vm->nvcpus, err) < 0)
		return -1;
	if (msr_setup(v->fd, err) < 0)
		return err_prefix(err, "vCPU %u", id);
	/* Local interrupts as a PC wires them: LINT0 ExtINT, LINT1 NMI. */
	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		return err_sys(err, "KVM_GET_LAPIC");
	*(uint32_t *)&lapic.regs[0x350] = 0x700;
	*(uint32_t *)&lapic.regs[0x360] = 0x400;
	if (ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0)
		return err_sys(err, "KVM_SET_LAPIC");
	return 0;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
		    bool code64, bool big)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = big;
}

int vcpu_setup_boot(struct vcpu *v, const struct boot_entry *e, struct error *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	bool lm = e->mode == BOOT_LONG64;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return err_sys(err, "KVM_GET_SREGS");
	set_seg(&sregs.cs, lm ? BOOT_CS64 : BOOT_CS32, 11, lm, !lm);
	set_seg(&sregs.ds, BOOT_DS, 3, false, true);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	set_seg(&sregs.tr, BOOT_TSS, 11, false, false);
	sregs.tr.s = 0;
	sregs.tr.g = 0;
	sregs.tr.limit = 0x67;
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = BOOT_IDT_ADDR;
	sregs.idt.limit = 0;
	if (lm) {
		sregs.cr0 = 0x80000011;         /* PG | ET | PE */
		sregs.cr3 = PML4_ADDR;
		sregs.cr4 = 0x20;               /* PAE */
		sregs.efer = 0x500;             /* LMA | LME */
	} else {
		sregs.cr0 = 0x11;               /* ET | PE */
		sregs.cr3 = 0;
		sregs.cr4 = 0;
		sregs.efer = 0;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return err_sys(err, "KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = e->rip;
	regs.rsi = e->rsi;
	regs.rbx = e->rbx;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return err_sys(err, "KVM_SET_REGS");

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return err_sys(err, "KVM_SET_FPU");
	return 0;
}

static void vcpu_trace(struct vcpu *v)
{
	const struct kvm_run *run = v->run;
	struct exit_record *e = &v->trace[v->trace_next++ % VCPU_TRACE_LEN];

	e->reason = run->exit_reason;
	e->addr = 0;
	e->len = 0;
	e->write = false;
	if (run->exit_reason == KVM_EXIT_IO) {
		e->addr = run->io.port;
		e->len = run->io.size;
		e->write = run->io.direction == KVM_EXIT_IO_OUT;
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		e->addr = run->mmio.phys_addr;
		e->len = run->mmio.len;
		e->write = run->mmio.is_write;
	}
}

/* The last exits, oldest first. */
static void vcpu_dump_trace(const struct vcpu *v)
{
	unsigned n = v->trace_next < VCPU_TRACE_LEN ? v->trace_next :
		     VCPU_TRACE_LEN;

	fprintf(stderr, " last %u exits (of %u), oldest first:\n", n,
		v->trace_next);
	for (unsigned i = v->trace_next - n; i != v->trace_next; i++) {
		const struct exit_record *e = &v->trace[i % VCPU_TRACE_LEN];

		if (e->reason == KVM_EXIT_IO)
			fprintf(stderr, "  io   %s port %#06llx size %u\n",
				e->write ? "out" : "in ",
				(unsigned long long)e->addr, e->len);
		else if (e->reason == KVM_EXIT_MMIO)
			fprintf(stderr, "  mmio %s %#llx size %u\n",
				e->write ? "write" : "read ",
				(unsigned long long)e->addr, e->len);
		else
			fprintf(stderr, "  exit reason %u\n", e->reason);
	}
}

/* why, the registers, the stack if asked, the last exits: one vCPU's dump
 * at a time on stderr. */
static void dump(struct vcpu *v, const char *why, bool stack)
{
	uint64_t rsp;

	pthread_mutex_lock(&v->vm->dump_lock);
	fprintf(stderr, "vessel: vCPU %u: %s\n", v->id, why);
	vcpu_dump_regs(v, &rsp);
	if (stack)
		vcpu_dump_stack(v, rsp);
	vcpu_dump_trace(v);
	pthread_mutex_unlock(&v->vm->dump_lock);
}

void vcpu_dump(struct vcpu *v, const char *why)
{
	if (v->vm->env.console)
		console_flush(v->vm->env.console);  /* what the guest said first */
	dump(v, why, false);
}

static void vcpu_crash(struct vcpu *v, const char *why)
{
	vcpu_dump(v, why);
	vm_request(v->vm, VM_EVENT_CRASH);
}

static void vcpu_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;

	/* The data area lies inside the kvm_run page KVM gave us. */
	for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size)
		bus_dispatch(&v->vm->pio, run->io.port, p, run->io.size, out);
	__atomic_add_fetch(&v->vm->stats.pio, 1, __ATOMIC_RELAXED);
}

/* Handle one exit; returns false when the vCPU must stop. */
static bool vcpu_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[160];

	__atomic_add_fetch(&v->vm->stats.exits, 1, __ATOMIC_RELAXED);
	vcpu_trace(v);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_io(v);
		return true;
	case KVM_EXIT_MMIO:
		bus_dispatch(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data,
			     run->mmio.len > 8 ? 8 : run->mmio.len,
			     run->mmio.is_write);
		__atomic_add_fetch(&v->vm->stats.mmio, 1, __ATOMIC_RELAXED);
		return true;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return true;
	case KVM_EXIT_SHUTDOWN:
		if (v->vm->core.on_triple_fault == ON_TRIPLE_FAULT_REBOOT) {
			vm_request(v->vm, VM_EVENT_REBOOT);
			return false;
		}
		pthread_mutex_lock(&v->vm->lock);
		v->vm->triple_fault = true;
		pthread_mutex_unlock(&v->vm->lock);
		vcpu_crash(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u",
			 run->internal.suberror);
		vcpu_crash(v, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_crash(v, why);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request(v->vm, VM_EVENT_POWEROFF);
		else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request(v->vm, VM_EVENT_REBOOT);
		else
			vcpu_crash(v, "system event: crash");
		return false;
	default:
		snprintf(why, sizeof(why), "unhandled KVM exit reason %u",
			 run->exit_reason);
		vcpu_crash(v, why);
		return false;
	}
}

/* KVM_RUN failed (errno): the run ends with that error. */
static void vcpu_run_failed(struct vcpu *v)
{
	pthread_mutex_lock(&v->vm->lock);
	if (v->vm->event == VM_EVENT_NONE)
		err_sys(&v->vm->event_err, "KVM_RUN (vCPU %u)", v->id);
	pthread_mutex_unlock(&v->vm->lock);
	vm_request(v->vm, VM_EVENT_ERROR);
}

/* With immediate_exit set, KVM_RUN finishes the pending exit (the RIP
 * advance, the value of an IN or MMIO read into the guest) and returns
 * EINTR before the guest runs. A string instruction (rep outs) may exit
 * again for its next part instead: that exit is handled and the loop goes
 * on; each round does part of the instruction. */
void vcpu_complete_io(struct vcpu *v)
{
	for (;;) {
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (ioctl(v->fd, KVM_RUN, 0) == 0) {
			if (vcpu_exit(v))
				continue;
			break;          /* the run is ending */
		}
		if (errno != EINTR && errno != EAGAIN)
			vcpu_run_failed(v);
		break;
	}
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	timeline_mark(MS_FIRST_KVM_RUN);
	while (!vm_stopping(v)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				/* vm_dump_vcpus asked; the guest goes on */
				if (__atomic_exchange_n(&v->dump, false, __ATOMIC_ACQ_REL))
					dump(v, "state on request (the guest runs on)", true);
				continue;
			}
			vcpu_run_failed(v);
			break;
		}
		if (!vcpu_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v, struct error *err)
{
	int e = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (e) {
		errno = e;
		return err_sys(err, "cannot start the thread of vCPU %u", v->id);
	}
	v->started = true;
	return 0;
}

void vm_dump_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		__atomic_store_n(&vm->vcpu[i].dump, true, __ATOMIC_RELEASE);
		vcpu_kick(&vm->vcpu[i]);
	}
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->vm->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

/* Creating, running and tearing down a VM. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>

#include "../boot/layout.h"
#include "../boot/loader.h"
#include "timeline.h"

#define TSS_ADDR          0xfffbd000ULL  /* 3 pages KVM needs on Intel */
#define IDENTITY_MAP_ADDR 0xfffbc000ULL

static void env_irq_init(struct device_env *env, struct irq_line *line, unsigned gsi)
{
	irq_line_init_gsi(line, ((struct vm *)env->vm)->vm_fd, gsi);
}

static void env_request(struct device_env *env, enum vm_event ev)
{
	vm_request(env->vm, ev);
}

static int env_ioeventfd(struct device_env *env, uint64_t addr, unsigned len,
			 int fd, bool assign, struct error *err)
{
	return ioeventfd_set(((struct vm *)env->vm)->vm_fd, addr, len, fd, false,
			     assign, err);
}

static bool vm_event_pending(struct vm *vm)
{
	return __atomic_load_n(&vm->event, __ATOMIC_ACQUIRE) != VM_EVENT_NONE;
}

/* Also the pause point: a vCPU thread of a paused VM parks here. */
bool vm_stopping(struct vm *vm)
{
	if (__atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&vm->lock);
		vm->parked++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->paused && vm->event == VM_EVENT_NONE)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->parked--;
		pthread_mutex_unlock(&vm->lock);
	}
	return vm_event_pending(vm);
}

/* Pause: kick every vCPU out of KVM_RUN and wait (briefly) until they
 * are all parked in vm_stopping(). Resume: wake them. */
static void vm_set_paused(struct vm *vm, bool pause)
{
	struct timespec until;

	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->paused, pause, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (!pause)
		return;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpu[i]);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&vm->lock);
	while (vm->parked < vm->nvcpus && vm->event == VM_EVENT_NONE)
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &until))
			break;  /* a vCPU stuck in a device: it parks later */
	pthread_mutex_unlock(&vm->lock);
}

void vm_request(struct vm *vm, enum vm_event ev)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->event == VM_EVENT_NONE)
		__atomic_store_n(&vm->event, ev, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpu[i]);
}

static int vm_kvm_open(struct vm *vm, struct error *err)
{
	int version;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return err_sys(err, "cannot open /dev/kvm (is KVM available and "
			       "are you in the kvm group?)");
	timeline_mark(MS_KVM_OPENED);
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION)
		return err_set(err, "/dev/kvm speaks API %d, vessel needs %d",
			       version, KVM_API_VERSION);
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0)
		return err_set(err, "KVM lacks the in-kernel irqchip or immediate_exit");
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && vm->cfg->vcpus > (unsigned)max)
		return err_set(err, "vcpus: %u requested, this KVM allows at most %d",
			       vm->cfg->vcpus, max);
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((long)vm->run_size <= 0)
		return err_sys(err, "KVM_GET_VCPU_MMAP_SIZE");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return err_sys(err, "KVM_CREATE_VM");
	return 0;
}

static int vm_platform(struct vm *vm, struct error *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_ADDR) < 0)
		return err_sys(err, "KVM_SET_TSS_ADDR");
	uint64_t idmap = IDENTITY_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0 && errno != EINVAL)
		return err_sys(err, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_sys(err, "KVM_CREATE_IRQCHIP");
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_sys(err, "KVM_CREATE_PIT2");
	return 0;
}

static int vm_map_memory(struct vm *vm, struct error *err)
{
	if (gmem_alloc(&vm->mem, vm->cfg->memory, err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = vm->mem.region[i].gpa,
			.memory_size = vm->mem.region[i].size,
			.userspace_addr = (uintptr_t)vm->mem.region[i].hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return err_sys(err, "KVM_SET_USER_MEMORY_REGION");
	}
	timeline_mark(MS_MEMORY_MAPPED);
	return 0;
}

static int vm_devices(struct vm *vm, struct error *err)
{
	if (msi_router_init(&vm->msi, vm->vm_fd, err) < 0)
		return -1;
	vm->msi_ready = true;
	if (pci_host_init(&vm->pci, &vm->pio, &vm->mmio, err) < 0)
		return err_prefix(err, "PCI host bridge");
	vm->pci_ready = true;
	for_each_device(d) {
		void *state = NULL;

		if (vm->ndev == VM_MAX_DEVICES)
			return err_set(err, "too many devices");
		if ((*d)->create(&vm->env, &state, err) < 0)
			return err_prefix(err, "device %s", (*d)->name);
		vm->dev[vm->ndev].ops = *d;
		vm->dev[vm->ndev].state = state;
		vm->ndev++;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct loop *loop,
	      struct console *console, struct error *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->nvcpus = cfg->vcpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->env = (struct device_env){
		.cfg = cfg, .pio = &vm->pio, .mmio = &vm->mmio, .mem = &vm->mem,
		.loop = loop, .console = console, .irq_init = env_irq_init,
		.request = env_request, .pci = &vm->pci, .msi = &vm->msi,
		.ioeventfd = env_ioeventfd, .vm = vm,
	};
	if (cfg->vcpus < 1 || cfg->vcpus > VM_MAX_VCPUS)
		return err_set(err, "vcpus: %u is out of range 1..%d", cfg->vcpus,
			       VM_MAX_VCPUS);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpu[i].fd = -1;
	if (vm_kvm_open(vm, err) < 0 || vm_platform(vm, err) < 0 ||
	    vm_map_memory(vm, err) < 0 ||
	    cpuid_get_supported(vm->kvm_fd, &vm->cpuid, err) < 0 ||
	    vm_devices(vm, err) < 0)
		return -1;
	if (boot_setup(&vm->mem, cfg, &vm->entry, err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_create(vm, i, err) < 0)
			return -1;
	return vcpu_setup_boot(&vm->vcpu[0], &vm->entry, err);
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		vcpu_join(&vm->vcpu[i]);
		if (vm->vcpu[i].vm)
			vcpu_destroy(&vm->vcpu[i]);
	}
	while (vm->ndev > 0) {
		vm->ndev--;
		vm->dev[vm->ndev].ops->destroy(vm->dev[vm->ndev].state);
	}
	if (vm->pci_ready)
		pci_host_destroy(&vm->pci);
	if (vm->msi_ready)
		msi_router_destroy(&vm->msi);
	free(vm->cpuid);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	gmem_free(&vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
}

/* What lives across reboots: the loop, the console, signal handling, and
 * the VM currently running (to stop it on a signal). */
struct runner {
	struct loop loop;
	struct console console;
	int sigfd;
	pthread_mutex_t lock;
	struct vm *vm;
	int stop_signal;        /* a signal asked us to stop */
	bool quit;              /* the console escape asked us to stop */
	bool ctl_stop;          /* vm_control_stop() asked us to stop */
	bool paused;            /* vm_control_pause(): applies to each boot */
	bool started;           /* vm_control's on_started was called */
	struct vm_control *ctl; /* optional */
};

static void runner_stop(struct runner *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->vm)
		vm_request(r->vm, VM_EVENT_STOP);
	pthread_mutex_unlock(&r->lock);
}

static void on_signal(struct loop *loop, int fd, uint32_t events, void *opaque)
{
	struct runner *r = opaque;
	struct signalfd_siginfo si;

	(void)loop;
	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	pthread_mutex_lock(&r->lock);
	if (!r->stop_signal)
		r->stop_signal = si.ssi_signo;
	pthread_mutex_unlock(&r->lock);
	runner_stop(r);
}

static void on_quit(void *opaque)
{
	struct runner *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->quit = true;
	pthread_mutex_unlock(&r->lock);
	runner_stop(r);
}

static bool runner_stopped(struct runner *r)
{
	bool s;

	pthread_mutex_lock(&r->lock);
	s = r->stop_signal || r->quit || r->ctl_stop;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void print_stats(const struct vm *vm)
{
	fprintf(stderr, "vessel: exits %llu pio %llu mmio %llu "
		"unclaimed_pio %llu unclaimed_mmio %llu\n",
		(unsigned long long)vm->stats.exits,
		(unsigned long long)vm->stats.pio,
		(unsigned long long)vm->stats.mmio,
		(unsigned long long)vm->pio.unclaimed,
		(unsigned long long)vm->mmio.unclaimed);
}

/* One boot of the machine. Returns the event that ended it, or -1. */
static int run_once(struct runner *r, const struct vm_config *cfg,
		    const struct vm_run_opts *opts, struct error *err)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	enum vm_event ev;

	if (!vm)
		return err_set(err, "out of memory");
	if (vm_create(vm, cfg, &r->loop, &r->console, err) < 0) {
		vm_destroy(vm);
		free(vm);
		return -1;
	}
	pthread_mutex_lock(&r->lock);
	r->vm = vm;
	vm->paused = r->paused;
	pthread_mutex_unlock(&r->lock);
	if (runner_stopped(r))
		vm_request(vm, VM_EVENT_STOP);
	for (unsigned i = 0; i < vm->nvcpus && !vm_event_pending(vm); i++) {
		if (vcpu_start(&vm->vcpu[i], &vm->event_err) < 0)
			vm_request(vm, VM_EVENT_ERROR);
	}
	if (r->ctl && !r->started && !vm_event_pending(vm)) {
		r->started = true;
		if (r->ctl->on_started)
			r->ctl->on_started(r->ctl->opaque);
	}

	pthread_mutex_lock(&vm->lock);
	while (vm->event == VM_EVENT_NONE)
		pthread_cond_wait(&vm->cond, &vm->lock);
	ev = vm->event;
	pthread_mutex_unlock(&vm->lock);

	pthread_mutex_lock(&r->lock);
	r->vm = NULL;
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpu[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpu[i]);
	if (opts->stats)
		print_stats(vm);
	if (ev == VM_EVENT_ERROR)
		*err = vm->event_err;
	vm_destroy(vm);
	free(vm);
	return ev == VM_EVENT_ERROR ? -1 : (int)ev;
}

static int runner_init(struct runner *r, sigset_t *old, const struct vm_run_opts *opts,
		       struct error *err)
{
	sigset_t set;

	memset(r, 0, sizeof(*r));
	r->sigfd = -1;
	pthread_mutex_init(&r->lock, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);       /* only vCPU threads take the kick */
	pthread_sigmask(SIG_BLOCK, &set, old);
	signal(SIGPIPE, SIG_IGN);
	vcpu_signals_init();
	sigdelset(&set, SIGUSR1);
	if (loop_init(&r->loop, err) < 0)
		return -1;
	r->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sigfd < 0)
		return err_sys(err, "signalfd");
	if (loop_add(&r->loop, r->sigfd, EPOLLIN, on_signal, r, err) < 0)
		return -1;
	if (console_open(&r->console, &r->loop, opts->in_fd, opts->out_fd, err) < 0)
		return -1;
	r->console.on_quit = on_quit;
	r->console.quit_opaque = r;
	return loop_start(&r->loop, err);
}

static void runner_fini(struct runner *r, const sigset_t *old)
{
	loop_stop(&r->loop);
	console_close(&r->console);
	if (r->sigfd >= 0)
		close(r->sigfd);
	loop_destroy(&r->loop);
	pthread_mutex_destroy(&r->lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

void vm_control_init(struct vm_control *c, void (*on_started)(void *opaque),
		     void *opaque)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->on_started = on_started;
	c->opaque = opaque;
}

void vm_control_destroy(struct vm_control *c)
{
	pthread_mutex_destroy(&c->lock);
}

/* Attach r to c (or detach, with r NULL); waits for a control call. */
static void runner_attach(struct runner *r, struct vm_control *c)
{
	if (!c)
		return;
	if (r)
		r->ctl = c;
	pthread_mutex_lock(&c->lock);
	c->runner = r;
	pthread_mutex_unlock(&c->lock);
}

/* Run fn on the attached runner with its lock held; -1 if none. */
static int control_call(struct vm_control *c,
			int (*fn)(struct runner *r, bool arg), bool arg)
{
	int ret = -1;

	pthread_mutex_lock(&c->lock);
	if (c->runner) {
		pthread_mutex_lock(&c->runner->lock);
		ret = fn(c->runner, arg);
		pthread_mutex_unlock(&c->runner->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

static int do_stop(struct runner *r, bool arg)
{
	(void)arg;
	r->ctl_stop = true;
	if (r->vm)
		vm_request(r->vm, VM_EVENT_STOP);
	return 0;
}

static int do_power_button(struct runner *r, bool arg)
{
	(void)arg;
	for (unsigned i = 0; r->vm && i < r->vm->ndev; i++)
		if (!strcmp(r->vm->dev[i].ops->name, "acpi-pm"))
			return pm_power_button(r->vm->dev[i].state) ? 1 : 0;
	return 0;       /* between two boots, or no PM device */
}

static int do_pause(struct runner *r, bool pause)
{
	r->paused = pause;
	if (r->vm)
		vm_set_paused(r->vm, pause);
	return 0;
}

int vm_control_stop(struct vm_control *c)
{
	return control_call(c, do_stop, false);
}

int vm_control_power_button(struct vm_control *c)
{
	return control_call(c, do_power_button, false);
}

int vm_control_pause(struct vm_control *c, bool pause)
{
	return control_call(c, do_pause, pause);
}

int vm_run(const struct vm_config *cfg, const struct vm_run_opts *opts,
	   struct vm_run_result *res, struct error *err)
{
	struct runner *r = calloc(1, sizeof(*r));
	sigset_t old;
	int ev, ret = 0;

	if (!r)
		return err_set(err, "out of memory");
	memset(res, 0, sizeof(*res));
	if (runner_init(r, &old, opts, err) < 0) {
		runner_fini(r, &old);
		free(r);
		return -1;
	}
	runner_attach(r, opts->control);
	for (;;) {
		ev = run_once(r, cfg, opts, err);
		res->boots++;
		if (ev < 0) {
			ret = -1;
			break;
		}
		if (ev == VM_EVENT_REBOOT && cfg->on_reboot == ON_REBOOT_RESTART &&
		    !runner_stopped(r))
			continue;
		switch (ev) {
		case VM_EVENT_POWEROFF:
			res->result = VM_RESULT_POWEROFF;
			break;
		case VM_EVENT_REBOOT:
			res->result = runner_stopped(r) ? VM_RESULT_STOPPED
							: VM_RESULT_REBOOT;
			break;
		case VM_EVENT_CRASH:
			res->result = VM_RESULT_CRASH;
			break;
		default:
			res->result = VM_RESULT_STOPPED;
			break;
		}
		break;
	}
	res->stop_signal = r->stop_signal;
	runner_attach(NULL, opts->control);
	runner_fini(r, &old);
	free(r);
	return ret;
}

/* The KVM core of a VM: /dev/kvm and the VM fd, guest RAM in memory
 * slots, MSI routing, vCPUs and the one VM state every thread looks at
 * (running, paused, or asked to end). The board on top of it (devices,
 * boot, pause with devices, snapshots) is vmm/machine/board.c. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "timeline.h"

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

bool vm_event_pending(struct vm *vm)
{
	return __atomic_load_n(&vm->event, __ATOMIC_ACQUIRE) != VM_EVENT_NONE;
}

/* Also the pause point: a vCPU thread of a paused VM parks here. It
 * completes its last exit first: a vCPU that left KVM_RUN on an I/O or
 * MMIO exit has KVM's half of the instruction still to do (the RIP
 * advance, the value read into RAX), done at the next KVM_RUN. Parked
 * without that, its registers are not final: a snapshot would save them
 * mid-instruction and the guest would run the access again on restore. */
bool vm_stopping(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (__atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE)) {
		vcpu_complete_io(v);
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

int vm_pause_vcpus(struct vm *vm, bool pause)
{
	struct timespec until;
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->paused, pause, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (!pause)
		return 0;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpu[i]);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&vm->lock);
	while (vm->parked < vm->nvcpus && vm->event == VM_EVENT_NONE)
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &until)) {
			r = -1;
			break;
		}
	pthread_mutex_unlock(&vm->lock);
	return r;
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
	if (max > 0 && vm->core.vcpus > (unsigned)max)
		return err_set(err, "vcpus: %u requested, this KVM allows at most %d",
			       vm->core.vcpus, max);
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((long)vm->run_size <= 0)
		return err_sys(err, "KVM_GET_VCPU_MMAP_SIZE");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return err_sys(err, "KVM_CREATE_VM");
	return 0;
}

static int set_slots(struct vm *vm, uint32_t flags, struct error *err)
{
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.flags = flags,
			.guest_phys_addr = vm->mem.region[i].gpa,
			.memory_size = vm->mem.region[i].size,
			.userspace_addr = (uintptr_t)vm->mem.region[i].hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return err_sys(err, "KVM_SET_USER_MEMORY_REGION");
	}
	return 0;
}

int vm_map_memory(struct vm *vm, struct error *err)
{
	if (set_slots(vm, 0, err) < 0)
		return -1;
	timeline_mark(MS_MEMORY_MAPPED);
	return 0;
}

int vm_dirty_log(struct vm *vm, bool on, struct error *err)
{
	return set_slots(vm, on ? KVM_MEM_LOG_DIRTY_PAGES : 0, err);
}

int vm_dirty_log_take(struct vm *vm, uint64_t *out, uint64_t *scratch,
		      struct error *err)
{
	uint64_t base = 0;	/* the region's first page in RAM-offset order */

	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		uint64_t pages = vm->mem.region[i].size / 4096;
		struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = scratch };

		memset(scratch, 0, (pages + 63) / 64 * 8);
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return err_sys(err, "KVM_GET_DIRTY_LOG");
		for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
			uint64_t v = scratch[w];

			if (!v)
				continue;
			if (base % 64 == 0) {
				out[base / 64 + w] |= v;
				continue;
			}
			for (unsigned b = 0; b < 64; b++)
				if (v >> b & 1) {
					uint64_t pg = base + w * 64 + b;

					out[pg / 64] |= 1ull << (pg % 64);
				}
		}
		base += pages;
	}
	return 0;
}

int vm_core_init(struct vm *vm, const struct vm_core_spec *core,
		 struct loop *loop, struct console *console, struct error *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->mem.fd = -1;
	vm->core = *core;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->nvcpus = core->vcpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->dump_lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->env = (struct device_env){
		.spec = &vm->devices, .pio = &vm->pio, .mmio = &vm->mmio, .mem = &vm->mem,
		.loop = loop, .console = console, .irq_init = env_irq_init,
		.request = env_request, .pci = &vm->pci, .msi = &vm->msi,
		.ioeventfd = env_ioeventfd, .vm = vm,
	};
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpu[i].fd = -1;
	if (core->vcpus < 1 || core->vcpus > VM_MAX_VCPUS)
		return err_set(err, "vcpus: %u is out of range 1..%d", core->vcpus,
			       VM_MAX_VCPUS);
	if (vm_kvm_open(vm, err) < 0 || vm_platform(vm, err) < 0 ||
	    cpuid_get_supported(vm->kvm_fd, &vm->cpuid, err) < 0 ||
	    msi_router_init(&vm->msi, vm->vm_fd, err) < 0)
		return -1;
	vm->msi_ready = true;
	return 0;
}

void vm_vcpus_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		vcpu_join(&vm->vcpu[i]);
		if (vm->vcpu[i].vm)
			vcpu_destroy(&vm->vcpu[i]);
	}
}

void vm_core_destroy(struct vm *vm)
{
	vm_vcpus_destroy(vm);
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
	pthread_mutex_destroy(&vm->dump_lock);
}

/* The board: the devices in their order, the boot (or a snapshot's
 * state), and pausing with the devices held still. Built on the KVM core
 * (vmm/vm.c). */
#include "machine.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "../../boot/loader.h"

static int vm_devices(struct vm *vm, struct error *err)
{
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

/* Devices hold still while the VM is paused: no request in flight, no
 * guest-memory or image writes, no interrupts. */
void vm_devices_quiesce(struct vm *vm, bool quiesce)
{
	if (vm->quiesced == quiesce)
		return;
	if (quiesce) {
		for (unsigned i = 0; i < vm->ndev; i++)
			if (vm->dev[i].ops->quiesce)
				vm->dev[i].ops->quiesce(vm->dev[i].state);
	} else {
		for (unsigned i = vm->ndev; i-- > 0;)
			if (vm->dev[i].ops->resume)
				vm->dev[i].ops->resume(vm->dev[i].state);
	}
	vm->quiesced = quiesce;
}

int vm_devices_handover(struct vm *vm, bool release, struct error *err)
{
	for (unsigned i = 0; i < vm->ndev; i++) {
		const struct device_ops *ops = vm->dev[i].ops;

		if (ops->handover && ops->handover(vm->dev[i].state, release, err) < 0) {
			err_prefix(err, "%s", ops->name);
			/* Leave them all as they were. */
			while (i-- > 0) {
				struct error e;

				ops = vm->dev[i].ops;
				if (ops->handover)
					ops->handover(vm->dev[i].state, !release, &e);
			}
			return -1;
		}
	}
	return 0;
}

/* Pause: every vCPU parked, then the devices quiesced. Resume: devices
 * first, then the vCPUs. -1 if a vCPU did not park within 5 s (stuck in a
 * device: it parks later; the devices are quiesced all the same). */
int vm_set_paused(struct vm *vm, bool pause)
{
	int r;

	if (!pause) {
		vm_devices_quiesce(vm, false);
		return vm_pause_vcpus(vm, false);
	}
	r = vm_pause_vcpus(vm, true);
	vm_devices_quiesce(vm, true);
	return r;
}

struct devices_spec machine_devices_spec(const struct machine_spec *m)
{
	return (struct devices_spec){
		.name = m->name, .disks = m->disks, .ndisks = m->ndisks,
		.nets = m->nets, .nnets = m->nnets, .rng = m->rng,
		.rng_slot = m->rng_slot,
	};
}

/* RAM of a migration's destination: the memory file the pages arrive in,
 * mapped private (a page the guest has not written reads the file). */
static int map_incoming(struct vm *vm, const struct vm_incoming *in,
			struct error *err)
{
	int fd = fcntl(in->mem_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return err_sys(err, "the memory file");
	return gmem_map_file(&vm->mem, in->ram_size, fd, err);
}

/* vm_create's board; kernel: the kernel file, opened, for a boot. */
static int create(struct vm *vm, const struct machine_spec *cfg,
		  const struct boot_spec *boot, struct boot_kernel *kernel,
		  struct vm_snapshot *snap, const struct vm_incoming *incoming,
		  struct loop *loop, struct console *console, struct error *err)
{
	const struct vm_core_spec core = {
		.vcpus = cfg->vcpus, .on_triple_fault = cfg->on_triple_fault,
	};
	int r;

	if (vm_core_init(vm, &core, loop, console, err) < 0)
		return -1;
	vm->devices = machine_devices_spec(cfg);
	vm->devices.incoming = incoming != NULL;
	if (cfg->ndisks) {
		vm->disk_dirty = calloc(cfg->ndisks, sizeof(*vm->disk_dirty));
		if (!vm->disk_dirty)
			return err_set(err, "out of memory");
		for (size_t i = 0; i < cfg->ndisks; i++)
			blk_dirty_init(&vm->disk_dirty[i]);
		vm->devices.disk_dirty = vm->disk_dirty;
		vm->disk_cbw = calloc(cfg->ndisks, sizeof(*vm->disk_cbw));
		if (!vm->disk_cbw)
			return err_set(err, "out of memory");
		for (size_t i = 0; i < cfg->ndisks; i++)
			blk_cbw_init(&vm->disk_cbw[i]);
		vm->devices.disk_cbw = vm->disk_cbw;
		vm->disk_cbt = calloc(cfg->ndisks, sizeof(*vm->disk_cbt));
		if (!vm->disk_cbt)
			return err_set(err, "out of memory");
		vm->devices.disk_cbt = vm->disk_cbt;
	}
	r = incoming ? map_incoming(vm, incoming, err)
		: snap ? vm_snapshot_map_memory(snap, vm, err)
		: gmem_alloc(&vm->mem, cfg->memory, err);
	if (r < 0 || vm_map_memory(vm, err) < 0 || vm_devices(vm, err) < 0)
		return -1;
	if (snap || incoming) {
		/* Devices hold still until the vCPUs run again. */
		vm_devices_quiesce(vm, true);
		for (unsigned i = 0; i < vm->nvcpus; i++)
			if (vcpu_create(vm, i, err) < 0)
				return -1;
		/* All that could be made early is: the rest of the
		 * migration decides. The source has let go of the disks. */
		if (incoming &&
		    (incoming->await(incoming->opaque, &snap, err) < 0 ||
		     vm_devices_handover(vm, false, err) < 0))
			return -1;
		if (vm_snapshot_load(snap, vm, err) < 0)
			return -1;
		vm_devices_quiesce(vm, false);
		return 0;
	}
	if (boot_setup(&vm->mem, boot, kernel, &vm->entry, err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_create(vm, i, err) < 0)
			return -1;
	return vcpu_setup_boot(&vm->vcpu[0], &vm->entry, err);
}

int vm_create(struct vm *vm, const struct machine_spec *cfg,
	      struct vm_snapshot *snap, const struct vm_incoming *incoming,
	      struct loop *loop, struct console *console, struct error *err)
{
	const struct boot_spec boot = {
		.kernel = cfg->kernel, .initrd = cfg->initrd,
		.cmdline = cfg->cmdline, .cmdline_auto = cfg->cmdline_auto,
		.vcpus = cfg->vcpus,
		.kernel_cache = cfg->kernel_cache,
		.ram_zeroed = true,     /* boot_setup runs on a fresh gmem_alloc */
	};
	struct boot_kernel *kernel = NULL;
	int r;

	/* A boot reads its kernel first: a cached one's checksum then runs
	 * while KVM creates the VM and its memory (#18). */
	if (!snap && !incoming && !(kernel = boot_kernel_open(&boot, err)))
		return -1;
	r = create(vm, cfg, &boot, kernel, snap, incoming, loop, console, err);
	boot_kernel_close(kernel);
	return r;
}

void vm_destroy(struct vm *vm)
{
	vm_vcpus_destroy(vm);
	while (vm->ndev > 0) {
		vm->ndev--;
		vm->dev[vm->ndev].ops->destroy(vm->dev[vm->ndev].state);
	}
	if (vm->pci_ready)
		pci_host_destroy(&vm->pci);
	for (size_t i = 0; vm->disk_dirty && i < vm->devices.ndisks; i++)
		blk_dirty_destroy(&vm->disk_dirty[i]);
	free(vm->disk_dirty);
	vm->disk_dirty = NULL;
	for (size_t i = 0; vm->disk_cbw && i < vm->devices.ndisks; i++)
		blk_cbw_destroy(&vm->disk_cbw[i]);
	free(vm->disk_cbw);
	vm->disk_cbw = NULL;
	free(vm->disk_cbt);
	vm->disk_cbt = NULL;
	vm_core_destroy(vm);
}

bool vm_power_button(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndev; i++)
		if (!strcmp(vm->dev[i].ops->name, "acpi-pm"))
			return pm_power_button(vm->dev[i].state);
	return false;
}

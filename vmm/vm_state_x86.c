/* The x86 VM-wide state KVM keeps in the kernel, for snapshots:
 *
 *   "vm.clock"    v1: struct kvm_clock_data (KVM_GET_CLOCK)
 *   "vm.pit"      v1: struct kvm_pit_state2 (KVM_GET_PIT2)
 *   "vm.irqchip"  v1: struct kvm_irqchip for the PIC master, the PIC
 *                 slave and the IOAPIC, in that order
 *
 * each struct a length-checked blob (state_blob.h). Restored before the
 * vCPUs (their kvmclock MSRs and LAPICs come after the VM's clock and
 * interrupt controllers).
 *
 * The clock: the guest's kvmclock goes on from the value saved, as if the
 * guest had been paused all the while it lay on disk: time in the guest
 * is continuous and monotonic, and agrees with its TSC, which the vCPUs'
 * MSRs restore to the saved value too. The guest's wall clock is behind by
 * the time the snapshot was not running (NTP, or the guest's own clock
 * sync, catches up), the same as after `vessel pause` of that long would
 * not be (pause lets guest time run). KVM_CLOCK_REALTIME would instead
 * jump the clock by the host time that passed; vessel does not ask that. */
#include "vm.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "state_blob.h"

#define VM_STATE_VERSION 1

static const struct {
	uint32_t id;
	const char *name;
} chips[] = {
	{ KVM_IRQCHIP_PIC_MASTER, "PIC master" },
	{ KVM_IRQCHIP_PIC_SLAVE, "PIC slave" },
	{ KVM_IRQCHIP_IOAPIC, "IOAPIC" },
};

#define NCHIPS (sizeof(chips) / sizeof(chips[0]))

int vm_state_save(struct vm *vm, struct vmstate_writer *w, struct error *err)
{
	struct kvm_clock_data clock;
	struct kvm_pit_state2 pit;
	struct kvm_irqchip chip[NCHIPS];

	memset(&clock, 0, sizeof(clock));
	memset(&pit, 0, sizeof(pit));
	memset(chip, 0, sizeof(chip));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return err_sys(err, "KVM_GET_CLOCK");
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return err_sys(err, "KVM_GET_PIT2");
	for (unsigned i = 0; i < NCHIPS; i++) {
		chip[i].chip_id = chips[i].id;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip[i]) < 0)
			return err_sys(err, "KVM_GET_IRQCHIP (%s)", chips[i].name);
	}
	vmstate_begin(w, "vm.clock", VM_STATE_VERSION);
	blob_put(w, &clock, sizeof(clock));
	vmstate_end(w);
	vmstate_begin(w, "vm.pit", VM_STATE_VERSION);
	blob_put(w, &pit, sizeof(pit));
	vmstate_end(w);
	vmstate_begin(w, "vm.irqchip", VM_STATE_VERSION);
	for (unsigned i = 0; i < NCHIPS; i++)
		blob_put(w, &chip[i], sizeof(chip[i]));
	vmstate_end(w);
	return 0;
}

/* Find section id (of a version this vessel reads) for reading. */
static int section(const struct vmstate_reader *r, const char *id,
		   struct vmstate_section *s, struct error *err)
{
	if (vmstate_find(r, id, s, err) < 0 ||
	    vmstate_check_version(s, VM_STATE_VERSION, err) < 0)
		return -1;
	return 0;
}

/* A saved struct KVM refuses (EINVAL) is bad input. */
static int vm_set(struct vm *vm, unsigned long req, const char *name, void *p,
		  struct error *err)
{
	if (ioctl(vm->vm_fd, req, p) == 0)
		return 0;
	if (errno == EINVAL)
		return err_input(err, "KVM refuses the saved %s (%s)", name,
				 strerror(errno));
	return err_sys(err, "restoring the %s", name);
}

int vm_state_restore(struct vm *vm, const struct vmstate_reader *r,
		     struct error *err)
{
	struct vmstate_section s;
	struct kvm_clock_data clock;
	struct kvm_pit_state2 pit;
	struct kvm_irqchip chip[NCHIPS];

	/* Parse all three first: nothing is set from a bad file. */
	if (section(r, "vm.clock", &s, err) < 0 ||
	    blob_get(&s, "clock", &clock, sizeof(clock), err) < 0 ||
	    blob_end(&s, err) < 0)
		return -1;
	if (section(r, "vm.pit", &s, err) < 0 ||
	    blob_get(&s, "PIT", &pit, sizeof(pit), err) < 0 || blob_end(&s, err) < 0)
		return -1;
	if (section(r, "vm.irqchip", &s, err) < 0)
		return -1;
	for (unsigned i = 0; i < NCHIPS; i++) {
		if (blob_get(&s, chips[i].name, &chip[i], sizeof(chip[i]), err) < 0)
			return -1;
		if (chip[i].chip_id != chips[i].id)
			return err_input(err, "vm.irqchip: chip %u where the %s "
					 "belongs", chip[i].chip_id, chips[i].name);
	}
	if (blob_end(&s, err) < 0)
		return -1;

	/* The saved clock value itself: no KVM_CLOCK_REALTIME adjustment. */
	clock.flags = 0;
	memset(clock.pad, 0, sizeof(clock.pad));
	clock.pad0 = 0;
	if (vm_set(vm, KVM_SET_CLOCK, "kvmclock", &clock, err) < 0 ||
	    vm_set(vm, KVM_SET_PIT2, "PIT", &pit, err) < 0)
		return -1;
	for (unsigned i = 0; i < NCHIPS; i++)
		if (vm_set(vm, KVM_SET_IRQCHIP, chips[i].name, &chip[i], err) < 0)
			return -1;
	return 0;
}

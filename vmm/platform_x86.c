/* The x86 platform KVM provides in the kernel: the TSS and identity map
 * that VMX needs, the irqchip (PIC, IOAPIC, LAPICs) and the PIT. */
#include "vm.h"

#include <errno.h>
#include <sys/ioctl.h>

#define TSS_ADDR          0xfffbd000ULL  /* 3 pages KVM needs on Intel */
#define IDENTITY_MAP_ADDR 0xfffbc000ULL

int vm_platform(struct vm *vm, struct error *err)
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


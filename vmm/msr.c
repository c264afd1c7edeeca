/* The MSRs Linux expects a firmware to have set, and a TSC of 0 on every
 * vCPU so that they start in sync. */
#include "vm.h"

#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_TSC            0x00000010
#define MSR_IA32_SYSENTER_CS    0x00000174
#define MSR_IA32_SYSENTER_ESP   0x00000175
#define MSR_IA32_SYSENTER_EIP   0x00000176
#define MSR_IA32_MISC_ENABLE    0x000001a0
#define MSR_MTRR_DEF_TYPE       0x000002ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE             (1 << 11)
#define MTRR_TYPE_WB            6

int msr_setup(int vcpu_fd, struct error *err)
{
	static const struct { uint32_t index; uint64_t data; } want[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB },
	};
	const unsigned n = sizeof(want) / sizeof(want[0]);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[sizeof(want) / sizeof(want[0])];
	} msrs;
	int ret;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs.e[i].index = want[i].index;
		msrs.e[i].data = want[i].data;
	}
	ret = ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (ret < 0)
		return err_sys(err, "KVM_SET_MSRS");
	if ((unsigned)ret != n)
		return err_set(err, "KVM_SET_MSRS: KVM refused MSR 0x%x",
			       want[ret].index);
	return 0;
}

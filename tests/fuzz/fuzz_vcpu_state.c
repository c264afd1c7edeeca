/* libFuzzer target: the "vcpu.N" section reader of vmm/vcpu_state_x86.c
 * (its blobs and their lengths), then the checks made before anything
 * reaches KVM: the vcpu event flags and the CPUID against a host's. The
 * input is the section's payload. */
#include "../../vmm/vcpu_state_x86.c"

/* A host CPUID: AMD, a few leaf 1 and leaf 7 features. */
static struct kvm_cpuid2 *host_cpuid(void)
{
	static struct kvm_cpuid2 *c;

	if (!c) {
		c = cpuid_alloc(3);
		if (!c)
			__builtin_trap();
		c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd,
			.ebx = 0x68747541, .edx = 0x69746e65, .ecx = 0x444d4163 };
		c->entries[1] = (struct kvm_cpuid_entry2){ .function = 1,
			.ecx = 0xf6d8320b, .edx = 0x178bfbff };
		c->entries[2] = (struct kvm_cpuid_entry2){ .function = 7,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0x009c01a9 };
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmstate_section s = { .id = "vcpu.0", .version = 1, .data = data,
				     .len = size };
	struct vcpu v = { .id = 0 };
	struct vcpu_image im;
	struct error err;

	memset(&im, 0, sizeof(im));
	if (parse(&s, 8192, &im, &err) == 0) {
		if (!im.cpuid || !im.xsave || im.xsave_len != 8192 ||
		    im.nmsrs > MSR_MAX)
			__builtin_trap();
		check_events(&v, &im.events, &err);
		cpuid_check_compatible(im.cpuid, host_cpuid(), &err);
	}
	image_free(&im);
	return 0;
}

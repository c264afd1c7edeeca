/* cpuid_check_compatible: is a saved guest CPUID served by this host? */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../vmm/vm.h"

/* A small CPUID: vendor leaf, leaf 1, leaf 7.0 and 7.1 (indexed), the
 * extended leaf 0x80000001. */
static struct kvm_cpuid2 *make(const char *vendor)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 5 * sizeof(c->entries[0]));
	struct kvm_cpuid_entry2 *e;

	assert_non_null(c);
	c->nent = 5;
	e = c->entries;
	e[0].function = 0;
	e[0].eax = 0xd;
	memcpy(&e[0].ebx, vendor, 4);
	memcpy(&e[0].edx, vendor + 4, 4);
	memcpy(&e[0].ecx, vendor + 8, 4);
	e[1].function = 1;
	e[1].ecx = 0x00000201;
	e[1].edx = 0x00000011;
	e[2].function = 7;
	e[2].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e[2].ebx = 0x00000009;
	e[3].function = 7;
	e[3].index = 1;
	e[3].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e[3].eax = 0x10;
	e[4].function = 0x80000001;
	e[4].edx = 0x20000000;
	return c;
}

static void test_same_is_compatible(void **st)
{
	struct kvm_cpuid2 *g = make("AuthenticAMD"), *h = make("AuthenticAMD");
	struct error err;

	(void)st;
	assert_int_equal(cpuid_check_compatible(g, h, &err), 0);
	/* Fewer features in the guest is fine */
	g->entries[2].ebx = 0x1;
	assert_int_equal(cpuid_check_compatible(g, h, &err), 0);
	free(g);
	free(h);
}

static void test_missing_feature(void **st)
{
	struct kvm_cpuid2 *g = make("AuthenticAMD"), *h = make("AuthenticAMD");
	struct error err;

	(void)st;
	g->entries[2].ebx |= 0x100;
	assert_int_equal(cpuid_check_compatible(g, h, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "leaf 0x7 subleaf 0 EBX"));
	assert_non_null(strstr(err.msg, "0x00000100"));
	/* Subleaf 1 is matched by its index, not taken for subleaf 0 */
	g->entries[2].ebx = h->entries[2].ebx;
	g->entries[3].eax |= 0x4;
	assert_int_equal(cpuid_check_compatible(g, h, &err), -1);
	assert_non_null(strstr(err.msg, "leaf 0x7 subleaf 1 EAX"));
	/* A leaf the host lacks entirely: all its feature bits are missing */
	g->entries[3].eax = h->entries[3].eax;
	h->entries[4].function = 0x80000000;
	assert_int_equal(cpuid_check_compatible(g, h, &err), -1);
	assert_non_null(strstr(err.msg, "leaf 0x80000001 subleaf 0 EDX"));
	free(g);
	free(h);
}

/* Bits that follow guest state (OSXSAVE, the APIC enable) or that vessel
 * sets itself (hypervisor, HTT) are not host features. */
static void test_runtime_bits_ignored(void **st)
{
	struct kvm_cpuid2 *g = make("GenuineIntel"), *h = make("GenuineIntel");
	struct error err;

	(void)st;
	g->entries[1].ecx |= (1u << 27) | (1u << 31);
	g->entries[1].edx |= (1u << 9) | (1u << 28);
	h->entries[1].edx &= ~(1u << 9);
	assert_int_equal(cpuid_check_compatible(g, h, &err), 0);
	free(g);
	free(h);
}

static void test_other_vendor(void **st)
{
	struct kvm_cpuid2 *g = make("GenuineIntel"), *h = make("AuthenticAMD");
	struct error err;

	(void)st;
	assert_int_equal(cpuid_check_compatible(g, h, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "GenuineIntel"));
	assert_non_null(strstr(err.msg, "AuthenticAMD"));
	free(g);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_is_compatible),
		cmocka_unit_test(test_missing_feature),
		cmocka_unit_test(test_runtime_bits_ignored),
		cmocka_unit_test(test_other_vendor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

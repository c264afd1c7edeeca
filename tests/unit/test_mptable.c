/* MP tables: built over fake guest memory, found by scanning like an OS and
 * checked from raw bytes at the MP spec 1.4 offsets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../boot/layout.h"
#include "../../boot/mptable.h"

#define FAKE_RAM	(1ULL << 20)
#define GARBAGE		0xa5

struct vm {
	uint8_t *ram;
	uint64_t size;
	struct gmem m;
};

static void vm_init(struct vm *v, uint64_t size)
{
	v->ram = malloc(size);	/* exactly size: ASan catches overruns */
	assert_non_null(v->ram);
	memset(v->ram, GARBAGE, size);
	v->size = size;
	gmem_init_fake(&v->m, v->ram, size);
}

static void vm_free(struct vm *v)
{
	free(v->ram);
}

static const uint8_t *gp(const struct vm *v, uint64_t gpa, size_t len)
{
	const uint8_t *p = gmem_ptr(&v->m, gpa, len);

	assert_non_null(p);
	return p;
}

static uint16_t rd16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t rd32(const uint8_t *p)
{
	return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* Find the floating pointer where an OS looks in the last KiB of base
 * memory (16-byte boundaries); returns the config table's address. */
static uint64_t find_mpf(const struct vm *v)
{
	uint64_t mpf = 0, physptr;
	unsigned found = 0;
	const uint8_t *p;

	for (uint64_t a = 639 * 1024; a < 640 * 1024; a += 16)
		if (!memcmp(gp(v, a, 4), "_MP_", 4)) {
			mpf = a;
			found++;
		}
	assert_int_equal(found, 1);
	assert_int_equal(mpf, MPTABLE_ADDR);
	p = gp(v, mpf, 16);
	assert_int_equal(p[8], 1);		/* length: 16 bytes */
	assert_int_equal(p[9], 4);		/* spec 1.4 */
	assert_int_equal(sum8(p, 16), 0);
	assert_int_equal(p[11], 0);		/* feature 1: table present */
	assert_int_equal(p[12] & 0x80, 0);	/* no IMCR: virtual wire */
	physptr = rd32(p + 4);
	assert_int_not_equal(physptr, 0);
	/* The configuration table must not overlap the pointer */
	assert_true(physptr >= mpf + 16 || physptr + 44 <= mpf);
	return physptr;
}

static void check_mptable(unsigned ncpus)
{
	uint8_t seen_cpu[256] = { 0 }, seen_pin[24] = { 0 };
	int irq_pin[16];
	unsigned cpus = 0, bsps = 0, buses = 0, ioapics = 0, intsrcs = 0;
	unsigned entries = 0, extint_lint0 = 0, nmi_lint1 = 0, lints = 0;
	uint8_t last_type = 0;
	uint64_t mpc;
	const uint8_t *p;
	uint16_t len;
	size_t off;
	struct error err;
	struct vm v;

	vm_init(&v, FAKE_RAM);
	if (mptable_build(&v.m, ncpus, &err) < 0)
		fail_msg("mptable_build(%u): %s", ncpus, err.msg);
	mpc = find_mpf(&v);

	p = gp(&v, mpc, 44);
	assert_memory_equal(p, "PCMP", 4);
	len = rd16(p + 4);
	assert_true(len >= 44);
	assert_true(mpc + len <= ACPI_TABLES_ADDR);
	assert_int_equal(MPTABLE_ADDR + mptable_size(ncpus), mpc + len);
	assert_int_equal(p[6], 4);			/* spec 1.4 */
	assert_int_equal(rd32(p + 36), LAPIC_ADDR);
	assert_int_equal(rd16(p + 40), 0);		/* no extended table */
	p = gp(&v, mpc, len);
	assert_int_equal(sum8(p, len), 0);

	for (int i = 0; i < 16; i++)
		irq_pin[i] = -1;
	for (off = 44; off < len; entries++) {
		const uint8_t *e = p + off;
		size_t elen = e[0] == 0 ? 20 : 8;

		assert_true(off + elen <= len);
		/* Entries come sorted by type */
		assert_true(e[0] >= last_type);
		last_type = e[0];
		switch (e[0]) {
		case 0:		/* processor */
			cpus++;
			assert_int_equal(e[3] & 1, 1);		/* enabled */
			assert_true(e[1] < ncpus);
			assert_int_equal(seen_cpu[e[1]], 0);
			seen_cpu[e[1]] = 1;
			assert_true(e[2] & 0xf0);		/* integrated */
			if (e[3] & 2) {
				bsps++;
				assert_int_equal(e[1], 0);
			}
			break;
		case 1:		/* bus */
			buses++;
			assert_int_equal(e[1], 0);
			assert_memory_equal(e + 2, "ISA   ", 6);
			break;
		case 2:		/* I/O APIC */
			ioapics++;
			assert_int_equal(e[1], ncpus);
			assert_int_equal(e[3] & 1, 1);		/* enabled */
			assert_int_equal(rd32(e + 4), IOAPIC_ADDR);
			break;
		case 3:		/* I/O interrupt assignment */
			intsrcs++;
			assert_int_equal(e[1], 0);		/* INT */
			assert_int_equal(e[4], 0);		/* ISA bus */
			assert_true(e[5] < 16);
			assert_int_equal(irq_pin[e[5]], -1);
			irq_pin[e[5]] = e[7];
			assert_int_equal(e[6], ncpus);		/* IOAPIC id */
			assert_true(e[7] < 24);
			assert_int_equal(seen_pin[e[7]], 0);
			seen_pin[e[7]] = 1;
			break;
		case 4:		/* local interrupt assignment */
			lints++;
			assert_int_equal(e[6], 0xff);		/* all LAPICs */
			if (e[1] == 3 && e[7] == 0)
				extint_lint0++;
			else if (e[1] == 1 && e[7] == 1)
				nmi_lint1++;
			else
				fail_msg("unexpected local interrupt %u on LINT%u",
					 e[1], e[7]);
			break;
		default:
			fail_msg("unknown MP entry type %u", e[0]);
		}
		off += elen;
	}
	assert_int_equal(off, len);
	assert_int_equal(rd16(p + 34), entries);		/* entry count */
	assert_int_equal(cpus, ncpus);
	assert_int_equal(bsps, 1);
	assert_int_equal(buses, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(intsrcs, 15);
	assert_int_equal(lints, 2);
	assert_int_equal(extint_lint0, 1);
	assert_int_equal(nmi_lint1, 1);
	assert_int_equal(entries, ncpus + 1 + 1 + 15 + 2);
	assert_int_equal(irq_pin[0], 2);
	assert_int_equal(irq_pin[2], -1);
	for (int i = 1; i < 16; i++)
		if (i != 2)
			assert_int_equal(irq_pin[i], i);
	/* Nothing written outside the tables */
	assert_int_equal(gp(&v, MPTABLE_ADDR - 1, 1)[0], GARBAGE);
	assert_int_equal(gp(&v, mpc + len, 1)[0], GARBAGE);
	vm_free(&v);
}

static void test_mptable_1(void **state)
{
	(void)state;
	check_mptable(1);
}

static void test_mptable_4(void **state)
{
	(void)state;
	check_mptable(4);
}

static void test_mptable_255(void **state)
{
	(void)state;
	check_mptable(255);
}

static void test_bad_ncpus(void **state)
{
	static const unsigned bad[] = { 0, MPTABLE_MAX_CPUS + 1, 100000 };
	struct error err;
	struct vm v;

	(void)state;
	vm_init(&v, FAKE_RAM);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		assert_int_equal(mptable_build(&v.m, bad[i], &err), -1);
		assert_non_null(strstr(err.msg, "vCPUs"));
	}
	for (uint64_t a = 0; a < v.size; a++)
		assert_int_equal(v.ram[a], GARBAGE);
	vm_free(&v);
}

static void expect_fail(uint64_t ram, unsigned ncpus)
{
	struct error err;
	struct vm v;

	vm_init(&v, ram);
	err.msg[0] = '\0';
	assert_int_equal(mptable_build(&v.m, ncpus, &err), -1);
	assert_non_null(strstr(err.msg, "outside guest RAM"));
	for (uint64_t a = 0; a < v.size; a++)
		if (v.ram[a] != GARBAGE)
			fail_msg("RAM 0x%llx, %u vCPUs: wrote at 0x%llx",
				 (unsigned long long)ram, ncpus,
				 (unsigned long long)a);
	vm_free(&v);
}

static void test_small_ram(void **state)
{
	struct error err;
	struct vm v;

	(void)state;
	expect_fail(0x1000, 1);
	expect_fail(MPTABLE_ADDR, 1);
	expect_fail(MPTABLE_ADDR + 8, 1);
	expect_fail(MPTABLE_ADDR + mptable_size(1) - 1, 1);
	/* 255 vCPUs do not fit in the EBDA's 1 KiB alone */
	assert_true(mptable_size(255) > 1024);
	expect_fail(0xa0000, 255);
	/* Exactly enough RAM */
	vm_init(&v, MPTABLE_ADDR + mptable_size(1));
	assert_int_equal(mptable_build(&v.m, 1, &err), 0);
	vm_free(&v);
	vm_init(&v, 0xa0000);
	assert_true(mptable_size(1) <= 0xa0000 - MPTABLE_ADDR);
	assert_int_equal(mptable_build(&v.m, 1, &err), 0);
	vm_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mptable_1),
		cmocka_unit_test(test_mptable_4),
		cmocka_unit_test(test_mptable_255),
		cmocka_unit_test(test_bad_ncpus),
		cmocka_unit_test(test_small_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

#include "../../boot/acpi.h"
#include "../../boot/layout.h"
#include "../../boot/mptable.h"
#include "fake_tables.h"

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
	physptr = le32(p + 4);
	assert_int_not_equal(physptr, 0);
	/* The configuration table must not overlap the pointer */
	assert_true(physptr >= mpf + 16 || physptr + 44 <= mpf);
	return physptr;
}

/* Walk every entry of the tables for ncpus vCPUs, with or without PCI. */
static void check_mptable(unsigned ncpus, bool pci)
{
	uint8_t seen_cpu[256] = { 0 }, seen_pin[24] = { 0 };
	int irq_pin[16], pci_pin[32][4];
	unsigned cpus = 0, bsps = 0, buses = 0, ioapics = 0, intsrcs = 0;
	unsigned entries = 0, extint_lint0 = 0, nmi_lint1 = 0, lints = 0;
	unsigned pcisrcs = 0;
	int isa_bus = -1, pci_bus = -1;
	uint8_t last_type = 0;
	uint64_t mpc;
	const uint8_t *p;
	uint16_t len;
	size_t off;
	struct error err;
	struct vm v;

	vm_init(&v, FAKE_RAM);
	if (mptable_build(&v.m, ncpus, pci, &err) < 0)
		fail_msg("mptable_build(%u, %d): %s", ncpus, pci, err.msg);
	mpc = find_mpf(&v);

	p = gp(&v, mpc, 44);
	assert_memory_equal(p, "PCMP", 4);
	len = le16(p + 4);
	assert_true(len >= 44);
	assert_true(mpc + len <= ACPI_TABLES_ADDR);
	assert_int_equal(MPTABLE_ADDR + mptable_size(ncpus, pci), mpc + len);
	assert_int_equal(p[6], 4);			/* spec 1.4 */
	assert_int_equal(le32(p + 36), LAPIC_ADDR);
	assert_int_equal(le16(p + 40), 0);		/* no extended table */
	p = gp(&v, mpc, len);
	assert_int_equal(sum8(p, len), 0);

	for (int i = 0; i < 16; i++)
		irq_pin[i] = -1;
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 4; j++)
			pci_pin[i][j] = -1;
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
			if (!memcmp(e + 2, "ISA   ", 6)) {
				assert_int_equal(isa_bus, -1);
				isa_bus = e[1];
			} else if (!memcmp(e + 2, "PCI   ", 6)) {
				assert_int_equal(pci_bus, -1);
				pci_bus = e[1];
			} else {
				fail_msg("unexpected bus \"%.6s\"", e + 2);
			}
			break;
		case 2:		/* I/O APIC */
			ioapics++;
			assert_int_equal(e[1], ncpus);
			assert_int_equal(e[3] & 1, 1);		/* enabled */
			assert_int_equal(le32(e + 4), IOAPIC_ADDR);
			break;
		case 3:		/* I/O interrupt assignment */
			assert_int_equal(e[1], 0);		/* INT */
			assert_int_equal(e[6], ncpus);		/* IOAPIC id */
			assert_true(e[7] < 24);
			if (pci_bus >= 0 && e[4] == pci_bus) {
				/* device in bits 6:2, INTA..D in 1:0 */
				unsigned slot = e[5] >> 2, pin = e[5] & 3;

				pcisrcs++;
				assert_int_equal(e[5] & 0x80, 0);
				assert_int_equal(pci_pin[slot][pin], -1);
				pci_pin[slot][pin] = e[7];
				/* level, active low */
				assert_int_equal(le16(e + 2), 0x0f);
				break;
			}
			intsrcs++;
			assert_int_equal(e[4], isa_bus);
			assert_int_equal(le16(e + 2), 0);	/* conforms */
			assert_true(e[5] < 16);
			assert_int_equal(irq_pin[e[5]], -1);
			irq_pin[e[5]] = e[7];
			/* ISA pins are not shared */
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
	assert_int_equal(le16(p + 34), entries);		/* entry count */
	assert_int_equal(cpus, ncpus);
	assert_int_equal(bsps, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(intsrcs, 15);
	assert_int_equal(lints, 2);
	assert_int_equal(extint_lint0, 1);
	assert_int_equal(nmi_lint1, 1);
	assert_int_equal(irq_pin[0], 2);
	assert_int_equal(irq_pin[2], -1);
	for (int i = 1; i < 16; i++)
		if (i != 2)
			assert_int_equal(irq_pin[i], i);
	if (pci) {
		/* An MP bus id for PCI is the PCI bus number */
		assert_int_equal(pci_bus, PCI_BUS_START);
		assert_int_not_equal(isa_bus, -1);
		assert_int_not_equal(isa_bus, pci_bus);
		assert_int_equal(buses, 2);
		assert_int_equal(pcisrcs, 31 * 4);
		/* Slot 0, the host bridge, has no INTx; the others as the
		 * ACPI _PRT, on pins no ISA IRQ uses */
		for (int slot = 0; slot < 32; slot++)
			for (int pin = 0; pin < 4; pin++) {
				int want = slot ? 16 + (slot + pin) % 4 : -1;

				assert_int_equal(pci_pin[slot][pin], want);
				if (slot)
					assert_int_equal(want,
							 ACPI_PCI_INTX_GSI(slot, pin));
			}
		for (int pin = 16; pin < 20; pin++)
			assert_int_equal(seen_pin[pin], 0);
	} else {
		assert_int_equal(isa_bus, 0);
		assert_int_equal(pci_bus, -1);
		assert_int_equal(buses, 1);
		assert_int_equal(pcisrcs, 0);
	}
	assert_int_equal(entries, ncpus + buses + 1 + 15 + pcisrcs + 2);
	/* Nothing written outside the tables */
	assert_int_equal(gp(&v, MPTABLE_ADDR - 1, 1)[0], GARBAGE);
	assert_int_equal(gp(&v, mpc + len, 1)[0], GARBAGE);
	vm_free(&v);
}

static void test_mptable_1(void **state)
{
	(void)state;
	check_mptable(1, false);
}

static void test_mptable_4(void **state)
{
	(void)state;
	check_mptable(4, false);
}

static void test_mptable_255(void **state)
{
	(void)state;
	check_mptable(255, false);
}

static void test_mptable_pci_1(void **state)
{
	(void)state;
	check_mptable(1, true);
}

static void test_mptable_pci_4(void **state)
{
	(void)state;
	check_mptable(4, true);
}

static void test_mptable_pci_255(void **state)
{
	(void)state;
	check_mptable(255, true);
}

/* PCI adds a bus entry and 31 x 4 interrupt entries, 8 bytes each */
static void test_mptable_size(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= MPTABLE_MAX_CPUS; n++) {
		assert_int_equal(mptable_size(n, true),
				 mptable_size(n, false) + 8 + 31 * 4 * 8);
		assert_true(MPTABLE_ADDR + mptable_size(n, true) <=
			    ACPI_TABLES_ADDR);
	}
	/* The configuration table's length is a 16-bit field */
	assert_true(mptable_size(MPTABLE_MAX_CPUS, true) - 16 <= UINT16_MAX);
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
		assert_int_equal(mptable_build(&v.m, bad[i], i % 2, &err), -1);
		assert_non_null(strstr(err.msg, "vCPUs"));
	}
	for (uint64_t a = 0; a < v.size; a++)
		assert_int_equal(v.ram[a], GARBAGE);
	vm_free(&v);
}

static void expect_fail(uint64_t ram, unsigned ncpus, bool pci)
{
	struct error err;
	struct vm v;

	vm_init(&v, ram);
	err.msg[0] = '\0';
	assert_int_equal(mptable_build(&v.m, ncpus, pci, &err), -1);
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
	for (int pci = 0; pci < 2; pci++) {
		expect_fail(0x1000, 1, pci);
		expect_fail(MPTABLE_ADDR, 1, pci);
		expect_fail(MPTABLE_ADDR + 8, 1, pci);
		expect_fail(MPTABLE_ADDR + mptable_size(1, pci) - 1, 1, pci);
		/* 255 vCPUs do not fit in the EBDA's 1 KiB alone */
		assert_true(mptable_size(255, pci) > 1024);
		expect_fail(0xa0000, 255, pci);
		/* Exactly enough RAM */
		vm_init(&v, MPTABLE_ADDR + mptable_size(1, pci));
		assert_int_equal(mptable_build(&v.m, 1, pci, &err), 0);
		vm_free(&v);
	}
	/* Without PCI, one vCPU's tables fit in the EBDA; PCI's 124
	 * interrupt entries do not (the tables run on past 0xa0000). */
	vm_init(&v, 0xa0000);
	assert_true(mptable_size(1, false) <= 0xa0000 - MPTABLE_ADDR);
	assert_int_equal(mptable_build(&v.m, 1, false, &err), 0);
	vm_free(&v);
	assert_true(mptable_size(1, true) > 0xa0000 - MPTABLE_ADDR);
	expect_fail(0xa0000, 1, true);
	/* Without PCI's entries, more fits: one byte short for PCI */
	expect_fail(MPTABLE_ADDR + mptable_size(1, true) - 1, 1, true);
	vm_init(&v, MPTABLE_ADDR + mptable_size(1, true) - 1);
	assert_int_equal(mptable_build(&v.m, 1, false, &err), 0);
	vm_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mptable_1),
		cmocka_unit_test(test_mptable_4),
		cmocka_unit_test(test_mptable_255),
		cmocka_unit_test(test_mptable_pci_1),
		cmocka_unit_test(test_mptable_pci_4),
		cmocka_unit_test(test_mptable_pci_255),
		cmocka_unit_test(test_mptable_size),
		cmocka_unit_test(test_bad_ncpus),
		cmocka_unit_test(test_small_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

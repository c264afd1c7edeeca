/* The e820 memory map built from the RAM layout: exact entries for the
 * usual sizes, and the properties an OS relies on for any size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "../../boot/e820.h"
#include "../../boot/layout.h"

#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)
#define MAXE		16

/* A fake guest of size bytes over reserved, inaccessible address space:
 * e820_build only looks at the layout. */
struct fake {
	void *host;
	uint64_t size;
	struct gmem m;
};

static void fake_init(struct fake *f, uint64_t size)
{
	f->size = size;
	f->host = mmap(NULL, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(f->host != MAP_FAILED);
	gmem_init_fake(&f->m, f->host, size);
}

static void fake_free(struct fake *f)
{
	munmap(f->host, f->size);
}

static void assert_entry(const struct e820_entry *e, uint64_t addr,
			 uint64_t size, uint32_t type)
{
	if (e->addr != addr || e->size != size || e->type != type)
		fail_msg("entry {0x%llx, 0x%llx, %u}, want {0x%llx, 0x%llx, %u}",
			 (unsigned long long)e->addr, (unsigned long long)e->size,
			 e->type, (unsigned long long)addr,
			 (unsigned long long)size, type);
}

static int in_ram(const struct gmem *m, uint64_t addr, uint64_t size)
{
	for (unsigned i = 0; i < m->nregions; i++)
		if (addr >= m->region[i].gpa &&
		    addr + size <= m->region[i].gpa + m->region[i].size)
			return 1;
	return 0;
}

/* Sorted, non-empty, non-overlapping; RAM entries backed by guest RAM and
 * adding up to it less the reserved BIOS area; nothing in the MMIO hole;
 * the firmware tables inside a reserved entry. */
static void check_invariants(const struct fake *f, const struct e820_entry *e,
			     unsigned n)
{
	uint64_t ram = 0, tables_reserved = 0;

	assert_true(n > 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t end = e[i].addr + e[i].size;

		assert_true(e[i].size > 0);
		assert_true(end > e[i].addr);
		assert_true(e[i].type == E820_RAM || e[i].type == E820_RESERVED);
		if (i > 0)
			assert_true(e[i].addr >= e[i - 1].addr + e[i - 1].size);
		if (e[i].type == E820_RAM) {
			ram += e[i].size;
			assert_true(in_ram(&f->m, e[i].addr, e[i].size));
		} else if (e[i].addr <= MPTABLE_ADDR &&
			   end >= ACPI_TABLES_ADDR + ACPI_TABLES_SIZE) {
			tables_reserved = 1;
		}
		assert_true(end <= MMIO_HOLE_START || e[i].addr >= HIGH_RAM_START);
	}
	assert_true(tables_reserved);
	assert_int_equal(ram, f->size - (HIGH_MEM_START - EBDA_START));
}

static unsigned build(const struct fake *f, struct e820_entry *e)
{
	memset(e, 0xee, MAXE * sizeof(*e));
	return e820_build(&f->m, e, MAXE);
}

static void test_64m(void **state)
{
	struct e820_entry e[MAXE];
	struct fake f;
	unsigned n;

	(void)state;
	fake_init(&f, 64 * MiB);
	n = build(&f, e);
	assert_int_equal(n, 3);
	assert_entry(&e[0], 0, 0x9fc00, E820_RAM);
	assert_entry(&e[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	assert_entry(&e[2], 0x100000, 63 * MiB, E820_RAM);
	check_invariants(&f, e, n);
	fake_free(&f);
}

static void test_3g(void **state)
{
	struct e820_entry e[MAXE];
	struct fake f;
	unsigned n;

	(void)state;
	fake_init(&f, 3 * GiB);
	n = build(&f, e);
	assert_int_equal(n, 3);
	assert_entry(&e[0], 0, 0x9fc00, E820_RAM);
	assert_entry(&e[1], 0x9fc00, 0x60400, E820_RESERVED);
	assert_entry(&e[2], 0x100000, 3 * GiB - MiB, E820_RAM);
	check_invariants(&f, e, n);
	fake_free(&f);
}

/* 4 GiB: RAM stops at the hole and resumes at 4 GiB with the last GiB. */
static void test_4g(void **state)
{
	struct e820_entry e[MAXE];
	struct fake f;
	unsigned n;

	(void)state;
	fake_init(&f, 4 * GiB);
	n = build(&f, e);
	assert_int_equal(n, 4);
	assert_entry(&e[0], 0, 0x9fc00, E820_RAM);
	assert_entry(&e[1], 0x9fc00, 0x60400, E820_RESERVED);
	assert_entry(&e[2], 0x100000, 3 * GiB - MiB, E820_RAM);
	assert_entry(&e[3], 4 * GiB, 1 * GiB, E820_RAM);
	check_invariants(&f, e, n);
	fake_free(&f);
}

/* Other sizes: the minimum, a page over 3 GiB, odd sizes, the maximum. */
static void test_sizes(void **state)
{
	static const uint64_t sizes[] = {
		MIN_RAM_SIZE, 100 * MiB + 4096, 3 * GiB - 4096, 3 * GiB + 4096,
		5 * GiB, 7 * GiB + 12345 * 4096, MAX_RAM_SIZE,
	};
	struct e820_entry e[MAXE];

	(void)state;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t s = sizes[i], low = s < 3 * GiB ? s : 3 * GiB;
		struct fake f;
		unsigned n;

		fake_init(&f, s);
		n = build(&f, e);
		assert_int_equal(n, s > 3 * GiB ? 4 : 3);
		assert_entry(&e[2], MiB, low - MiB, E820_RAM);
		if (n == 4)
			assert_entry(&e[3], 4 * GiB, s - 3 * GiB, E820_RAM);
		check_invariants(&f, e, n);
		fake_free(&f);
	}
}

/* With room for fewer entries, the first ones and nothing past max */
static void test_truncated(void **state)
{
	struct e820_entry e[MAXE];
	struct fake f;

	(void)state;
	fake_init(&f, 4 * GiB);
	for (unsigned max = 0; max <= 4; max++) {
		unsigned n;

		memset(e, 0xee, sizeof(e));
		n = e820_build(&f.m, e, max);
		assert_int_equal(n, max);
		if (max > 0)
			assert_entry(&e[0], 0, 0x9fc00, E820_RAM);
		if (max > 3)
			assert_entry(&e[3], 4 * GiB, GiB, E820_RAM);
		for (unsigned i = max; i < MAXE; i++) {
			const uint8_t *b = (const uint8_t *)&e[i];

			for (unsigned j = 0; j < sizeof(e[i]); j++)
				if (b[j] != 0xee)
					fail_msg("max %u: entry %u written", max, i);
		}
	}
	fake_free(&f);
}

/* The on-the-wire entry: 20 bytes, addr, size, type, little-endian */
static void test_entry_layout(void **state)
{
	struct e820_entry e = { 0x0102030405060708ULL, 0x1112131415161718ULL,
				0x21222324 };
	const uint8_t *b = (const uint8_t *)&e;

	(void)state;
	assert_int_equal(sizeof(e), 20);
	assert_int_equal(b[0], 0x08);
	assert_int_equal(b[7], 0x01);
	assert_int_equal(b[8], 0x18);
	assert_int_equal(b[15], 0x11);
	assert_int_equal(b[16], 0x24);
	assert_int_equal(b[19], 0x21);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64m),
		cmocka_unit_test(test_3g),
		cmocka_unit_test(test_4g),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_entry_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

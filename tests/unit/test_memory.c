/* Guest memory: the RAM layout around the 32-bit MMIO hole and gmem_ptr(),
 * the one checked path from a guest-physical range to a host pointer.
 * Large guests are backed by MAP_NORESERVE mappings: only the pages a test
 * touches cost memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../boot/layout.h"
#include "../../vmm/memory.h"

#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)
#define U64_MAX		0xffffffffffffffffULL

/* Host memory standing in for size bytes of guest RAM */
struct host {
	uint8_t *p;
	size_t size;
};

static void host_map(struct host *h, uint64_t size)
{
	h->size = size;
	h->p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(h->p != MAP_FAILED);
}

static void host_unmap(struct host *h)
{
	munmap(h->p, h->size);
}

static void assert_region(const struct gmem *m, unsigned i, uint64_t gpa,
			  uint64_t size, const uint8_t *hva)
{
	assert_true(i < m->nregions);
	assert_int_equal(m->region[i].gpa, gpa);
	assert_int_equal(m->region[i].size, size);
	assert_ptr_equal(m->region[i].hva, hva);
}

static void test_layout_64m(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 64 * MiB);
	memset(&m, 0x5a, sizeof(m));
	gmem_init_fake(&m, h.p, 64 * MiB);
	assert_int_equal(m.nregions, 1);
	assert_int_equal(m.ram_size, 64 * MiB);
	assert_region(&m, 0, 0, 64 * MiB, h.p);
	assert_null(m.map);		/* not ours to unmap */
	assert_int_equal(m.map_size, 0);
	host_unmap(&h);
}

static void test_layout_3g(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 3 * GiB);
	gmem_init_fake(&m, h.p, 3 * GiB);
	assert_int_equal(m.nregions, 1);
	assert_int_equal(m.ram_size, 3 * GiB);
	assert_region(&m, 0, 0, MMIO_HOLE_START, h.p);
	host_unmap(&h);
}

/* 4 GiB of RAM: 3 GiB below the hole, the last GiB moved to 4 GiB */
static void test_layout_4g(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 4 * GiB);
	gmem_init_fake(&m, h.p, 4 * GiB);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(m.ram_size, 4 * GiB);
	assert_region(&m, 0, 0, 3 * GiB, h.p);
	assert_region(&m, 1, HIGH_RAM_START, 1 * GiB, h.p + 3 * GiB);
	host_unmap(&h);
}

/* One page more than fits below the hole */
static void test_layout_3g_plus_page(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 3 * GiB + 4096);
	gmem_init_fake(&m, h.p, 3 * GiB + 4096);
	assert_int_equal(m.nregions, 2);
	assert_region(&m, 0, 0, 3 * GiB, h.p);
	assert_region(&m, 1, 4 * GiB, 4096, h.p + 3 * GiB);
	host_unmap(&h);
}

static void test_ptr_inside(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 64 * MiB);
	gmem_init_fake(&m, h.p, 64 * MiB);
	assert_ptr_equal(gmem_ptr(&m, 0, 1), h.p);
	assert_ptr_equal(gmem_ptr(&m, 0x1234, 16), h.p + 0x1234);
	assert_ptr_equal(gmem_ptr(&m, 0, 64 * MiB), h.p);
	assert_ptr_equal(gmem_ptr(&m, 32 * MiB, 32 * MiB), h.p + 32 * MiB);
	host_unmap(&h);
}

static void test_ptr_end(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 64 * MiB);
	gmem_init_fake(&m, h.p, 64 * MiB);
	assert_ptr_equal(gmem_ptr(&m, 64 * MiB - 1, 1), h.p + 64 * MiB - 1);
	assert_ptr_equal(gmem_ptr(&m, 64 * MiB - 16, 16), h.p + 64 * MiB - 16);
	assert_null(gmem_ptr(&m, 64 * MiB - 16, 17));	/* one past */
	assert_null(gmem_ptr(&m, 64 * MiB - 1, 2));
	assert_null(gmem_ptr(&m, 64 * MiB, 1));
	assert_null(gmem_ptr(&m, 64 * MiB + 4096, 1));
	assert_null(gmem_ptr(&m, 0, 64 * MiB + 1));
	assert_null(gmem_ptr(&m, 1, 64 * MiB));
	host_unmap(&h);
}

/* len 0 is fine inside RAM, not outside it */
static void test_ptr_len0(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 5 * GiB);
	gmem_init_fake(&m, h.p, 5 * GiB);
	assert_ptr_equal(gmem_ptr(&m, 0, 0), h.p);
	assert_ptr_equal(gmem_ptr(&m, 0x100, 0), h.p + 0x100);
	assert_ptr_equal(gmem_ptr(&m, 3 * GiB - 1, 0), h.p + 3 * GiB - 1);
	assert_ptr_equal(gmem_ptr(&m, 4 * GiB, 0), h.p + 3 * GiB);
	assert_null(gmem_ptr(&m, 3 * GiB, 0));		/* MMIO hole */
	assert_null(gmem_ptr(&m, LAPIC_ADDR, 0));
	assert_null(gmem_ptr(&m, 6 * GiB, 0));		/* past the end */
	assert_null(gmem_ptr(&m, U64_MAX, 0));
	host_unmap(&h);
}

/* Ranges around the hole: contiguous on the host, not in the guest */
static void test_ptr_hole(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 5 * GiB);
	gmem_init_fake(&m, h.p, 5 * GiB);
	assert_int_equal(m.nregions, 2);
	assert_ptr_equal(gmem_ptr(&m, 3 * GiB - 8, 8), h.p + 3 * GiB - 8);
	assert_null(gmem_ptr(&m, 3 * GiB - 8, 9));	/* into the hole */
	assert_null(gmem_ptr(&m, 3 * GiB - 4096, GiB + 8192));	/* across */
	assert_null(gmem_ptr(&m, 3 * GiB, 1));
	assert_null(gmem_ptr(&m, IOAPIC_ADDR, 4));
	assert_null(gmem_ptr(&m, 4 * GiB - 1, 1));
	assert_null(gmem_ptr(&m, 4 * GiB - 1, 2));	/* into high RAM */
	assert_ptr_equal(gmem_ptr(&m, 4 * GiB, 1), h.p + 3 * GiB);
	assert_ptr_equal(gmem_ptr(&m, 4 * GiB, 2 * GiB), h.p + 3 * GiB);
	assert_ptr_equal(gmem_ptr(&m, 6 * GiB - 1, 1), h.p + 5 * GiB - 1);
	assert_null(gmem_ptr(&m, 6 * GiB - 1, 2));
	assert_null(gmem_ptr(&m, 4 * GiB, 2 * GiB + 1));
	assert_null(gmem_ptr(&m, 6 * GiB, 1));
	/* A whole-RAM length from 0 covers the hole */
	assert_null(gmem_ptr(&m, 0, 5 * GiB));
	host_unmap(&h);
}

/* gpa + len overflowing 2^64 must not wrap back into RAM. */
static void test_ptr_wrap(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 5 * GiB);
	gmem_init_fake(&m, h.p, 5 * GiB);
	assert_null(gmem_ptr(&m, U64_MAX, 1));
	assert_null(gmem_ptr(&m, U64_MAX, 2));
	assert_null(gmem_ptr(&m, U64_MAX - 4095, 8192));
	assert_null(gmem_ptr(&m, U64_MAX - 4095, 4096 + 0x1000));
	/* Ends land back inside RAM after wrapping */
	assert_null(gmem_ptr(&m, 0x1000, U64_MAX));
	assert_null(gmem_ptr(&m, 0x1000, 0xfffffffffffff800ULL));	/* end 0x800 */
	assert_null(gmem_ptr(&m, 0x1000, (size_t)(0 - 0x1000ULL)));
	assert_null(gmem_ptr(&m, 4 * GiB, (size_t)(0 - 4 * GiB + 16)));
	assert_null(gmem_ptr(&m, 4 * GiB + 1, U64_MAX));
	assert_null(gmem_ptr(&m, 0, U64_MAX));
	host_unmap(&h);
}

static void test_ptr_huge(void **state)
{
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 64 * MiB);
	gmem_init_fake(&m, h.p, 64 * MiB);
	assert_null(gmem_ptr(&m, 0, 1ULL << 40));
	assert_null(gmem_ptr(&m, 0x1000, 1ULL << 63));
	assert_null(gmem_ptr(&m, 1ULL << 40, 1));
	assert_null(gmem_ptr(&m, 1ULL << 63, 4096));
	host_unmap(&h);
}

static void test_ptr_no_regions(void **state)
{
	struct gmem m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_null(gmem_ptr(&m, 0, 0));
	assert_null(gmem_ptr(&m, 0, 1));
}

/* Writes land at the right host bytes, reads see them, in both regions. */
static void test_write_read(void **state)
{
	static const uint8_t msg[] = "vessel guest memory";
	uint8_t back[sizeof(msg)];
	struct error err = { 0 };
	struct host h;
	struct gmem m;

	(void)state;
	host_map(&h, 5 * GiB);
	gmem_init_fake(&m, h.p, 5 * GiB);

	assert_int_equal(gmem_write(&m, 0x1234, msg, sizeof(msg), &err), 0);
	assert_memory_equal(h.p + 0x1234, msg, sizeof(msg));
	assert_int_equal(h.p[0x1233], 0);
	assert_int_equal(h.p[0x1234 + sizeof(msg)], 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(gmem_read(&m, 0x1234, back, sizeof(back), &err), 0);
	assert_memory_equal(back, msg, sizeof(msg));

	/* Just below the hole, and the first bytes above 4 GiB */
	assert_int_equal(gmem_write(&m, 3 * GiB - sizeof(msg), msg, sizeof(msg),
				    &err), 0);
	assert_memory_equal(h.p + 3 * GiB - sizeof(msg), msg, sizeof(msg));
	assert_int_equal(gmem_write(&m, 4 * GiB, msg, sizeof(msg), &err), 0);
	assert_memory_equal(h.p + 3 * GiB, msg, sizeof(msg));
	memset(back, 0, sizeof(back));
	assert_int_equal(gmem_read(&m, 4 * GiB, back, sizeof(back), &err), 0);
	assert_memory_equal(back, msg, sizeof(msg));

	/* len 0 inside RAM */
	assert_int_equal(gmem_write(&m, 0x10, msg, 0, &err), 0);
	assert_int_equal(gmem_read(&m, 0x10, back, 0, &err), 0);
	host_unmap(&h);
}

/* Out of range: -1, a message naming the range, and no bytes moved. The
 * fake RAM is malloc'd at its exact size so ASan sees any overrun. */
static void test_write_read_out_of_range(void **state)
{
	static const struct {
		uint64_t gpa;
		size_t len;
	} bad[] = {
		{ 4 * MiB - 2, 4 },
		{ 4 * MiB, 1 },
		{ 3 * GiB, 1 },
		{ U64_MAX, 2 },
		{ 0x10, U64_MAX },
	};
	uint8_t *ram = malloc(4 * MiB);
	uint8_t *buf = malloc(4 * MiB);
	struct gmem m;

	(void)state;
	assert_non_null(ram);
	assert_non_null(buf);
	memset(ram, 0xa5, 4 * MiB);
	gmem_init_fake(&m, ram, 4 * MiB);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len < 4 ? bad[i].len : 4;
		char hex[32];
		struct error err = { 0 };

		snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)bad[i].gpa);
		memset(buf, 0x3c, 4);
		assert_int_equal(gmem_write(&m, bad[i].gpa, buf, bad[i].len, &err), -1);
		assert_non_null(strstr(err.msg, hex));
		err.msg[0] = '\0';
		assert_int_equal(gmem_read(&m, bad[i].gpa, buf, bad[i].len, &err), -1);
		assert_non_null(strstr(err.msg, hex));
		for (size_t j = 0; j < len; j++)
			assert_int_equal(buf[j], 0x3c);
	}
	for (size_t j = 0; j < 4 * MiB; j++)
		if (ram[j] != 0xa5)
			fail_msg("RAM byte 0x%zx written", j);
	free(buf);
	free(ram);
}

/* gmem_alloc maps real (lazily committed) RAM with the same layout. */
static void test_alloc(void **state)
{
	struct error err = { 0 };
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_alloc(&m, MIN_RAM_SIZE - 1, &err), -1);
	assert_non_null(strstr(err.msg, "too small"));
	assert_int_equal(m.nregions, 0);
	assert_int_equal(gmem_alloc(&m, MAX_RAM_SIZE + 1, &err), -1);
	assert_non_null(strstr(err.msg, "too large"));

	assert_int_equal(gmem_alloc(&m, 5 * GiB, &err), 0);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(m.map_size, 5 * GiB);
	assert_region(&m, 0, 0, 3 * GiB, m.map);
	assert_region(&m, 1, 4 * GiB, 2 * GiB, (uint8_t *)m.map + 3 * GiB);
	assert_int_equal(gmem_write(&m, 6 * GiB - 4, "abcd", 4, &err), 0);
	assert_memory_equal((uint8_t *)m.map + 5 * GiB - 4, "abcd", 4);
	gmem_free(&m);
	assert_null(m.map);
	assert_int_equal(m.nregions, 0);
	assert_null(gmem_ptr(&m, 0, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_64m),
		cmocka_unit_test(test_layout_3g),
		cmocka_unit_test(test_layout_4g),
		cmocka_unit_test(test_layout_3g_plus_page),
		cmocka_unit_test(test_ptr_inside),
		cmocka_unit_test(test_ptr_end),
		cmocka_unit_test(test_ptr_len0),
		cmocka_unit_test(test_ptr_hole),
		cmocka_unit_test(test_ptr_wrap),
		cmocka_unit_test(test_ptr_huge),
		cmocka_unit_test(test_ptr_no_regions),
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_write_read_out_of_range),
		cmocka_unit_test(test_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

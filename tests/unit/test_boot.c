/* Kernel loaders: bzImage (Linux boot protocol, 64-bit entry) and PVH (ELF
 * with a XEN_ELFNOTE_PHYS32_ENTRY note), run on images synthesised in memory
 * over fake guest RAM. Results are checked from the raw bytes left in guest
 * memory at the protocols' offsets, not through the loaders' own structs.
 * Images and RAM sit next to inaccessible pages, so stray reads and writes
 * fault even in a build without ASan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../boot/e820.h"
#include "../../boot/layout.h"
#include "../../boot/loader.h"
#include "fake_kernel.h"

#define RAM_32M		(32ULL << 20)
#define RAM_64M		(64ULL << 20)
#define GiB		(1ULL << 30)
#define MiB		(1ULL << 20)
#define CMDLINE		"console=ttyS0 root=/dev/vda rw quiet"
#define RSDP		0xe0000ULL
#define INITRD_SEED	0x29
#define INITRD_LEN	0x5432
#define PVH_ENTRY	0x1000c0
#define NOT_RUN		0x5a5a5a5a5a5a5a5aULL

/* One loader run: fake RAM, a fenced image and an optional initrd file */
struct run {
	struct fake_vm v;
	struct fenced img;
	const char *want_cmdline;       /* NULL: bi.cmdline as it is */
	struct tmpdir td;
	uint8_t *initrd;
	size_t initrd_len;
	struct boot_image bi;
	struct boot_entry entry;
	struct error err;
};

/* Runs come from a pool so that a teardown can release whatever a failed
 * test (cmocka longjmps out of it) left behind. */
static struct run pool[2];
static bool pool_used[2];

static struct run *run_new(uint64_t ram)
{
	struct run *r = NULL;

	for (unsigned i = 0; i < 2 && !r; i++)
		if (!pool_used[i]) {
			pool_used[i] = true;
			r = &pool[i];
		}
	assert_non_null(r);
	memset(r, 0, sizeof(*r));
	fake_vm_init(&r->v, ram);
	td_init(&r->td);
	r->bi.cmdline = CMDLINE;
	r->bi.rsdp = RSDP;
	r->entry.rip = r->entry.rsi = r->entry.rbx = NOT_RUN;
	return r;
}

static void run_initrd(struct run *r, size_t len)
{
	r->initrd = malloc(len ? len : 1);
	assert_non_null(r->initrd);
	fill_pattern(r->initrd, len, INITRD_SEED);
	r->initrd_len = len;
	r->bi.initrd_path = td_file(&r->td, "initrd.img", r->initrd, len);
}

static void run_free(struct run *r)
{
	if (r->img.map)
		fenced_free(&r->img);
	td_free(&r->td);
	free(r->initrd);
	fake_vm_free(&r->v);
	pool_used[r - pool] = false;
}

static int run_cleanup(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 2; i++)
		if (pool_used[i])
			run_free(&pool[i]);
	return 0;
}

static uint64_t low_end(const struct run *r)
{
	return r->v.size < MMIO_HOLE_START ? r->v.size : MMIO_HOLE_START;
}

static void expect_reject(struct run *r, int rc, const char *word)
{
	assert_int_equal(rc, -1);
	if (!r->err.msg[0])
		fail_msg("rejected without a message");
	if (word && !strstr(r->err.msg, word))
		fail_msg("message \"%s\" does not mention \"%s\"", r->err.msg, word);
	assert_int_equal(r->entry.rip, NOT_RUN);
}

/* The memory map a PC firmware would report for this much RAM, from the
 * layout rules, not from e820_build. Entries are raw 20-byte records. */
static unsigned expected_e820(uint64_t ram, uint8_t out[][20])
{
	uint64_t low = ram < MMIO_HOLE_START ? ram : MMIO_HOLE_START;
	unsigned n = 0;

	set64(out[n], 0);
	set64(out[n] + 8, 0x9fc00);
	set32(out[n++] + 16, 1);
	set64(out[n], 0x9fc00);
	set64(out[n] + 8, 0x100000 - 0x9fc00);
	set32(out[n++] + 16, 2);
	set64(out[n], 0x100000);
	set64(out[n] + 8, low - 0x100000);
	set32(out[n++] + 16, 1);
	if (ram > low) {
		set64(out[n], 4 * GiB);
		set64(out[n] + 8, ram - low);
		set32(out[n++] + 16, 1);
	}
	return n;
}

/* Guest ranges a loader is allowed to write */
struct span {
	uint64_t start, end;
	const char *what;
};

static void sort_spans(struct span *s, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && s[j].start < s[j - 1].start; j--) {
			struct span t = s[j];

			s[j] = s[j - 1];
			s[j - 1] = t;
		}
}

/* The loader's structures must not overlap each other. */
static void check_disjoint(struct span *s, unsigned n)
{
	sort_spans(s, n);
	for (unsigned i = 1; i < n; i++)
		if (s[i].start < s[i - 1].end)
			fail_msg("%s [0x%llx,0x%llx) overlaps %s [0x%llx,0x%llx)",
				 s[i].what, (unsigned long long)s[i].start,
				 (unsigned long long)s[i].end, s[i - 1].what,
				 (unsigned long long)s[i - 1].start,
				 (unsigned long long)s[i - 1].end);
}

/* Low RAM outside the spans must still hold GARBAGE. */
static void check_only_written(const struct run *r, struct span *s, unsigned n)
{
	uint64_t pos = 0, end = low_end(r);

	sort_spans(s, n);
	for (unsigned i = 0; i <= n; i++) {
		uint64_t to = i < n ? s[i].start : end;
		uint64_t at;

		if (to > end)
			to = end;
		if (to > pos) {
			at = first_touched(&r->v, pos, to);
			if (at != to)
				fail_msg("stray write at 0x%llx (before %s)",
					 (unsigned long long)at,
					 i < n ? s[i].what : "end of RAM");
		}
		if (i < n && s[i].end > pos)
			pos = s[i].end;
	}
}

/* A segment descriptor, decoded */
struct desc {
	uint32_t base, limit;
	uint8_t access, flags;
};

static struct desc gdt_entry(const struct run *r, unsigned sel)
{
	uint64_t d = le64(gpa_ptr(&r->v, BOOT_GDT_ADDR + sel, 8));

	return (struct desc){
		.base = ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24,
		.limit = (d & 0xffff) | ((d >> 48) & 0xf) << 16,
		.access = d >> 40,
		.flags = (d >> 52) & 0xf,	/* AVL, L, D/B, G */
	};
}

/* Walk the guest's 4-level page tables from PML4_ADDR; ~0 if unmapped. */
static uint64_t translate(const struct run *r, uint64_t va)
{
	const uint64_t addr_mask = 0x000ffffffffff000ULL;
	uint64_t table = PML4_ADDR, e = 0;

	for (int level = 3; level >= 1; level--) {
		unsigned idx = (va >> (12 + 9 * level)) & 511;

		e = le64(gpa_ptr(&r->v, table + idx * 8, 8));
		if (!(e & 1))
			return ~0ULL;
		assert_true(e & 2);			/* writable */
		if (level == 1) {
			assert_true(e & 0x80);		/* 2 MiB page */
			return (e & addr_mask & ~0x1fffffULL) | (va & 0x1fffff);
		}
		if (level == 2)
			assert_false(e & 0x80);		/* PDPT entry -> PD */
		table = e & addr_mask;
	}
	return ~0ULL;
}

static void check_cpu_tables(const struct run *r)
{
	static const uint64_t probe[] = {
		0, 0x7000, 0xfffff, 0x100000, 0x1000200, 0x3fffffff,
		0x40000000, 0x80001234, 0xbfffffff, 0xc0000000, 0xfec00000,
		0xfee00000, 0xffffffff,
	};
	const uint8_t *pml4 = gpa_ptr(&r->v, PML4_ADDR, 4096);
	const uint8_t *pdpt = gpa_ptr(&r->v, PDPT_ADDR, 4096);
	const uint8_t *pd = gpa_ptr(&r->v, PD_ADDR, 4 * 4096);
	struct desc d;

	/* GDT: null, then the Linux boot protocol's flat segments */
	assert_int_equal(le64(gpa_ptr(&r->v, BOOT_GDT_ADDR, 8)), 0);
	d = gdt_entry(r, BOOT_CS32);
	assert_int_equal(d.access & 0x9e, 0x9a);	/* P, S, code, readable */
	assert_int_equal(d.access & 0x60, 0);		/* DPL 0 */
	assert_int_equal(d.flags & 0xe, 0xc);		/* G, D, not L */
	assert_int_equal(d.base, 0);
	assert_int_equal(d.limit, 0xfffff);
	d = gdt_entry(r, BOOT_CS64);
	assert_int_equal(d.access & 0x9e, 0x9a);
	assert_int_equal(d.access & 0x60, 0);
	assert_int_equal(d.flags & 0x6, 0x2);		/* L, not D */
	d = gdt_entry(r, BOOT_DS);
	assert_int_equal(d.access & 0x9a, 0x92);	/* P, S, data, writable */
	assert_int_equal(d.access & 0x60, 0);
	assert_int_equal(d.flags & 0xc, 0xc);		/* G, B */
	assert_int_equal(d.base, 0);
	assert_int_equal(d.limit, 0xfffff);

	/* PML4[0] -> PDPT; PDPT[0..3] -> four PDs; PDs map 2 MiB pages */
	assert_int_equal(le64(pml4) & 0x000ffffffffff003ULL, PDPT_ADDR | 3);
	for (unsigned i = 1; i < 512; i++)
		if (le64(pml4 + 8 * i) & 1)
			fail_msg("PML4[%u] is present", i);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(le64(pdpt + 8 * i) & 0x000ffffffffff083ULL,
				 (PD_ADDR + i * 4096) | 3);
	for (unsigned i = 4; i < 512; i++)
		if (le64(pdpt + 8 * i) & 1)
			fail_msg("PDPT[%u] is present", i);
	for (unsigned i = 0; i < 2048; i++) {
		uint64_t e = le64(pd + 8 * i);

		if ((e & 0x000fffffffe00083ULL) != (((uint64_t)i << 21) | 0x83))
			fail_msg("PD entry %u is 0x%llx", i, (unsigned long long)e);
	}
	for (unsigned i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
		assert_int_equal(translate(r, probe[i]), probe[i]);
	assert_int_equal(translate(r, 4 * GiB), ~0ULL);
}

/* The command line the guest must see. */
static const char *want_cmdline(const struct run *r)
{
	if (r->want_cmdline)
		return r->want_cmdline;
	return r->bi.cmdline ? r->bi.cmdline : "";
}

static void check_cmdline(const struct run *r)
{
	const char *want = want_cmdline(r);
	size_t len = strlen(want) + 1;

	assert_memory_equal(gpa_ptr(&r->v, CMDLINE_ADDR, len), want, len);
}

/* The initrd at [rd, rd+size): the file's bytes, page-aligned, above min,
 * and as high as it fits below max_end. */
static void check_initrd(const struct run *r, uint64_t rd, uint64_t size,
			 uint64_t min, uint64_t max_end)
{
	assert_int_equal(size, r->initrd_len);
	assert_int_equal(rd % PAGE, 0);
	assert_true(rd >= min);
	assert_true(rd + size <= max_end);
	assert_int_equal(rd, (max_end - size) & ~(PAGE - 1));
	assert_memory_equal(gpa_ptr(&r->v, rd, size), r->initrd, size);
}

/* ---- bzImage ---------------------------------------------------------- */

static void bz_image(struct run *r, const struct fake_bz *k)
{
	fake_bz_make(k, &r->img);
	r->bi.kernel = r->img.p;
	r->bi.kernel_len = r->img.len;
}

static int bz_load(struct run *r)
{
	err_clear(&r->err);
	return bzimage_load(&r->v.m, &r->bi, &r->entry, &r->err);
}

static void bz_ok(struct run *r)
{
	if (bz_load(r) < 0)
		fail_msg("bzimage_load: %s", r->err.msg);
}

static uint64_t bz_init_end(const struct fake_bz *k, uint64_t load)
{
	return load + (k->init_size > k->payload_len ? k->init_size :
		       k->payload_len);
}

/* The zero page, byte for byte: the image's setup header, the loader's
 * fields, zero everywhere else. */
static void check_zero_page(const struct run *r, uint64_t load, uint64_t rd,
			    uint64_t rd_size)
{
	const uint8_t *img = r->img.p;
	const uint8_t *zp = gpa_ptr(&r->v, ZERO_PAGE_ADDR, 4096);
	size_t hdr_end = 0x202 + img[0x201];
	uint8_t want[4096] = { 0 };
	uint8_t e820[8][20];
	unsigned n;

	memcpy(want + 0x1f1, img + 0x1f1, hdr_end - 0x1f1);
	/* Filled by the loader (boot protocol "write" fields) */
	assert_int_equal(zp[0x210], 0xff);		/* type_of_loader */
	want[0x210] = 0xff;
	assert_true(zp[0x211] & 0x01);			/* LOADED_HIGH */
	assert_int_equal(zp[0x211] & ~0x81, img[0x211] & ~0x81);
	want[0x211] = zp[0x211];
	if (zp[0x211] & 0x80)				/* CAN_USE_HEAP */
		assert_int_not_equal(le16(zp + 0x224), 0);
	memcpy(want + 0x224, zp + 0x224, 2);		/* heap_end_ptr */
	memcpy(want + 0x1fa, zp + 0x1fa, 2);		/* vid_mode */
	if (le32(zp + 0x214) != load && le32(zp + 0x214) != le32(img + 0x214))
		fail_msg("code32_start is 0x%x", le32(zp + 0x214));
	memcpy(want + 0x214, zp + 0x214, 4);
	set32(want + 0x218, (uint32_t)rd);		/* ramdisk_image */
	set32(want + 0x21c, (uint32_t)rd_size);		/* ramdisk_size */
	set32(want + 0x0c0, rd >> 32);			/* ext_ramdisk_image */
	set32(want + 0x0c4, rd_size >> 32);		/* ext_ramdisk_size */
	set32(want + 0x228, CMDLINE_ADDR);		/* cmd_line_ptr */
	set64(want + 0x070, r->bi.rsdp);		/* acpi_rsdp_addr */
	n = expected_e820(r->v.size, e820);
	want[0x1e8] = n;
	for (unsigned i = 0; i < n; i++)
		memcpy(want + 0x2d0 + 20 * i, e820[i], 20);

	for (unsigned i = 0; i < 4096; i++)
		if (zp[i] != want[i])
			fail_msg("zero page byte 0x%03x is 0x%02x, want 0x%02x",
				 i, zp[i], want[i]);
}

/* Everything a successful bzimage_load of image k must leave behind */
static void check_bz(struct run *r, const struct fake_bz *k, uint64_t load)
{
	const uint8_t *zp = gpa_ptr(&r->v, ZERO_PAGE_ADDR, 4096);
	uint64_t init_end = bz_init_end(k, load);
	uint64_t rd, rd_size, rd_max;
	struct span s[8];
	unsigned n = 0;

	assert_int_equal(r->entry.mode, BOOT_LONG64);
	assert_int_equal(r->entry.rip, load + 0x200);
	assert_int_equal(r->entry.rsi, ZERO_PAGE_ADDR);

	assert_memory_equal(gpa_ptr(&r->v, load, k->payload_len),
			    r->img.p + fake_bz_setup_size(k), k->payload_len);

	rd = le32(zp + 0x218) | (uint64_t)le32(zp + 0x0c0) << 32;
	rd_size = le32(zp + 0x21c) | (uint64_t)le32(zp + 0x0c4) << 32;
	if (r->initrd) {
		rd_max = (uint64_t)k->initrd_addr_max + 1;
		if (rd_max > low_end(r))
			rd_max = low_end(r);
		check_initrd(r, rd, rd_size, init_end, rd_max);
	} else {
		assert_int_equal(rd, 0);
		assert_int_equal(rd_size, 0);
	}
	check_cmdline(r);
	check_zero_page(r, load, rd, rd_size);
	check_cpu_tables(r);

	s[n++] = (struct span){ BOOT_GDT_ADDR, BOOT_GDT_ADDR + 5 * 8, "GDT" };
	s[n++] = (struct span){ ZERO_PAGE_ADDR, ZERO_PAGE_ADDR + 4096,
				"zero page" };
	s[n++] = (struct span){ PML4_ADDR, PML4_ADDR + 4096, "PML4" };
	s[n++] = (struct span){ PDPT_ADDR, PDPT_ADDR + 4096, "PDPT" };
	s[n++] = (struct span){ PD_ADDR, PD_ADDR + 4 * 4096, "PDs" };
	s[n++] = (struct span){ CMDLINE_ADDR, CMDLINE_ADDR +
		strlen(want_cmdline(r)) + 1, "cmdline" };
	s[n++] = (struct span){ load, init_end, "kernel" };
	if (rd_size)
		s[n++] = (struct span){ rd, rd + rd_size, "initrd" };
	check_disjoint(s, n);
	if (r->v.size <= 256ULL << 20)
		check_only_written(r, s, n);
}

static void test_bz_load(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	r = run_new(RAM_64M);
	bz_image(r, &k);
	run_initrd(r, INITRD_LEN);
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	run_free(r);
}

static void test_bz_no_initrd_no_cmdline(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.cmdline = NULL;
	r->bi.rsdp = 0;
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	run_free(r);
}

/* Not relocatable: the protected-mode kernel goes to 1 MiB, whatever
 * pref_address says. */
static void test_bz_not_relocatable(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.relocatable = 0;
	k.pref_address = 0x2000000;
	k.loadflags = 0x01;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	run_initrd(r, 3 * PAGE);
	bz_ok(r);
	assert_int_equal(r->entry.rip, 0x100200);
	check_bz(r, &k, 0x100000);
	run_free(r);
}

/* A preferred address below 1 MiB would overwrite the boot structures. */
static void test_bz_pref_below_1m(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.pref_address = 0x8000;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	bz_ok(r);
	check_bz(r, &k, 0x100000);
	run_free(r);
}

/* setup_sects 0 means 4 */
static void test_bz_setup_sects_zero(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.setup_sects = 0;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	assert_int_equal(r->img.len, 5 * 512 + k.payload_len);
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	run_free(r);
}

/* The initrd ends at or below initrd_addr_max (an inclusive address). */
static void test_bz_initrd_addr_max(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.initrd_addr_max = 0x2ffffff;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	run_initrd(r, INITRD_LEN);
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	assert_int_equal(le32(gpa_ptr(&r->v, ZERO_PAGE_ADDR + 0x218, 4)),
			 (0x3000000 - INITRD_LEN) & ~(PAGE - 1));
	run_free(r);
}

/* The initrd fits exactly between the end of init_size and
 * initrd_addr_max; a byte more and it does not. */
static void test_bz_initrd_exact_fit(void **state)
{
	uint64_t init_end;
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	init_end = bz_init_end(&k, k.pref_address);
	k.initrd_addr_max = init_end + 3 * PAGE - 1;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	run_initrd(r, 3 * PAGE);
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	assert_int_equal(le32(gpa_ptr(&r->v, ZERO_PAGE_ADDR + 0x218, 4)),
			 init_end);
	run_free(r);

	r = run_new(RAM_64M);
	bz_image(r, &k);
	run_initrd(r, 3 * PAGE + 1);
	expect_reject(r, bz_load(r), "initrd");
	run_free(r);
}

/* An initrd bigger than RAM */
static void test_bz_initrd_too_big(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	r = run_new(RAM_32M);
	bz_image(r, &k);
	run_initrd(r, RAM_32M + PAGE);
	expect_reject(r, bz_load(r), "initrd");
	run_free(r);

	/* Fits in RAM, not above the kernel */
	r = run_new(RAM_32M);
	bz_image(r, &k);
	run_initrd(r, RAM_32M - bz_init_end(&k, k.pref_address) + PAGE);
	expect_reject(r, bz_load(r), "initrd");
	run_free(r);
}

static void test_bz_initrd_missing(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.initrd_path = "/nonexistent/vessel-initrd.img";
	expect_reject(r, bz_load(r), "/nonexistent/vessel-initrd.img");
	run_free(r);
}

/* An empty initrd file must behave the same whatever the RAM size:
 * loaded as "no ramdisk" (size 0). */
static void test_bz_initrd_empty(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	r = run_new(RAM_64M);
	bz_image(r, &k);
	run_initrd(r, 0);
	if (bz_load(r) < 0)
		fail_msg("empty initrd rejected: %s", r->err.msg);
	assert_int_equal(le32(gpa_ptr(&r->v, ZERO_PAGE_ADDR + 0x21c, 4)), 0);
	run_free(r);
}

/* cmdline_size is the longest command line, not counting the NUL. */
static void test_bz_cmdline_size(void **state)
{
	static char line[2048];
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.cmdline_size = 100;
	memset(line, 'x', 100);
	line[100] = '\0';
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.cmdline = line;
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	run_free(r);

	line[100] = 'y';
	line[101] = '\0';
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.cmdline = line;
	expect_reject(r, bz_load(r), "cmdline");
	/* Nothing written past the command line area */
	assert_int_equal(first_touched(&r->v, CMDLINE_ADDR + 101,
				       CMDLINE_ADDR + CMDLINE_MAX),
			 CMDLINE_ADDR + CMDLINE_MAX);
	run_free(r);
}

/* Command lines longer than the CMDLINE_ADDR area are refused even when
 * the kernel claims to take more. */
static void test_bz_cmdline_area(void **state)
{
	char *line = malloc(CMDLINE_MAX + 1);
	struct fake_bz k;
	struct run *r;

	(void)state;
	assert_non_null(line);
	fake_bz_defaults(&k);
	k.cmdline_size = 0xffffffff;
	memset(line, 'z', CMDLINE_MAX - 1);
	line[CMDLINE_MAX - 1] = '\0';
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.cmdline = line;
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	run_free(r);

	line[CMDLINE_MAX - 1] = 'z';
	line[CMDLINE_MAX] = '\0';
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.cmdline = line;
	expect_reject(r, bz_load(r), "cmdline");
	assert_int_equal(first_touched(&r->v, CMDLINE_ADDR + CMDLINE_MAX,
				       CMDLINE_ADDR + CMDLINE_MAX + PAGE),
			 CMDLINE_ADDR + CMDLINE_MAX + PAGE);
	run_free(r);
	free(line);
}

/* init_size must fit below the end of low RAM, exactly or not at all. */
static void test_bz_memory_too_small(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.init_size = RAM_32M - k.pref_address;
	r = run_new(RAM_32M);
	bz_image(r, &k);
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	run_free(r);

	k.init_size += PAGE;
	r = run_new(RAM_32M);
	bz_image(r, &k);
	expect_reject(r, bz_load(r), "memory");
	assert_ram_untouched(&r->v);
	run_free(r);
}

/* A preferred address whose end wraps past 2^64 */
static void test_bz_pref_address_wraps(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.pref_address = 0xfffffffffff00000ULL;
	k.init_size = 0x200000;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	expect_reject(r, bz_load(r), NULL);
	assert_ram_untouched(&r->v);
	run_free(r);

	/* ... or that lies in the MMIO hole */
	k.pref_address = MMIO_HOLE_START;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	expect_reject(r, bz_load(r), NULL);
	assert_ram_untouched(&r->v);
	run_free(r);
}

static void bz_reject_untouched(const struct fake_bz *k,
				void (*patch)(uint8_t *img), const char *word)
{
	struct run *r;

	r = run_new(RAM_64M);
	bz_image(r, k);
	if (patch)
		patch(r->img.p);
	run_initrd(r, INITRD_LEN);
	expect_reject(r, bz_load(r), word);
	assert_ram_untouched(&r->v);
	run_free(r);
}

static void patch_no_hdrs(uint8_t *img)
{
	memcpy(img + 0x202, "HdrT", 4);
}

static void test_bz_reject_no_hdrs(void **state)
{
	struct fake_bz k;

	(void)state;
	fake_bz_defaults(&k);
	bz_reject_untouched(&k, patch_no_hdrs, "HdrS");
}

/* Images too short to hold the setup header, fenced at their end */
static void test_bz_reject_tiny(void **state)
{
	static const size_t lens[] = { 0, 1, 0x1f1, 0x206, 0x26c, 0x271 };
	struct fake_bz k;
	uint8_t *full;

	(void)state;
	fake_bz_defaults(&k);
	full = malloc(fake_bz_size(&k));
	assert_non_null(full);
	fake_bz_write(&k, full);
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct run *r;

		r = run_new(RAM_64M);
		fenced_copy(&r->img, full, lens[i], FENCE_END);
		r->bi.kernel = r->img.p;
		r->bi.kernel_len = lens[i];
		expect_reject(r, bz_load(r), NULL);
		assert_ram_untouched(&r->v);
		run_free(r);
	}
	free(full);
}

static void test_bz_reject_old_protocol(void **state)
{
	struct fake_bz k;

	(void)state;
	fake_bz_defaults(&k);
	k.version = 0x020b;
	bz_reject_untouched(&k, NULL, "2.11");
	k.version = 0x0100;
	bz_reject_untouched(&k, NULL, NULL);
}

static void test_bz_reject_no_kernel64(void **state)
{
	struct fake_bz k;

	(void)state;
	fake_bz_defaults(&k);
	k.xloadflags = 0x0002;
	bz_reject_untouched(&k, NULL, "64-bit");
}

/* setup_sects claims more than the file holds */
static void test_bz_reject_truncated(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.payload_len = 0x800;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->img.p[0x1f1] = 200;		/* 201 sectors of setup */
	expect_reject(r, bz_load(r), "truncated");
	assert_ram_untouched(&r->v);
	run_free(r);

	/* Setup only, no protected-mode kernel at all */
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->img.p[0x1f1] = 3 + 4;		/* exactly the file */
	expect_reject(r, bz_load(r), "truncated");
	assert_ram_untouched(&r->v);
	run_free(r);
}

/* The largest header length byte: the copied header may reach 0x301 of the
 * zero page but no further; rejecting it is fine too. */
static void test_bz_header_length_huge(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.hdr_len = 0xff;
	r = run_new(RAM_64M);
	bz_image(r, &k);
	if (bz_load(r) < 0) {
		expect_reject(r, -1, NULL);
		assert_ram_untouched(&r->v);
	} else {
		check_bz(r, &k, k.pref_address);
	}
	run_free(r);
}

/* 5 GiB: low RAM up to the hole, 2 GiB of it above 4 GiB. The initrd stays
 * below initrd_addr_max (2 GiB here), the zero page lists four entries. */
static void test_bz_5g(void **state)
{
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	r = run_new(5 * GiB);
	bz_image(r, &k);
	run_initrd(r, INITRD_LEN);
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	assert_int_equal(*gpa_ptr(&r->v, ZERO_PAGE_ADDR + 0x1e8, 1), 4);
	assert_int_equal(le32(gpa_ptr(&r->v, ZERO_PAGE_ADDR + 0x218, 4)),
			 (2 * GiB - INITRD_LEN) & ~(PAGE - 1));
	run_free(r);
}

/* ---- PVH ------------------------------------------------------------- */

static void pvh_image(struct run *r, const struct fake_elf *e,
		      enum fence_side side)
{
	felf_make(e, &r->img, side);
	r->bi.kernel = r->img.p;
	r->bi.kernel_len = r->img.len;
}

static int pvh_load_run(struct run *r)
{
	err_clear(&r->err);
	return pvh_load(&r->v.m, &r->bi, &r->entry, &r->err);
}

static void pvh_ok(struct run *r)
{
	if (pvh_load_run(r) < 0)
		fail_msg("pvh_load: %s", r->err.msg);
}

/* hvm_start_info (Xen public/arch-x86/hvm/start_info.h), by offset */
#define SI_MAGIC	0
#define SI_VERSION	4
#define SI_FLAGS	8
#define SI_NR_MODULES	12
#define SI_MODLIST	16
#define SI_CMDLINE	24
#define SI_RSDP		32
#define SI_MEMMAP	40
#define SI_MEMMAP_N	48

static void check_pvh(struct run *r, const struct fake_elf *e, uint32_t entry)
{
	const uint8_t *si = gpa_ptr(&r->v, PVH_START_INFO_ADDR, 56);
	const uint8_t *seg, *mm, *mod;
	uint8_t e820[8][20];
	uint64_t kend = e->paddr + e->memsz;
	uint64_t modlist = 0, memmap, rd = 0, rd_size = 0;
	unsigned n, nmm, nmod;
	struct span s[12];
	unsigned ns = 0;

	assert_int_equal(r->entry.mode, BOOT_FLAT32);
	assert_int_equal(r->entry.rip, entry);
	assert_int_equal(r->entry.rbx, PVH_START_INFO_ADDR);

	/* The segment's file bytes, then zeroed bss */
	seg = gpa_ptr(&r->v, e->paddr, e->memsz);
	assert_memory_equal(seg, r->img.p + FELF_SEG_OFF, e->filesz);
	for (uint64_t i = e->filesz; i < e->memsz; i++)
		if (seg[i])
			fail_msg("bss byte 0x%llx is 0x%02x",
				 (unsigned long long)i, seg[i]);

	assert_int_equal(le32(si + SI_MAGIC), 0x336ec578);
	assert_int_equal(le32(si + SI_VERSION), 1);
	assert_int_equal(le32(si + SI_FLAGS), 0);
	assert_int_equal(le64(si + SI_CMDLINE), CMDLINE_ADDR);
	check_cmdline(r);
	assert_int_equal(le64(si + SI_RSDP), r->bi.rsdp);

	/* The memory map: the same as the e820 map */
	n = expected_e820(r->v.size, e820);
	nmm = le32(si + SI_MEMMAP_N);
	memmap = le64(si + SI_MEMMAP);
	assert_int_equal(nmm, n);
	mm = gpa_ptr(&r->v, memmap, 24 * n);
	for (unsigned i = 0; i < n; i++) {
		assert_memory_equal(mm + 24 * i, e820[i], 20);
		assert_int_equal(le32(mm + 24 * i + 20), 0);
	}

	nmod = le32(si + SI_NR_MODULES);
	if (r->initrd) {
		assert_int_equal(nmod, 1);
		modlist = le64(si + SI_MODLIST);
		mod = gpa_ptr(&r->v, modlist, 32);
		rd = le64(mod);
		rd_size = le64(mod + 8);
		check_initrd(r, rd, rd_size, (kend + PAGE - 1) & ~(PAGE - 1),
			     low_end(r));
		/* an optional module command line must lie in RAM */
		if (le64(mod + 16))
			assert_non_null(gmem_ptr(&r->v.m, le64(mod + 16), 1));
		assert_int_equal(le64(mod + 24), 0);
	} else {
		assert_int_equal(nmod, 0);
	}

	check_cpu_tables(r);

	/* The boot information lies in RAM the e820 map reports as usable */
	assert_true(memmap + 24 * n <= 0x9fc00);
	assert_true(modlist + 32 * nmod <= 0x9fc00);

	s[ns++] = (struct span){ BOOT_GDT_ADDR, BOOT_GDT_ADDR + 5 * 8, "GDT" };
	s[ns++] = (struct span){ PVH_START_INFO_ADDR, PVH_START_INFO_ADDR + 56,
				 "start info" };
	s[ns++] = (struct span){ memmap, memmap + 24 * n, "memmap" };
	if (nmod)
		s[ns++] = (struct span){ modlist, modlist + 32 * nmod,
					 "modlist" };
	s[ns++] = (struct span){ PML4_ADDR, PML4_ADDR + 4096, "PML4" };
	s[ns++] = (struct span){ PDPT_ADDR, PDPT_ADDR + 4096, "PDPT" };
	s[ns++] = (struct span){ PD_ADDR, PD_ADDR + 4 * 4096, "PDs" };
	s[ns++] = (struct span){ CMDLINE_ADDR, CMDLINE_ADDR +
		strlen(want_cmdline(r)) + 1, "cmdline" };
	s[ns++] = (struct span){ e->paddr, kend, "kernel" };
	if (rd_size)
		s[ns++] = (struct span){ rd, rd + rd_size, "initrd" };
	check_disjoint(s, ns);
	/* Padding between the start info, module list and memory map is the
	 * loader's business: allow the start info's whole page. */
	for (unsigned i = 0; i < ns; i++)
		if (s[i].start >= PVH_START_INFO_ADDR &&
		    s[i].end <= PVH_START_INFO_ADDR + 0x1000)
			s[i] = (struct span){ PVH_START_INFO_ADDR,
					      PVH_START_INFO_ADDR + 0x1000,
					      "start info page" };
	if (r->v.size <= 256ULL << 20)
		check_only_written(r, s, ns);
}

static void test_pvh_load(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	run_initrd(r, INITRD_LEN);
	pvh_ok(r);
	check_pvh(r, &e, PVH_ENTRY);
	run_free(r);
}

static void test_pvh_no_initrd_no_cmdline(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, 0x1234567);
	e.paddr = 0x1000000;
	e.filesz = 0x1008;
	e.memsz = 0x1008;		/* no bss */
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_START);
	r->bi.cmdline = NULL;
	r->bi.rsdp = 0;
	pvh_ok(r);
	check_pvh(r, &e, 0x1234567);
	run_free(r);
}

/* A kernel at the very end of low RAM, all bss */
static void test_pvh_segment_at_ram_end(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	e.paddr = RAM_32M - 0x5000;
	r = run_new(RAM_32M);
	pvh_image(r, &e, FENCE_END);
	pvh_ok(r);
	check_pvh(r, &e, PVH_ENTRY);
	run_free(r);
}

/* 5 GiB: the memory map has the RAM above 4 GiB, the initrd goes to the
 * top of low RAM. */
static void test_pvh_5g(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	r = run_new(5 * GiB);
	pvh_image(r, &e, FENCE_END);
	run_initrd(r, INITRD_LEN);
	pvh_ok(r);
	check_pvh(r, &e, PVH_ENTRY);
	assert_int_equal(le32(gpa_ptr(&r->v, PVH_START_INFO_ADDR + SI_MEMMAP_N,
				      4)), 4);
	run_free(r);
}

/* Program headers at an offset that is not 8-byte aligned: still a valid
 * file, and the loader reads untrusted offsets, so it must not depend on
 * their alignment (UBSan checks the accesses). */
static void test_pvh_unaligned_phdrs(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	memmove(r->img.p + 0x44, r->img.p + FELF_PHOFF, 2 * 56);
	set64(r->img.p + 32, 0x44);
	pvh_ok(r);
	check_pvh(r, &e, PVH_ENTRY);
	run_free(r);
}

/* Run pvh_load on an image and expect a clean rejection that wrote no
 * guest memory. */
static void pvh_reject(struct run *r, const char *word)
{
	expect_reject(r, pvh_load_run(r), word);
	assert_ram_untouched(&r->v);
	run_free(r);
}

static uint8_t *ph_load(struct run *r)
{
	return r->img.p + FELF_PH_LOAD;
}

static uint8_t *ph_note(struct run *r)
{
	return r->img.p + FELF_PH_NOTE;
}

static void test_pvh_reject_not_elf(void **state)
{
	uint8_t *head;
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	r->img.p[4] = 1;			/* ELFCLASS32 */
	pvh_reject(r, NULL);

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set16(r->img.p + 18, 3);		/* EM_386 */
	pvh_reject(r, NULL);

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	r->img.p[1] = 'e';
	pvh_reject(r, NULL);

	/* Shorter than an ELF header, fenced at the end */
	head = malloc(felf_size(&e));
	assert_non_null(head);
	felf_write(&e, head);
	for (size_t len = 0; len < 64; len += 8) {
		r = run_new(RAM_64M);
		fenced_copy(&r->img, head, len, FENCE_END);
		r->bi.kernel = r->img.p;
		r->bi.kernel_len = len;
		pvh_reject(r, NULL);
	}
	free(head);
}

static void test_pvh_reject_no_note(void **state)
{
	static const uint8_t id[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t pvh[4];
	struct fake_elf e;
	struct run *r;

	(void)state;
	/* Notes, but not the PVH one */
	felf_defaults(&e, PVH_ENTRY);
	e.notes_len = 0;
	felf_add_note(&e, "GNU", 3, id, sizeof(id));
	felf_add_note(&e, "Xen", 1, id, sizeof(id));
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	pvh_reject(r, "PVH");

	/* Type 18 from someone other than Xen */
	set32(pvh, PVH_ENTRY);
	e.notes_len = 0;
	felf_add_note(&e, "Xem", 18, pvh, sizeof(pvh));
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	pvh_reject(r, "PVH");

	/* Too short to hold a 32-bit entry */
	e.notes_len = 0;
	felf_add_note(&e, "Xen", 18, pvh, 2);
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	pvh_reject(r, "PVH");

	/* No PT_NOTE at all */
	felf_defaults(&e, PVH_ENTRY);
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set32(ph_note(r), 6);		/* PT_PHDR */
	pvh_reject(r, "PVH");

	/* The PT_NOTE lies past the end of the file */
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(ph_note(r) + 8, r->img.len - 16);
	pvh_reject(r, NULL);

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(ph_note(r) + 8, ~0ULL - 8);
	pvh_reject(r, NULL);
}

/* The note lookup steps from note to note with the sizes in each header;
 * a size pointing outside the note segment ends the lookup. */
static void test_pvh_reject_note_namesz_huge(void **state)
{
	uint8_t pvh[4];
	struct fake_elf e;
	struct run *r;
	uint8_t *n;

	(void)state;
	set32(pvh, PVH_ENTRY);
	felf_defaults(&e, PVH_ENTRY);
	e.notes_len = 0;
	felf_add_note(&e, "Xen", 18, pvh, sizeof(pvh));
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	n = r->img.p + felf_notes_off(&e);
	set32(n, 0x10000);		/* n_namesz past the segment */
	pvh_reject(r, "PVH");

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	n = r->img.p + felf_notes_off(&e);
	set32(n, 0xffffffff);
	pvh_reject(r, "PVH");
}

/* A note claiming a ~4 GiB name is malformed: whatever follows its header
 * is its name, not another note. Here a valid PVH note hides in the bytes
 * right after a first note whose n_namesz is 0xfffffffd. */
static void test_pvh_reject_note_namesz_wraps(void **state)
{
	uint8_t pvh[4];
	struct fake_elf e;
	struct run *r;

	(void)state;
	set32(pvh, PVH_ENTRY);
	felf_defaults(&e, PVH_ENTRY);
	e.notes_len = 0;
	memset(e.notes, 0, 12);
	set32(e.notes, 0xfffffffd);	/* n_namesz */
	set32(e.notes + 4, 0);		/* n_descsz */
	set32(e.notes + 8, 1);
	e.notes_len = 12;
	felf_add_note(&e, "Xen", 18, pvh, sizeof(pvh));
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	pvh_reject(r, "PVH");
}

/* A PVH note whose n_descsz wraps when rounded up, at the very end of the
 * file: the 32-bit entry would be read from past the end. */
static void test_pvh_reject_note_descsz_wraps(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	memset(e.notes, 0, 16);
	set32(e.notes, 4);		/* n_namesz */
	set32(e.notes + 4, 0xfffffffd);	/* n_descsz */
	set32(e.notes + 8, 18);
	memcpy(e.notes + 12, "Xen", 4);
	e.notes_len = 16;		/* the file ends after the name */
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	assert_int_equal(r->img.len, felf_notes_off(&e) + 16);
	pvh_reject(r, NULL);
}

static void test_pvh_reject_segment_outside_file(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);

	/* filesz runs one byte past the end of the file */
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(ph_load(r) + 32, r->img.len - FELF_SEG_OFF + 1);
	set64(ph_load(r) + 40, 0x100000);
	pvh_reject(r, NULL);

	/* p_offset + p_filesz wraps */
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(ph_load(r) + 8, ~0ULL - 0xfff);
	pvh_reject(r, NULL);

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(ph_load(r) + 8, r->img.len + 1);
	set64(ph_load(r) + 32, 0);
	pvh_reject(r, NULL);
}

static void test_pvh_reject_segment_outside_ram(void **state)
{
	static const struct {
		uint64_t paddr, memsz;
	} bad[] = {
		{ 0xfffffffffffff000ULL, 0x5000 },	/* wraps past 2^64 */
		{ 0xffffffffffffffffULL, 0x5000 },
		{ 0x100000, 0xffffffffffffffffULL },	/* huge */
		{ 0x100000, 0x8000000000000000ULL },
		{ RAM_64M - 0x4000, 0x5000 },		/* straddles the end */
		{ RAM_64M, 0x5000 },
		{ MMIO_HOLE_START, 0x5000 },		/* in the hole */
		{ 4 * GiB, 0x5000 },			/* no RAM above 4 GiB */
		{ 0x9f000, 0x5000 },			/* below 1 MiB */
		{ 0, 0x5000 },
	};
	struct fake_elf e;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run *r;

		r = run_new(RAM_64M);
		pvh_image(r, &e, FENCE_END);
		set64(ph_load(r) + 24, bad[i].paddr);
		set64(ph_load(r) + 40, bad[i].memsz);
		pvh_reject(r, NULL);
	}
}

static void test_pvh_reject_filesz_over_memsz(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(ph_load(r) + 40, e.filesz - 1);
	pvh_reject(r, NULL);
}

static void test_pvh_reject_phentsize(void **state)
{
	static const uint16_t sizes[] = { 0, 32, 55, 57, 64, 0xffff };
	struct fake_elf e;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct run *r;

		r = run_new(RAM_64M);
		pvh_image(r, &e, FENCE_END);
		set16(r->img.p + 54, sizes[i]);
		pvh_reject(r, NULL);
	}
}

/* Program headers past the end of the file, or partly so */
static void test_pvh_reject_phoff(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(r->img.p + 32, r->img.len);
	pvh_reject(r, NULL);

	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set64(r->img.p + 32, r->img.len - 56);	/* only the first fits */
	pvh_reject(r, NULL);

	/* e_phnum beyond the file: the first headers are fine, so the
	 * segment may already have been loaded when the rest is refused. */
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	set16(r->img.p + 56, 0xffff);
	expect_reject(r, pvh_load_run(r), NULL);
	run_free(r);
}

/* e_phoff so large that e_phoff + sizeof(Elf64_Phdr) wraps around 2^64:
 * the header would be read from just before the image. */
static void test_pvh_reject_phoff_wraps(void **state)
{
	static const uint64_t offs[] = {
		0xfffffffffffffff8ULL, 0xffffffffffffffc8ULL,
		0xffffffffffffff90ULL,
	};
	struct fake_elf e;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct run *r;

		r = run_new(RAM_64M);
		pvh_image(r, &e, FENCE_START);
		set64(r->img.p + 32, offs[i]);
		pvh_reject(r, NULL);
	}
}

/* The initrd does not fit between the kernel and the end of low RAM. */
static void test_pvh_reject_initrd(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	e.paddr = RAM_32M - 0x10000;
	r = run_new(RAM_32M);
	pvh_image(r, &e, FENCE_END);
	run_initrd(r, 0xb001);
	expect_reject(r, pvh_load_run(r), "initrd");
	run_free(r);

	/* ... and fits exactly */
	r = run_new(RAM_32M);
	pvh_image(r, &e, FENCE_END);
	run_initrd(r, 0xb000);
	pvh_ok(r);
	check_pvh(r, &e, PVH_ENTRY);
	run_free(r);

	r = run_new(RAM_32M);
	pvh_image(r, &e, FENCE_END);
	r->bi.initrd_path = "/nonexistent/vessel-initrd.img";
	expect_reject(r, pvh_load_run(r), "/nonexistent/vessel-initrd.img");
	run_free(r);
}

/* An empty initrd file is no module at all. */
static void test_pvh_initrd_empty(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	run_initrd(r, 0);
	pvh_ok(r);
	assert_int_equal(le32(gpa_ptr(&r->v, PVH_START_INFO_ADDR +
				      SI_NR_MODULES, 4)), 0);
	run_free(r);
}

/* The probes pick the right loader for each image. */
static void test_probe(void **state)
{
	struct fake_elf e;
	struct fake_bz k;
	struct fenced f;

	(void)state;
	fake_bz_defaults(&k);
	fenced_alloc(&f, fake_bz_size(&k), FENCE_START);
	fake_bz_write(&k, f.p);
	assert_true(bzimage_probe(f.p, f.len));
	assert_false(pvh_probe(f.p, f.len));
	fenced_free(&f);

	felf_defaults(&e, PVH_ENTRY);
	felf_make(&e, &f, FENCE_END);
	assert_true(pvh_probe(f.p, f.len));
	assert_false(bzimage_probe(f.p, f.len));
	fenced_free(&f);
}

/* ---- The board's parameters on the command line ---- */

/* cmdline_add_params(line, extra) into a buffer of cap bytes. */
static void add_params(const char *line, const char *extra, size_t cap,
		       const char *want)
{
	char out[256] = "untouched";
	size_t n;

	assert_true(cap <= sizeof(out));
	n = cmdline_add_params(line, extra, out, cap);
	if (!want) {
		if (n != 0)
			fail_msg("'%s' + '%s' in %zu bytes: got '%s', want no fit",
				 line, extra, cap, out);
		return;
	}
	if (n != strlen(want) || strcmp(out, want))
		fail_msg("'%s' + '%s': got '%s' (%zu), want '%s'", line, extra,
			 out, n, want);
}

static void test_cmdline_add_params(void **state)
{
	(void)state;
	add_params("console=ttyS0 quiet", "noreplace-smp", 64,
		   "console=ttyS0 quiet noreplace-smp");
	add_params("", "noreplace-smp", 64, "noreplace-smp");
	add_params("quiet ", "noreplace-smp", 64, "quiet noreplace-smp");
	/* Before "--": what follows it goes to init. */
	add_params("quiet -- single x", "noreplace-smp", 64,
		   "quiet noreplace-smp -- single x");
	add_params("-- x", "noreplace-smp", 64, "noreplace-smp -- x");
	add_params("quiet --x", "noreplace-smp", 64, "quiet --x noreplace-smp");
	/* A "--" inside quotes is a value, not the separator. */
	add_params("a=\"b -- c\" d", "noreplace-smp", 64,
		   "a=\"b -- c\" d noreplace-smp");
	/* A quote left open: nothing can go after it. */
	add_params("a=\"b c", "noreplace-smp", 64, NULL);
	add_params("a=\"b\" c=\"d", "noreplace-smp", 64, NULL);
	add_params("a=\"b\" c=\"d\"", "noreplace-smp", 64,
		   "a=\"b\" c=\"d\" noreplace-smp");
	/* What the user set stays as it is: by name, '-' and '_' alike. */
	add_params("noreplace-smp quiet", "noreplace-smp", 64, "noreplace-smp quiet");
	add_params("noreplace_smp", "noreplace-smp", 64, "noreplace_smp");
	add_params("foo=2 bar", "foo=1 baz", 64, "foo=2 bar baz");
	/* ...but only the kernel's part counts. */
	add_params("q -- noreplace-smp", "noreplace-smp", 64,
		   "q noreplace-smp -- noreplace-smp");
	/* Whole or not at all: "quiet noreplace-smp" is 19 bytes and a NUL. */
	add_params("quiet", "noreplace-smp", 20, "quiet noreplace-smp");
	add_params("quiet", "noreplace-smp", 19, NULL);
	add_params("quiet", "a b", 8, NULL);
	add_params("quiet", "", 8, "quiet");
}

/* Through a loader: the parameter goes in where it fits in the kernel's
 * cmdline_size, and the user's line alone where it does not. */
static void test_bz_cmdline_extra(void **state)
{
	static char line[128];
	static char want[128];
	struct fake_bz k;
	struct run *r;

	(void)state;
	fake_bz_defaults(&k);
	k.cmdline_size = 100;
	memset(line, 'x', 86);
	line[86] = '\0';
	memcpy(want, line, 86);
	strcpy(want + 86, " noreplace-smp");
	assert_int_equal(strlen(want), 100);
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.cmdline = line;
	r->bi.cmdline_extra = "noreplace-smp";
	r->want_cmdline = want;
	bz_ok(r);
	check_bz(r, &k, k.pref_address);
	run_free(r);

	line[86] = 'x';
	line[87] = '\0';
	r = run_new(RAM_64M);
	bz_image(r, &k);
	r->bi.cmdline = line;
	r->bi.cmdline_extra = "noreplace-smp";
	bz_ok(r);
	check_bz(r, &k, k.pref_address);        /* the line as it is */
	run_free(r);
}

static void test_pvh_cmdline_extra(void **state)
{
	struct fake_elf e;
	struct run *r;

	(void)state;
	felf_defaults(&e, PVH_ENTRY);
	r = run_new(RAM_64M);
	pvh_image(r, &e, FENCE_END);
	r->bi.cmdline_extra = "noreplace-smp";
	r->want_cmdline = CMDLINE " noreplace-smp";
	pvh_ok(r);
	check_pvh(r, &e, PVH_ENTRY);
	run_free(r);
}

/* The board asks for noreplace-smp with one vCPU only. */
static void test_board_params(void **state)
{
	struct boot_spec one = { .vcpus = 1 }, two = { .vcpus = 2 };

	(void)state;
	assert_string_equal(cmdline_board_params(&one), "noreplace-smp");
	assert_string_equal(cmdline_board_params(&two), "");
}

/* Every test releases what a failure left behind */
#define T(fn) cmocka_unit_test_teardown(fn, run_cleanup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_probe),
		T(test_bz_load),
		T(test_bz_no_initrd_no_cmdline),
		T(test_bz_not_relocatable),
		T(test_bz_pref_below_1m),
		T(test_bz_setup_sects_zero),
		T(test_bz_initrd_addr_max),
		T(test_bz_initrd_exact_fit),
		T(test_bz_initrd_too_big),
		T(test_bz_initrd_missing),
		T(test_bz_initrd_empty),
		T(test_bz_cmdline_size),
		T(test_bz_cmdline_area),
		T(test_bz_cmdline_extra),
		T(test_cmdline_add_params),
		T(test_board_params),
		T(test_bz_memory_too_small),
		T(test_bz_pref_address_wraps),
		T(test_bz_reject_no_hdrs),
		T(test_bz_reject_tiny),
		T(test_bz_reject_old_protocol),
		T(test_bz_reject_no_kernel64),
		T(test_bz_reject_truncated),
		T(test_bz_header_length_huge),
		T(test_bz_5g),
		T(test_pvh_load),
		T(test_pvh_no_initrd_no_cmdline),
		T(test_pvh_cmdline_extra),
		T(test_pvh_segment_at_ram_end),
		T(test_pvh_5g),
		T(test_pvh_reject_not_elf),
		T(test_pvh_reject_no_note),
		T(test_pvh_reject_note_namesz_huge),
		T(test_pvh_reject_note_namesz_wraps),
		T(test_pvh_reject_note_descsz_wraps),
		T(test_pvh_reject_segment_outside_file),
		T(test_pvh_reject_segment_outside_ram),
		T(test_pvh_reject_filesz_over_memsz),
		T(test_pvh_reject_phentsize),
		T(test_pvh_reject_phoff),
		T(test_pvh_reject_phoff_wraps),
		T(test_pvh_reject_initrd),
		T(test_pvh_initrd_empty),
		/* last: with -fno-sanitize-recover a UBSan report aborts the run */
		T(test_pvh_unaligned_phdrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

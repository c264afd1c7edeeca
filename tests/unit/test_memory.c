/* Guest memory: the RAM layout around the 32-bit MMIO hole and gmem_ptr(),
 * the one checked path from a guest-physical range to a host pointer;
 * memfd RAM, the sparse memory file (gmem_save, gmem_map_file) and the
 * compressed one (gmem_save_z, gmem_load_z, which refuses bad streams).
 * Large guests are backed by MAP_NORESERVE mappings: only the pages a test
 * touches cost memory. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

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

/* ---- memfd RAM, snapshot and restore ---- */

/* An unlinked temporary file, on tmpfs when there is one: the last close
 * of an unlinked file on disk waits for its writeback (a minute on a
 * busy disk). VESSEL_TEST_TMPDIR picks another place. */
static int tmp_file_in(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		fail_msg("cannot create a file in %s", dir);
	return fd;
}

static int tmp_file(void)
{
	const char *dir = getenv("VESSEL_TEST_TMPDIR");

	if (!dir)
		dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	return tmp_file_in(dir);
}

/* A file on a disk file system, where (unlike tmpfs) a page the guest
 * reads from a hole of a MAP_PRIVATE file mapping does not become data. */
static int disk_file(void)
{
	const char *dir = getenv("VESSEL_TEST_TMPDIR");

	return tmp_file_in(dir ? dir : "/var/tmp");
}

static uint64_t data_bytes(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* Host pointer for RAM offset off (region 0 first, then region 1) */
static const uint8_t *ram_at(const struct gmem *m, uint64_t off)
{
	for (unsigned r = 0; r < m->nregions; r++) {
		if (off < m->region[r].size)
			return m->region[r].hva + off;
		off -= m->region[r].size;
	}
	fail_msg("offset past RAM");
	return NULL;
}

/* The file is ram_size long, its data are RAM byte for byte, every data
 * page is non-zero, and there are `data` bytes of it: with `data` the
 * count of non-zero pages, the holes are exactly RAM's zero pages.
 * (Reading RAM's holes would allocate them: 5 GiB for a 5 GiB guest.) */
static void assert_file_is_ram(int fd, const struct gmem *m, uint64_t data)
{
	uint8_t *buf = malloc(4096);
	uint64_t seen = 0;
	off_t d, h = 0;
	struct stat st;

	assert_non_null(buf);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, m->ram_size);
	while ((d = lseek(fd, h, SEEK_DATA)) >= 0) {
		h = lseek(fd, d, SEEK_HOLE);
		assert_true(h > d);
		for (off_t o = d; o < h; o += 4096) {
			size_t n = (uint64_t)(h - o) < 4096 ? (size_t)(h - o) : 4096;

			assert_int_equal(pread(fd, buf, n, o), n);
			if (memcmp(buf, ram_at(m, (uint64_t)o), n))
				fail_msg("file differs from RAM at 0x%llx",
					 (unsigned long long)o);
			if (buf[0] == 0 && !memcmp(buf, buf + 1, n - 1))
				fail_msg("a zero page is data at 0x%llx",
					 (unsigned long long)o);
			seen += n;
		}
	}
	assert_int_equal(seen, data);
	free(buf);
}

/* The VmFlags line of /proc/self/smaps for the mapping that starts at p. */
static int smaps_flags(const void *p, char *flags, size_t size)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, found = -1;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	while (f && fgets(line, sizeof(line), f)) {
		if (isdigit((unsigned char)line[0]) || (line[0] >= 'a' && line[0] <= 'f'))
			in = !strncmp(line, want, strlen(want)); /* a mapping's first line */
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, size, "%s", line + 8);
			found = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* RAM is anonymous, 2 MiB aligned, huge pages advised and kept out of
 * forks (#18: a memfd is shmem, which Debian gives no huge pages). */
static void test_alloc_anonymous(void **state)
{
	struct error err = { 0 };
	struct gmem m;
	char flags[512];
	uint8_t back[4];

	(void)state;
	assert_int_equal(gmem_alloc(&m, 64 * MiB, &err), 0);
	assert_int_equal(m.fd, -1);
	assert_int_equal((uintptr_t)m.map % (2 * MiB), 0);
	assert_int_equal(smaps_flags(m.map, flags, sizeof(flags)), 0);
	assert_non_null(strstr(flags, " hg"));
	assert_non_null(strstr(flags, " dc"));
	assert_int_equal(gmem_write(&m, 5 * MiB + 3, "wxyz", 4, &err), 0);
	assert_int_equal(gmem_read(&m, 5 * MiB + 3, back, 4, &err), 0);
	assert_memory_equal(back, "wxyz", 4);
	gmem_free(&m);
	assert_int_equal(m.fd, -1);
	assert_null(m.map);
	gmem_free(&m);		/* twice is harmless */

	{
		uint8_t ram[8192];

		gmem_init_fake(&m, ram, sizeof(ram));
		assert_int_equal(m.fd, -1);
	}
}

/* Touched pages at the edges and in the middle, zero pages, one run
 * longer than a write batch. */
static uint64_t fill(const struct gmem *m)
{
	struct error err = { 0 };
	uint64_t top = m->ram_size < 3 * GiB ? m->ram_size : 3 * GiB;
	uint64_t data = 0;
	uint8_t page[4096];

	memset(page, 0x77, sizeof(page));
	assert_int_equal(gmem_write(m, 0, "first", 5, &err), 0);
	data += 4096;
	assert_int_equal(gmem_write(m, 8 * MiB + 100, page, 100, &err), 0);
	data += 4096;
	for (uint64_t o = 16 * MiB; o < 16 * MiB + 20 * MiB; o += 4096) {
		page[0] = (uint8_t)(o >> 12);
		page[1] = 1;
		assert_int_equal(gmem_write(m, o, page, sizeof(page), &err), 0);
		data += 4096;
	}
	memset(page, 0, sizeof(page));	/* touched, but zeros: a hole */
	assert_int_equal(gmem_write(m, 40 * MiB, page, sizeof(page), &err), 0);
	assert_int_equal(gmem_write(m, top - 3, "end", 3, &err), 0);
	data += 4096;
	if (m->nregions > 1) {
		assert_int_equal(gmem_write(m, 4 * GiB, "high", 4, &err), 0);
		assert_int_equal(gmem_write(m, 4 * GiB + m->region[1].size - 4,
					    "last", 4, &err), 0);
		data += 2 * 4096;
	}
	return data;
}

static void test_save_sparse(void **state)
{
	struct error err = { 0 };
	struct gmem m;
	uint64_t data, written = 1;
	int fd = tmp_file();

	(void)state;
	assert_int_equal(gmem_alloc(&m, 64 * MiB, &err), 0);
	data = fill(&m);
	/* Junk in the file must not show through the holes */
	assert_int_equal(pwrite(fd, "junk", 4, 40 * MiB), 4);
	assert_int_equal(gmem_save(&m, fd, &written, &err), 0);
	assert_int_equal(written, data);
	assert_file_is_ram(fd, &m, data);
	assert_true(data_bytes(fd) <= data + 64 * 1024);	/* holes */
	assert_int_equal(lseek(fd, 40 * MiB, SEEK_HOLE), 40 * MiB);
	assert_int_equal(lseek(fd, 0, SEEK_HOLE), 4096);
	gmem_free(&m);
	close(fd);
}

/* Fake memory (no fd) saves the same way: every page looked at */
static void test_save_fake(void **state)
{
	struct error err = { 0 };
	struct host h;
	struct gmem m;
	uint64_t data, written;
	int fd = tmp_file();

	(void)state;
	host_map(&h, 64 * MiB);
	gmem_init_fake(&m, h.p, 64 * MiB);
	data = fill(&m);
	assert_int_equal(gmem_save(&m, fd, &written, &err), 0);
	assert_int_equal(written, data);
	assert_file_is_ram(fd, &m, data);
	host_unmap(&h);
	close(fd);
}

/* Save 5 GiB (both regions), map the file back: the same RAM. Pages the
 * restored guest writes stay out of the file; saving the restored guest
 * keeps both what came from the file and what it wrote (a page written
 * over a hole is anonymous memory: only the page tables know it). */
static void test_save_map_file(void **state)
{
	struct error err = { 0 };
	struct gmem m, r;
	uint64_t data, written;
	uint8_t back[8];
	int fd = disk_file(), fd2 = tmp_file(), bad = tmp_file(), keep;

	(void)state;
	assert_int_equal(gmem_alloc(&m, 5 * GiB, &err), 0);
	data = fill(&m);
	assert_int_equal(gmem_save(&m, fd, &written, &err), 0);
	assert_int_equal(written, data);
	assert_true(data_bytes(fd) <= data + 64 * 1024);

	/* A file of another size is refused (and closed) */
	assert_int_equal(ftruncate(bad, 5 * GiB - 4096), 0);
	assert_int_equal(gmem_map_file(&r, 5 * GiB, bad, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "memory file"));
	assert_int_equal(fcntl(bad, F_GETFD), -1);
	assert_null(r.map);

	keep = dup(fd);
	assert_true(keep >= 0);
	assert_int_equal(gmem_map_file(&r, 5 * GiB, fd, &err), 0);
	assert_int_equal(r.nregions, 2);
	assert_int_equal(r.fd, fd);
	assert_region(&r, 1, 4 * GiB, 2 * GiB, (uint8_t *)r.map + 3 * GiB);
	assert_int_equal(gmem_read(&r, 4 * GiB, back, 4, &err), 0);
	assert_memory_equal(back, "high", 4);
	assert_int_equal(gmem_read(&r, 0, back, 5, &err), 0);
	assert_memory_equal(back, "first", 5);
	assert_memory_equal(gmem_ptr(&r, 16 * MiB, 4096),
			    gmem_ptr(&m, 16 * MiB, 4096), 4096);

	/* The restored guest writes: a hole page, a data page, zeros over data */
	assert_int_equal(gmem_write(&r, 100 * MiB, "new!", 4, &err), 0);
	assert_int_equal(gmem_write(&r, 4 * GiB, "HIGH", 4, &err), 0);
	memset(gmem_ptr(&r, 16 * MiB, 4096), 0, 4096);
	assert_int_equal(pread(keep, back, 4, 100 * MiB), 4);
	assert_memory_equal(back, "\0\0\0\0", 4);
	assert_int_equal(pread(keep, back, 4, 3 * GiB), 4);
	assert_memory_equal(back, "high", 4);
	assert_int_equal(pread(keep, back, 2, 16 * MiB), 2);
	assert_int_equal(back[1], 1);

	assert_int_equal(gmem_save(&r, fd2, &written, &err), 0);
	assert_int_equal(written, data);	/* one page more, one less */
	assert_file_is_ram(fd2, &r, data);
	assert_int_equal(pread(fd2, back, 4, 100 * MiB), 4);
	assert_memory_equal(back, "new!", 4);

	gmem_free(&r);
	assert_int_equal(fcntl(fd, F_GETFD), -1);	/* taken and closed */
	gmem_free(&m);
	close(keep);
	close(fd2);
}

static void test_save_load_z(void **state)
{
	struct error err = { 0 };
	struct gmem m, r;
	uint64_t data, written;
	int fd = tmp_file();

	(void)state;
	assert_int_equal(gmem_alloc(&m, 64 * MiB, &err), 0);
	data = fill(&m);
	assert_int_equal(gmem_save_z(&m, fd, &written, &err), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), written);
	assert_true(written > 0 && written < data / 4);

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(gmem_load_z(&r, 64 * MiB, fd, &err), 0);
	assert_non_null(r.map);
	assert_memory_equal(r.map, m.map, 64 * MiB);
	gmem_free(&r);

	/* another RAM size */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(gmem_load_z(&r, 128 * MiB, fd, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "the guest has"));
	assert_null(r.map);
	assert_int_equal(r.fd, -1);

	/* every cut of the file is refused */
	for (uint64_t len = 0; len < written; len += written / 37 + 1) {
		int t = tmp_file();
		uint8_t *buf = malloc(len + 1);

		assert_non_null(buf);
		assert_int_equal(pread(fd, buf, len, 0), len);
		assert_int_equal(pwrite(t, buf, len, 0), len);
		assert_int_equal(lseek(t, 0, SEEK_SET), 0);
		assert_int_equal(gmem_load_z(&r, 64 * MiB, t, &err), -1);
		assert_int_equal(err.input, 1);
		free(buf);
		close(t);
	}
	gmem_free(&m);
	close(fd);
}

/* How z_file makes a memory.z from the plain bytes */
enum { Z_RAW, Z_ZLIB, Z_ZSTD };
static int z_how = Z_ZLIB;     /* what the `true` of the callers means */

/* A .z file from raw bytes: compress `plain` (z_how), or use it as is */
static int z_file(const void *plain, size_t len, bool compressed,
		  const void *tail, size_t tail_len)
{
	uLongf zlen = compressBound(len) + ZSTD_compressBound(len);
	uint8_t *z = malloc(zlen);
	int fd = tmp_file();

	assert_non_null(z);
	if (compressed && z_how == Z_ZSTD) {
		zlen = ZSTD_compress(z, zlen, plain, len, 1);
		assert_false(ZSTD_isError(zlen));
	} else if (compressed) {
		assert_int_equal(compress(z, &zlen, plain, len), Z_OK);
	} else {
		memcpy(z, plain, len);
		zlen = len;
	}
	assert_int_equal(pwrite(fd, z, zlen, 0), zlen);
	if (tail_len)
		assert_int_equal(pwrite(fd, tail, tail_len, (off_t)zlen), tail_len);
	free(z);
	return fd;
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Header and runs: runs[2i] offset, runs[2i+1] length (data is 0x5a) */
static size_t z_plain(uint8_t *out, const char *magic, uint64_t ram,
		      const uint64_t *runs, unsigned nruns)
{
	size_t n = 24;

	memset(out, 0, 24);
	memcpy(out, magic, 8);
	out[8] = 1;
	le64(out + 16, ram);
	for (unsigned i = 0; i < nruns; i++) {
		uint64_t len = runs[2 * i + 1];

		le64(out + n, runs[2 * i]);
		le64(out + n + 8, len);
		n += 16;
		if (len <= 8192) {
			memset(out + n, 0x5a, len);
			n += len;
		}
	}
	return n;
}

static void z_refused(const uint8_t *plain, size_t len, bool deflated,
		      const char *tail, const char *want)
{
	struct error err = { 0 };
	struct gmem r;
	int fd = z_file(plain, len, deflated, tail, tail ? strlen(tail) : 0);

	assert_int_equal(gmem_load_z(&r, 64 * MiB, fd, &err), -1);
	assert_int_equal(err.input, 1);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, want);
	assert_null(r.map);
	close(fd);
}

static void load_z_bad(void)
{
	const uint64_t R = 64 * MiB;
	uint8_t *p = malloc(64 * 1024);
	struct error err = { 0 };
	struct gmem r;
	size_t n;
	int fd;

	assert_non_null(p);
	/* a good one first: two runs, an empty run */
	{
		const uint64_t ok[] = { 4096, 4096, 8192, 0, R - 100, 100 };

		n = z_plain(p, "VESSELMZ", R, ok, 3);
		fd = z_file(p, n, true, NULL, 0);
		assert_int_equal(gmem_load_z(&r, R, fd, &err), 0);
		assert_int_equal(((uint8_t *)r.map)[4096], 0x5a);
		assert_int_equal(((uint8_t *)r.map)[8191], 0x5a);
		assert_int_equal(((uint8_t *)r.map)[8192], 0);
		assert_int_equal(((uint8_t *)r.map)[R - 1], 0x5a);
		gmem_free(&r);
		close(fd);
		z_refused(p, n, true, "x", "data after the end");
	}
	z_refused((const uint8_t *)"not zlib at all", 15, false, NULL, "bad stream");
	z_refused((const uint8_t *)"", 0, false, NULL, "truncated");
	n = z_plain(p, "VESSELMX", R, NULL, 0);
	z_refused(p, n, true, NULL, "not a vessel memory file");
	n = z_plain(p, "VESSELMZ", R, NULL, 0);
	p[8] = 2;
	z_refused(p, n, true, NULL, "version 2");
	z_refused(p, 10, true, NULL, "ends inside a header");
	{
		/* offset, length pairs: past the end, wrapping around 2^64,
		 * starting at the end, going back, overlapping */
		static const uint64_t bad[][4] = {
			{ R - 4096, 8192 },
			{ R - 4096, U64_MAX },
			{ U64_MAX - 10, 20 },
			{ R, 1 },
			{ 8192, 4096, 4096, 4096 },
			{ 8192, 4096, 12287, 1 },
		};
		const uint64_t cut[] = { 0, 4096 };

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = z_plain(p, "VESSELMZ", R, bad[i], bad[i][2] ? 2 : 1);
			z_refused(p, n, true, NULL, "bad run");
		}
		n = z_plain(p, "VESSELMZ", R, cut, 1);
		z_refused(p, n - 1, true, NULL, "ends inside a run");
		z_refused(p, 24 + 5, true, NULL, "ends inside a header");
	}
	free(p);
}

/* Every case for zlib (older snapshots) and zstd (what vessel writes) */
static void test_load_z_bad(void **state)
{
	(void)state;
	z_how = Z_ZLIB;
	load_z_bad();
	z_how = Z_ZSTD;
	load_z_bad();
	z_how = Z_ZLIB;
}

/* gmem_save_z writes zstd; a zstd frame asking for a window past the
 * reader's bound (16 MiB) is refused, not allocated. */
static void test_save_z_is_zstd(void **state)
{
	static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	struct error err = { 0 };
	uint8_t head[4], *big, *z;
	size_t n = 64 * MiB, zlen = ZSTD_compressBound(64 * MiB);
	struct gmem m, r;
	uint64_t written;
	ZSTD_CCtx *c;
	int fd = tmp_file();

	(void)state;
	assert_int_equal(gmem_alloc(&m, 64 * MiB, &err), 0);
	memset((uint8_t *)m.map + 4096, 0x11, 4096);
	assert_int_equal(gmem_save_z(&m, fd, &written, &err), 0);
	assert_int_equal(pread(fd, head, 4, 0), 4);
	assert_memory_equal(head, magic, 4);
	gmem_free(&m);
	close(fd);

	/* A valid stream (header, one 64 MiB - 24 run... of zeros) made with
	 * a 64 MiB window (windowLog 26). */
	big = calloc(1, n);
	z = malloc(zlen);
	assert_non_null(big);
	assert_non_null(z);
	z_plain(big, "VESSELMZ", 64 * MiB, NULL, 0);
	c = ZSTD_createCCtx();
	assert_non_null(c);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 26)));
	zlen = ZSTD_compress2(c, z, zlen, big, n);
	assert_false(ZSTD_isError(zlen));
	ZSTD_freeCCtx(c);
	fd = tmp_file();
	assert_int_equal(pwrite(fd, z, zlen, 0), zlen);
	assert_int_equal(gmem_load_z(&r, 64 * MiB, fd, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "bad stream"));
	close(fd);
	free(z);
	free(big);
}

/* The measurement: 1 GiB of RAM, 256 MiB of it touched (one run, and
 * every fourth page); the file holds 256 MiB. Prints the times. */
static void test_save_1g_256m(void **state)
{
	struct error err = { 0 };
	struct timespec t0, t1;
	struct gmem m;
	uint64_t written;

	(void)state;
	for (int scattered = 0; scattered < 2; scattered++) {
		int fd = tmp_file();

		assert_int_equal(gmem_alloc(&m, 1 * GiB, &err), 0);
		if (scattered)
			for (uint64_t o = 0; o < 1 * GiB; o += 4 * 4096)
				memset((uint8_t *)m.map + o, 0xc3, 4096);
		else
			memset((uint8_t *)m.map + 512 * MiB, 0xc3, 256 * MiB);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(gmem_save(&m, fd, &written, &err), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(written, 256 * MiB);
		assert_true(data_bytes(fd) >= 256 * MiB &&
			    data_bytes(fd) <= 257 * MiB);
		print_message("gmem_save 1 GiB RAM, 256 MiB %s: %.0f ms, %llu MiB on disk\n",
			      scattered ? "in every 4th page" : "in one run",
			      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
			      (unsigned long long)(data_bytes(fd) / MiB));
		gmem_free(&m);
		close(fd);
	}
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
		cmocka_unit_test(test_alloc_anonymous),
		cmocka_unit_test(test_save_sparse),
		cmocka_unit_test(test_save_fake),
		cmocka_unit_test(test_save_map_file),
		cmocka_unit_test(test_save_load_z),
		cmocka_unit_test(test_load_z_bad),
		cmocka_unit_test(test_save_z_is_zstd),
		cmocka_unit_test(test_save_1g_256m),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

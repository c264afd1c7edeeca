/* Unit tests for the migration stream (vmm/machine/migration_stream.c,
 * docs/migration.md). Streams are written with the real writer
 * (mig_send_header, mig_send_frame) into a memfd, or hand-made where the
 * writer cannot produce the fault, and read back by mig_receive into a
 * fresh directory: a good stream gives a snapshot directory with exactly
 * the bytes sent (later pages win, memory sparse and RAM-sized); every
 * malformed, truncated or out-of-order stream is refused as bad input with
 * a message saying what is wrong; an abort carries the source's text.
 * The ORIGIN frame (the guest's name and directory) and the hook called
 * once the definition, origin and RAM size are in. The DISKS frame (each
 * disk handed to the disk hook, before that one) and the DISK_DATA frames
 * that fill a copied disk's image, both checked against what was
 * described.
 * Then the destination's answer: mig_send_reply / mig_read_reply. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../boot/layout.h"
#include "../../tools/base/fdio.h"
#include "../../vmm/machine/migration.h"
#include "../../vmm/machine/snapshot.h"
#include "../../vmm/vmstate.h"

#define RAM      MIN_RAM_SIZE
#define PAGE     MIG_PAGE

static const char config[] = "name: mig\nmemory: 32M\nkernel: vmlinuz\n";
static const char state_img[] = "VESSELST: not parsed by the stream";

struct t {
	char dir[64];
};

/* ---- fixtures ---- */

static void clean(const char *dir)
{
	static const char *const names[] = {
		SNAPSHOT_CONFIG, SNAPSHOT_MEMORY, SNAPSHOT_STATE,
	};
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			fail_msg("unlink %s: %s", path, strerror(errno));
	}
	for (unsigned i = 0; i < MIG_MAX_DISKS; i++) {  /* disk_hook's images */
		snprintf(path, sizeof(path), "%s/disk-%u.img", dir, i);
		if (unlink(path) < 0 && errno != ENOENT)
			fail_msg("unlink %s: %s", path, strerror(errno));
	}
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s/vessel-mig-XXXXXX",
		 tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	clean(t->dir);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* ---- writing streams ---- */

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int new_stream(void)
{
	int fd = memfd_create("mig-stream", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void put(int fd, const void *p, size_t len)
{
	assert_int_equal(write_all(fd, p, len), 0);
}

/* A stream with the header written. */
static int start(void)
{
	int fd = new_stream();
	struct error err = { 0 };

	assert_int_equal(mig_send_header(fd, &err), 0);
	return fd;
}

static void frame(int fd, uint32_t type, const void *a, size_t alen,
		  const void *b, size_t blen)
{
	struct error err = { 0 };

	assert_int_equal(mig_send_frame(fd, type, a, alen, b, blen, &err), 0);
}

/* A frame header only, saying whatever the test wants. */
static void raw_frame(int fd, uint32_t type, uint32_t reserved, uint64_t len)
{
	uint8_t h[16];

	wr32(h, type);
	wr32(h + 4, reserved);
	wr64(h + 8, len);
	put(fd, h, sizeof(h));
}

static const char origin_name[] = "mig", origin_dir[] = "/srv/guests";

/* CONFIG alone */
static void add_config_only(int fd)
{
	frame(fd, MIG_CONFIG, config, strlen(config), NULL, 0);
}

/* CONFIG and ORIGIN */
static void add_config(int fd)
{
	struct error err = { 0 };

	add_config_only(fd);
	assert_int_equal(mig_send_origin(fd, origin_name, origin_dir, &err), 0);
}

static void add_ram(int fd, uint64_t size)
{
	uint8_t b[8];

	wr64(b, size);
	frame(fd, MIG_RAM, b, 8, NULL, 0);
}

/* n pages at off, every byte fill. */
static void add_pages(int fd, uint64_t off, size_t n, uint8_t fill)
{
	uint8_t o[8];
	uint8_t *p = malloc(n * PAGE);

	assert_non_null(p);
	memset(p, fill, n * PAGE);
	wr64(o, off);
	frame(fd, MIG_PAGES, o, 8, p, n * PAGE);
	free(p);
}

static void add_state(int fd)
{
	frame(fd, MIG_STATE, state_img, strlen(state_img), NULL, 0);
}

static void add_end(int fd)
{
	frame(fd, MIG_END, NULL, 0, NULL, 0);
}

/* header, CONFIG, ORIGIN, RAM (RAM bytes) */
static int start_ram(void)
{
	int fd = start();

	add_config(fd);
	add_ram(fd, RAM);
	return fd;
}

/* ---- reading them ---- */

static int receive_hooked(struct t *t, int fd, struct mig_rx_stats *st,
			  const struct mig_rx_hooks *hooks, struct error *err)
{
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return mig_receive(fd, t->dir, st, hooks, err);
}

static int receive(struct t *t, int fd, struct mig_rx_stats *st,
		   struct error *err)
{
	return receive_hooked(t, fd, st, NULL, err);
}

/* The stream in fd must be refused (err.input as given) with a message
 * containing want; fd is closed and the directory emptied. */
static void refused_hooked(struct t *t, int fd, const struct mig_rx_hooks *hooks,
			   int input, const char *want)
{
	struct mig_rx_stats st;
	struct error err = { 0 };

	assert_int_equal(receive_hooked(t, fd, &st, hooks, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, want);
	if (err.input != input)
		fail_msg("\"%s\": input %d, expected %d", err.msg, err.input, input);
	close(fd);
	clean(t->dir);
}

static void refused_as(struct t *t, int fd, int input, const char *want)
{
	refused_hooked(t, fd, NULL, input, want);
}

static void refused(struct t *t, int fd, const char *want)
{
	refused_as(t, fd, 1, want);
}

static void accepted(struct t *t, int fd, struct mig_rx_stats *st)
{
	struct error err = { 0 };

	if (receive(t, fd, st, &err) != 0)
		fail_msg("refused: %s", err.msg);
	close(fd);
}

static uint8_t *slurp(const struct t *t, const char *name, size_t *len)
{
	char path[128];
	struct stat sb;
	uint8_t *b;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	b = malloc((size_t)sb.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read_full(fd, b, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return b;
}

static void file_is(const struct t *t, const char *name, const void *want,
		    size_t len)
{
	size_t got;
	uint8_t *b = slurp(t, name, &got);

	assert_int_equal(got, len);
	assert_memory_equal(b, want, len);
	free(b);
}

static size_t dir_entries(const struct t *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- a good stream ---- */

/* CONFIG, RAM, pages (the same page twice: the later wins; first and last
 * page), STATE, END: config.yaml, memory and state hold exactly what was
 * sent; memory is RAM bytes long, zero and unallocated elsewhere. */
static void test_good_stream(void **state)
{
	struct t *t = *state;
	struct mig_rx_stats st;
	uint8_t *want = calloc(1, RAM), *mem;
	struct stat sb;
	char path[128];
	size_t len;
	int fd = start_ram();

	assert_non_null(want);
	add_pages(fd, 0, 3, 0xa1);              /* pages 0-2 */
	memset(want, 0xa1, 3 * PAGE);
	add_pages(fd, 1 << 20, 1, 0xb2);
	memset(want + (1 << 20), 0xb2, PAGE);
	add_pages(fd, PAGE, 1, 0xc3);           /* page 1 again: it wins */
	memset(want + PAGE, 0xc3, PAGE);
	add_pages(fd, RAM - PAGE, 1, 0xd4);     /* the last page */
	memset(want + RAM - PAGE, 0xd4, PAGE);
	add_pages(fd, 1 << 20, 1, 0xe5);        /* and this one again */
	memset(want + (1 << 20), 0xe5, PAGE);
	add_state(fd);
	add_end(fd);
	accepted(t, fd, &st);

	assert_int_equal(st.ram_size, RAM);
	assert_string_equal(st.name, origin_name);
	assert_string_equal(st.config_dir, origin_dir);
	assert_int_equal(st.frames, 5);
	assert_int_equal(st.page_bytes, 7 * PAGE);
	assert_int_equal(st.config_len, strlen(config));
	assert_int_equal(st.state_len, strlen(state_img));
	assert_int_equal(dir_entries(t), 3);
	file_is(t, SNAPSHOT_CONFIG, config, strlen(config));
	file_is(t, SNAPSHOT_STATE, state_img, strlen(state_img));
	mem = slurp(t, SNAPSHOT_MEMORY, &len);
	assert_int_equal(len, RAM);
	assert_true(memcmp(mem, want, RAM) == 0);
	free(mem);
	free(want);
	/* sparse: about the 6 pages written, not 32 MiB */
	snprintf(path, sizeof(path), "%s/%s", t->dir, SNAPSHOT_MEMORY);
	assert_int_equal(stat(path, &sb), 0);
	if ((uint64_t)sb.st_blocks * 512 > (1 << 20))
		fail_msg("memory file uses %llu bytes on disk",
			 (unsigned long long)sb.st_blocks * 512);
	/* the directory is a snapshot now: a second stream into it fails */
	fd = start_ram();
	refused_as(t, fd, 0, "exists");
}

/* No pages at all (a guest that never touched its RAM) is fine: the
 * memory file is all hole. */
static void test_no_pages(void **state)
{
	struct t *t = *state;
	struct mig_rx_stats st;
	int fd = start_ram();

	add_state(fd);
	add_end(fd);
	accepted(t, fd, &st);
	assert_int_equal(st.frames, 0);
	assert_int_equal(st.page_bytes, 0);
	{
		char path[128];
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", t->dir, SNAPSHOT_MEMORY);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_size, RAM);
		assert_true(sb.st_blocks * 512 <= 65536);
	}
}

/* The largest frames accepted: MIG_MAX_PAGES of pages in one frame, a
 * MIG_MAX_CONFIG definition, a state image longer than the read buffer,
 * the largest RAM size; through a pipe (short reads) from a child. */
static void test_limits_through_pipe(void **state)
{
	struct t *t = *state;
	struct mig_rx_stats st;
	struct error err = { 0 };
	size_t slen = MIG_MAX_PAGES + PAGE + 123;
	char *cfg = malloc(MIG_MAX_CONFIG);
	uint8_t *big = malloc(slen), *got;
	int p[2], status;
	pid_t pid;

	assert_non_null(cfg);
	assert_non_null(big);
	memset(cfg, '#', MIG_MAX_CONFIG);
	cfg[MIG_MAX_CONFIG - 1] = '\n';
	for (size_t i = 0; i < slen; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 12));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t b[8];
		int ok;

		close(p[0]);
		ok = mig_send_header(p[1], &err) == 0 &&
		     mig_send_frame(p[1], MIG_CONFIG, cfg, MIG_MAX_CONFIG, NULL,
				    0, &err) == 0 &&
		     mig_send_origin(p[1], origin_name, origin_dir, &err) == 0;
		wr64(b, MAX_RAM_SIZE);
		ok = ok && mig_send_frame(p[1], MIG_RAM, b, 8, NULL, 0, &err) == 0;
		wr64(b, MAX_RAM_SIZE - MIG_MAX_PAGES);
		ok = ok && mig_send_frame(p[1], MIG_PAGES, b, 8, big,
					  MIG_MAX_PAGES, &err) == 0;
		ok = ok && mig_send_frame(p[1], MIG_STATE, big, slen, NULL, 0,
					  &err) == 0;
		ok = ok && mig_send_frame(p[1], MIG_END, NULL, 0, NULL, 0,
					  &err) == 0;
		_exit(ok ? 0 : 1);
	}
	close(p[1]);
	if (mig_receive(p[0], t->dir, &st, NULL, &err) != 0)
		fail_msg("refused: %s", err.msg);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(st.ram_size, MAX_RAM_SIZE);
	assert_int_equal(st.page_bytes, MIG_MAX_PAGES);
	assert_int_equal(st.config_len, MIG_MAX_CONFIG);
	assert_int_equal(st.state_len, slen);
	file_is(t, SNAPSHOT_CONFIG, cfg, MIG_MAX_CONFIG);
	file_is(t, SNAPSHOT_STATE, big, slen);
	{
		char path[128];
		int fd;
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", t->dir, SNAPSHOT_MEMORY);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &sb), 0);
		assert_int_equal((uint64_t)sb.st_size, MAX_RAM_SIZE);
		got = malloc(MIG_MAX_PAGES);
		assert_non_null(got);
		assert_int_equal(pread(fd, got, MIG_MAX_PAGES,
				       (off_t)(MAX_RAM_SIZE - MIG_MAX_PAGES)),
				 MIG_MAX_PAGES);
		assert_true(memcmp(got, big, MIG_MAX_PAGES) == 0);
		assert_int_equal(pread(fd, got, PAGE, 0), PAGE);
		for (size_t i = 0; i < PAGE; i++)
			assert_int_equal(got[i], 0);
		free(got);
		close(fd);
	}
	free(cfg);
	free(big);
}

/* ---- the header ---- */

static void test_bad_header(void **state)
{
	struct t *t = *state;
	uint8_t h[16];
	int fd;

	memcpy(h, "VESSELMX", 8);
	wr32(h + 8, MIG_VERSION);
	wr32(h + 12, 0);
	fd = new_stream();
	put(fd, h, 16);
	add_config(fd);
	refused(t, fd, "bad magic");

	memcpy(h, MIG_REPLY_MAGIC, 8);          /* an answer is not a stream */
	fd = new_stream();
	put(fd, h, 16);
	refused(t, fd, "bad magic");

	memcpy(h, MIG_MAGIC, 8);
	wr32(h + 8, MIG_VERSION + 1);
	fd = new_stream();
	put(fd, h, 16);
	add_config(fd);
	refused(t, fd, "version 4 (flags 0); this vessel speaks version 3");

	wr32(h + 8, 0);
	fd = new_stream();
	put(fd, h, 16);
	refused(t, fd, "version 0");

	wr32(h + 8, MIG_VERSION);
	wr32(h + 12, 1);
	fd = new_stream();
	put(fd, h, 16);
	add_config(fd);
	refused(t, fd, "flags 1");

	wr32(h + 12, 0x80000000u);
	fd = new_stream();
	put(fd, h, 16);
	refused(t, fd, "flags 2147483648");

	fd = new_stream();                      /* nothing at all */
	refused(t, fd, "truncated in the stream header (0 of 16 bytes)");
}

static void test_reserved_bits(void **state)
{
	struct t *t = *state;
	int fd = start();

	raw_frame(fd, MIG_CONFIG, 1, strlen(config));
	put(fd, config, strlen(config));
	refused(t, fd, "frame 1 has reserved bits set");

	fd = start_ram();
	raw_frame(fd, MIG_END, 0x100, 0);
	refused(t, fd, "frame 5 has reserved bits set");

	fd = start_ram();                       /* even on an abort */
	raw_frame(fd, MIG_ABORT, 1, 2);
	put(fd, "no", 2);
	refused(t, fd, "reserved bits set");
}

/* ---- truncation ---- */

/* Every cut of a small good stream is refused as truncated; the cut
 * points cover each header byte and the inside of every payload. */
static void test_truncated_everywhere(void **state)
{
	struct t *t = *state;
	int fd = start_ram();
	uint8_t *whole;
	off_t len;
	size_t cuts = 0;

	add_pages(fd, 2 * PAGE, 2, 0x5a);
	add_state(fd);
	add_end(fd);
	len = lseek(fd, 0, SEEK_END);
	whole = malloc((size_t)len);
	assert_non_null(whole);
	assert_int_equal(pread(fd, whole, (size_t)len, 0), len);
	close(fd);
	{   /* the whole stream is good */
		struct mig_rx_stats st;

		fd = new_stream();
		put(fd, whole, (size_t)len);
		accepted(t, fd, &st);
		clean(t->dir);
	}
	for (off_t cut = 0; cut < len; cut++) {
		/* inside the 8 KiB of pages: every 509th byte only */
		off_t pages = 16 + 16 + (off_t)strlen(config) + 16 + 8 + 16 + 8;

		if (cut > pages + 8 && cut < pages + 2 * PAGE - 8 &&
		    (cut - pages) % 509)
			continue;
		fd = new_stream();
		put(fd, whole, (size_t)cut);
		refused(t, fd, "truncated in ");
		cuts++;
	}
	assert_true(cuts > 150);
	free(whole);
}

/* The message names what was cut. */
static void test_truncated_phases(void **state)
{
	struct t *t = *state;
	uint8_t o[8], page[PAGE];
	int fd;

	fd = new_stream();
	put(fd, MIG_MAGIC, 8);
	refused(t, fd, "truncated in the stream header (8 of 16 bytes)");

	fd = start();
	put(fd, "\x01\0\0\0", 4);
	refused(t, fd, "truncated in a frame header (4 of 16 bytes)");

	fd = start();
	refused(t, fd, "truncated in a frame header (0 of 16 bytes)");

	fd = start();
	raw_frame(fd, MIG_CONFIG, 0, 100);
	put(fd, config, 10);
	refused(t, fd, "truncated in config.yaml (10 of 100 bytes)");

	fd = start();
	add_config_only(fd);
	raw_frame(fd, MIG_ORIGIN, 0, 20);
	put(fd, "\3\0\0\0mig/s", 8);
	refused(t, fd, "truncated in the origin (8 of 20 bytes)");

	fd = start();
	add_config(fd);
	raw_frame(fd, MIG_RAM, 0, 8);
	put(fd, "\0\0", 2);
	refused(t, fd, "truncated in the RAM size (2 of 8 bytes)");

	fd = start_ram();
	raw_frame(fd, MIG_PAGES, 0, 8 + PAGE);
	put(fd, "\0\0\0", 3);
	refused(t, fd, "truncated in a pages frame (3 of 8 bytes)");

	fd = start_ram();                       /* mid-pages */
	memset(page, 0x11, sizeof(page));
	wr64(o, 0);
	raw_frame(fd, MIG_PAGES, 0, 8 + 2 * PAGE);
	put(fd, o, 8);
	put(fd, page, PAGE);
	put(fd, page, 100);
	refused(t, fd, "truncated in a pages frame (4196 of 8192 bytes)");

	fd = start_ram();                       /* mid-state */
	add_pages(fd, 0, 1, 1);
	raw_frame(fd, MIG_STATE, 0, 1000);
	put(fd, state_img, 20);
	refused(t, fd, "truncated in state (20 of 1000 bytes)");

	fd = start_ram();                       /* no END */
	add_pages(fd, 0, 1, 1);
	add_state(fd);
	refused(t, fd, "truncated in a frame header (0 of 16 bytes)");

	fd = start_ram();                       /* half an END */
	add_state(fd);
	put(fd, "\x05\0\0\0\0\0\0\0", 8);
	refused(t, fd, "truncated in a frame header (8 of 16 bytes)");

	fd = start_ram();                       /* cut in an abort */
	raw_frame(fd, MIG_ABORT, 0, 50);
	put(fd, "disk", 4);
	refused(t, fd, "truncated in an abort (4 of 50 bytes)");
}

/* ---- order ---- */

static void test_out_of_order(void **state)
{
	struct t *t = *state;
	int fd;

	fd = start();                           /* PAGES first */
	add_pages(fd, 0, 1, 1);
	refused(t, fd, "frame type 3 where the definition was expected");

	fd = start();                           /* RAM before CONFIG */
	add_ram(fd, RAM);
	refused(t, fd, "frame type 2 where the definition was expected");

	fd = start();                           /* END first */
	add_end(fd);
	refused(t, fd, "frame type 5 where the definition was expected");

	fd = start();                           /* RAM before ORIGIN */
	add_config_only(fd);
	add_ram(fd, RAM);
	refused(t, fd, "frame type 2 where the origin was expected");

	fd = start();                           /* ORIGIN first */
	add_config(fd);
	assert_int_equal(lseek(fd, 16, SEEK_SET), 16);
	assert_int_equal(ftruncate(fd, 16), 0);
	{
		struct error e = { 0 };

		assert_int_equal(mig_send_origin(fd, "a", "/b", &e), 0);
	}
	refused(t, fd, "frame type 7 where the definition was expected");

	fd = start();                           /* ORIGIN twice */
	add_config(fd);
	{
		struct error e = { 0 };

		assert_int_equal(mig_send_origin(fd, "a", "/b", &e), 0);
	}
	refused(t, fd, "frame type 7 where the disks or the RAM size");

	fd = start();                           /* PAGES before RAM */
	add_config(fd);
	add_pages(fd, 0, 1, 1);
	refused(t, fd, "frame type 3 where the disks or the RAM size");

	fd = start();                           /* STATE before RAM */
	add_config(fd);
	add_state(fd);
	refused(t, fd, "frame type 4 where the disks or the RAM size");

	fd = start();                           /* CONFIG twice */
	add_config(fd);
	add_config(fd);
	refused(t, fd, "frame type 1 where the disks or the RAM size");

	fd = start_ram();                       /* CONFIG after RAM */
	add_config(fd);
	refused(t, fd, "frame type 1 where pages, disk data, a sync or the state");

	fd = start_ram();                       /* RAM twice */
	add_pages(fd, 0, 1, 1);
	add_ram(fd, RAM);
	refused(t, fd, "frame type 2 where pages, disk data, a sync or the state");

	fd = start_ram();                       /* END before STATE */
	add_pages(fd, 0, 1, 1);
	add_end(fd);
	refused(t, fd, "frame type 5 where pages, disk data, a sync or the state");

	fd = start_ram();                       /* PAGES after STATE */
	add_state(fd);
	add_pages(fd, 0, 1, 1);
	refused(t, fd, "frame type 3 where the end was expected");

	fd = start_ram();                       /* STATE twice */
	add_state(fd);
	add_state(fd);
	refused(t, fd, "frame type 4 where the end was expected");

	fd = start();                           /* DISKS first */
	raw_frame(fd, MIG_DISKS, 0, 0);
	refused(t, fd, "frame type 8 where the definition was expected");

	fd = start();                           /* unknown types */
	raw_frame(fd, 10, 0, 0);
	refused(t, fd, "frame type 10 where the definition was expected");

	fd = start_ram();
	raw_frame(fd, 0, 0, 0);
	refused(t, fd, "frame type 0 where pages, disk data, a sync or the state");

	fd = start_ram();                       /* a huge length is not read */
	raw_frame(fd, 0xffffffffu, 0, UINT64_MAX);
	refused(t, fd, "frame type 4294967295 where pages, disk data, a sync or the state");
}

/* ---- the RAM frame ---- */

static void test_ram_size(void **state)
{
	static const uint64_t bad[] = {
		0, PAGE, MIN_RAM_SIZE - PAGE, MIN_RAM_SIZE + 1,
		MIN_RAM_SIZE + PAGE / 2, MAX_RAM_SIZE + PAGE, MAX_RAM_SIZE + 1,
		MAX_RAM_SIZE - 1, UINT64_MAX, UINT64_MAX - PAGE + 1,
	};
	struct t *t = *state;
	char want[64];
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = start();
		add_config(fd);
		add_ram(fd, bad[i]);
		snprintf(want, sizeof(want), "RAM size %llu is out of range",
			 (unsigned long long)bad[i]);
		refused(t, fd, want);
	}
	fd = start();                           /* the frame's length */
	add_config(fd);
	raw_frame(fd, MIG_RAM, 0, 9);
	put(fd, "\0\0\0\2\0\0\0\0\0", 9);
	refused(t, fd, "RAM frame of 9 bytes (expected 8)");

	fd = start();
	add_config(fd);
	raw_frame(fd, MIG_RAM, 0, 0);
	refused(t, fd, "RAM frame of 0 bytes (expected 8)");

	fd = start();
	add_config(fd);
	raw_frame(fd, MIG_RAM, 0, UINT64_MAX);
	refused(t, fd, "RAM frame of 18446744073709551615 bytes");

	fd = start();                           /* the smallest is fine */
	add_config(fd);
	add_ram(fd, MIN_RAM_SIZE + PAGE);
	add_pages(fd, MIN_RAM_SIZE, 1, 9);
	add_state(fd);
	add_end(fd);
	{
		struct mig_rx_stats st;

		accepted(t, fd, &st);
		assert_int_equal(st.ram_size, MIN_RAM_SIZE + PAGE);
	}
}

/* ---- pages frames ---- */

/* A pages frame with offset off and n bytes after it (0-filled). */
static void raw_pages(int fd, uint64_t off, uint64_t n)
{
	uint8_t o[8];

	raw_frame(fd, MIG_PAGES, 0, 8 + n);
	wr64(o, off);
	put(fd, o, 8);
	if (n <= 2 * MIG_MAX_PAGES) {
		uint8_t *z = calloc(1, n ? n : 1);

		assert_non_null(z);
		put(fd, z, n);
		free(z);
	}
}

static void test_pages_offset(void **state)
{
	static const struct {
		uint64_t off, n;
		const char *want;
	} bad[] = {
		{ 1, PAGE, "pages at 0x1: not page-aligned" },
		{ 2048, PAGE, "pages at 0x800: not page-aligned" },
		{ RAM - 1, PAGE, "pages at 0x1ffffff: not page-aligned" },
		{ RAM, PAGE, "pages at 0x2000000+0x1000 are outside the guest's "
			     "33554432 bytes of RAM" },
		{ RAM - PAGE, 2 * PAGE, "pages at 0x1fff000+0x2000" },
		{ RAM + PAGE, PAGE, "pages at 0x2001000" },
		{ 0, RAM + PAGE, "pages frame of" },    /* over MIG_MAX_PAGES */
		{ UINT64_MAX - PAGE + 1, PAGE,
		  "pages at 0xfffffffffffff000+0x1000" },
		{ UINT64_MAX - PAGE + 1, 2 * PAGE,
		  "pages at 0xfffffffffffff000+0x2000" },
		{ UINT64_MAX - 2 * PAGE + 1, 2 * PAGE,
		  "pages at 0xffffffffffffe000+0x2000" },
		{ UINT64_MAX, PAGE, "pages at 0xffffffffffffffff" },
		{ 1ull << 63, PAGE, "pages at 0x8000000000000000" },
	};
	struct t *t = *state;
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = start_ram();
		add_pages(fd, 0, 1, 1);
		raw_pages(fd, bad[i].off, bad[i].n);
		add_state(fd);
		add_end(fd);
		refused(t, fd, bad[i].want);
	}
	/* the offset is checked against this guest's RAM, not the largest */
	fd = start();
	add_config(fd);
	add_ram(fd, 64 << 20);
	raw_pages(fd, 64 << 20, PAGE);
	refused(t, fd, "outside the guest's 67108864 bytes of RAM");
}

static void test_pages_length(void **state)
{
	static const uint64_t bad[] = {
		0, 1, 7, 8, 8 + 1, 8 + PAGE - 1, 8 + PAGE + 1, 8 + 2 * PAGE - 8,
		8 + MIG_MAX_PAGES + PAGE, 8 + MIG_MAX_PAGES + 1,
		8 + 2 * (uint64_t)MIG_MAX_PAGES, UINT64_MAX, UINT64_MAX - 7,
		(uint64_t)1 << 63,
	};
	struct t *t = *state;
	char want[128];
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = start_ram();
		raw_frame(fd, MIG_PAGES, 0, bad[i]);
		put(fd, "\0\0\0\0\0\0\0\0", 8);
		snprintf(want, sizeof(want), "pages frame of %llu bytes "
			 "(expected 8 + a multiple of 4096, at most 16777216)",
			 (unsigned long long)bad[i]);
		refused(t, fd, want);
	}
}

/* ---- CONFIG, STATE, END and ABORT payloads ---- */

static void test_payload_sizes(void **state)
{
	struct t *t = *state;
	int fd;

	fd = start();
	raw_frame(fd, MIG_CONFIG, 0, 0);
	add_ram(fd, RAM);
	refused(t, fd, "a definition of 0 bytes (1 to 1048576)");

	fd = start();
	raw_frame(fd, MIG_CONFIG, 0, MIG_MAX_CONFIG + 1);
	refused(t, fd, "a definition of 1048577 bytes");

	fd = start();
	raw_frame(fd, MIG_CONFIG, 0, UINT64_MAX);
	refused(t, fd, "a definition of 18446744073709551615 bytes");

	fd = start_ram();
	raw_frame(fd, MIG_STATE, 0, 0);
	add_end(fd);
	refused(t, fd, "a state image of 0 bytes (1 to 67108864)");

	fd = start_ram();
	raw_frame(fd, MIG_STATE, 0, VMSTATE_MAX_SIZE + 1ull);
	refused(t, fd, "a state image of 67108865 bytes");

	fd = start_ram();
	raw_frame(fd, MIG_STATE, 0, UINT64_MAX);
	refused(t, fd, "a state image of 18446744073709551615 bytes");

	fd = start_ram();
	add_state(fd);
	frame(fd, MIG_END, "x", 1, NULL, 0);
	refused(t, fd, "an end frame with 1 bytes");

	fd = start_ram();
	add_state(fd);
	raw_frame(fd, MIG_END, 0, UINT64_MAX);
	refused(t, fd, "an end frame with 18446744073709551615 bytes");
}

/* ---- the ORIGIN frame ---- */

/* An ORIGIN frame with payload p (len bytes) after CONFIG, then RAM. */
static int with_origin(const void *p, size_t len)
{
	int fd = start();

	add_config_only(fd);
	frame(fd, MIG_ORIGIN, p, len, NULL, 0);
	add_ram(fd, RAM);
	return fd;
}

/* Malformed: too short, a name of 0 bytes, or as long as the payload
 * (no directory), or too long, a NUL in either, a directory too long for
 * a path; each refused as bad input before anything else is read. */
static void test_origin(void **state)
{
	struct t *t = *state;
	static char big[4 + 300 + 5000];
	struct error err = { 0 };
	int fd;

	fd = with_origin("\1\0\0\0a", 5);
	refused(t, fd, "origin frame of 5 bytes");

	static const struct { const char *p; size_t len; } bad[] = {
		{ "\0\0\0\0ab/", 7 },         /* no name */
		{ "\3\0\0\0abc", 7 },         /* no directory */
		{ "\x09\0\0\0abc", 7 },       /* a name past the end */
		{ "\2\0\0\0a\0/srv", 10 },    /* a NUL in the name */
		{ "\2\0\0\0ab/s\0v", 10 },    /* and in the directory */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = with_origin(bad[i].p, bad[i].len);
		refused(t, fd, "malformed origin frame");
	}

	memset(big, 'x', sizeof(big));
	memcpy(big, "\0\1\0\0", 4);         /* a name of 256 bytes */
	fd = with_origin(big, 4 + 256 + 10);
	refused(t, fd, "malformed origin frame");

	memcpy(big, "\1\0\0\0", 4);         /* a directory of 4096 bytes */
	fd = with_origin(big, 4 + 1 + 4096);
	refused(t, fd, "malformed origin frame");

	fd = with_origin(big, sizeof(big));     /* longer than both can be */
	refused(t, fd, "origin frame of 5304 bytes");

	memcpy(big, "\xff\0\0\0", 4);       /* the longest of both */
	fd = with_origin(big, 4 + 255 + 4095);
	add_state(fd);
	add_end(fd);
	accepted(t, fd, &(struct mig_rx_stats){ 0 });
	clean(t->dir);

	/* The writer refuses what the reader would. */
	memset(big, 'x', sizeof(big));
	big[4096] = '\0';
	assert_int_equal(mig_send_origin(-1, "a", big, &err), -1);
	assert_int_equal(mig_send_origin(-1, "", "/srv", &err), -1);
}

struct hook_calls {
	int calls;
	uint64_t ram_size, file_size;
	char name[MIG_MAX_NAME + 1], dir[4096];
	const char *fail;               /* return -1 with this message */
	const char *tdir;
};

static int hook(void *opaque, const struct mig_rx_stats *st, struct error *err)
{
	struct hook_calls *h = opaque;
	char path[128];
	struct stat sb;

	h->calls++;
	h->ram_size = st->ram_size;
	snprintf(h->name, sizeof(h->name), "%s", st->name);
	snprintf(h->dir, sizeof(h->dir), "%s", st->config_dir);
	snprintf(path, sizeof(path), "%s/%s", h->tdir, SNAPSHOT_MEMORY);
	if (stat(path, &sb) == 0)
		h->file_size = (uint64_t)sb.st_size;
	snprintf(path, sizeof(path), "%s/%s", h->tdir, SNAPSHOT_CONFIG);
	if (stat(path, &sb) < 0)
		h->file_size = 0;       /* the definition must be in */
	return h->fail ? err_input(err, "%s", h->fail) : 0;
}

/* The hook runs once, after RAM: name, directory and RAM size given, the
 * definition in and the memory file RAM-sized; never for a stream that
 * failed before; its failure ends the receive with its message. */
static void test_prepared_hook(void **state)
{
	struct t *t = *state;
	struct hook_calls h = { .tdir = t->dir };
	const struct mig_rx_hooks hooks = { .prepared = hook, .opaque = &h };
	struct mig_rx_stats st;
	struct error err = { 0 };
	int fd;

	fd = start_ram();
	add_pages(fd, 0, 1, 1);
	add_state(fd);
	add_end(fd);
	assert_int_equal(receive_hooked(t, fd, &st, &hooks, &err), 0);
	close(fd);
	clean(t->dir);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.ram_size, RAM);
	assert_int_equal(h.file_size, RAM);
	assert_string_equal(h.name, origin_name);
	assert_string_equal(h.dir, origin_dir);

	h = (struct hook_calls){ .tdir = t->dir };
	fd = start();
	add_config(fd);
	raw_frame(fd, MIG_RAM, 0, 9);
	assert_int_equal(receive_hooked(t, fd, &st, &hooks, &err), -1);
	close(fd);
	clean(t->dir);
	assert_int_equal(h.calls, 0);

	h = (struct hook_calls){ .tdir = t->dir, .fail = "no room here" };
	fd = start_ram();
	add_pages(fd, 0, 1, 1);
	assert_int_equal(receive_hooked(t, fd, &st, &hooks, &err), -1);
	close(fd);
	clean(t->dir);
	assert_int_equal(h.calls, 1);
	assert_string_equal(err.msg, "no room here");
}

/* ---- SYNC frames and their acks ---- */

struct sync_calls {
	unsigned calls;
	uint64_t token[4];
	uint64_t page_bytes;            /* st->page_bytes at the last sync */
	const struct mig_rx_stats *st;
	const char *fail;
};

static int sync_hook(void *opaque, uint64_t token, struct error *err)
{
	struct sync_calls *c = opaque;

	if (c->calls < 4)
		c->token[c->calls] = token;
	c->calls++;
	c->page_bytes = c->st ? c->st->page_bytes : 0;
	return c->fail ? err_set(err, "%s", c->fail) : 0;
}

static void add_sync(int fd, uint64_t token)
{
	uint8_t b[8];

	wr64(b, token);
	frame(fd, MIG_SYNC, b, 8, NULL, 0);
}

/* SYNC frames reach the hook with their tokens, in order, once all that
 * came before them is written; one out of place, of another length, or
 * with no hook to answer it is refused; the hook's failure ends the
 * receive. */
static void test_sync(void **state)
{
	struct t *t = *state;
	struct mig_rx_stats st;
	struct sync_calls c = { .st = &st };
	const struct mig_rx_hooks hooks = { .synced = sync_hook, .opaque = &c };
	const struct mig_rx_hooks none = { 0 };
	struct error err = { 0 };
	int fd;

	fd = start_ram();
	add_pages(fd, 0, 2, 1);
	add_sync(fd, 7);
	add_pages(fd, 0, 1, 2);
	add_sync(fd, UINT64_MAX);
	add_state(fd);
	add_end(fd);
	assert_int_equal(receive_hooked(t, fd, &st, &hooks, &err), 0);
	close(fd);
	clean(t->dir);
	assert_int_equal(c.calls, 2);
	assert_true(c.token[0] == 7);
	assert_true(c.token[1] == UINT64_MAX);
	assert_int_equal(c.page_bytes, 3 * MIG_PAGE);   /* after the pages */

	fd = start_ram();                       /* no hook */
	add_sync(fd, 1);
	add_state(fd);
	add_end(fd);
	assert_int_equal(receive_hooked(t, fd, &st, &none, &err), -1);
	close(fd);
	clean(t->dir);
	assert_non_null(strstr(err.msg, "a sync frame, which this receiver "
			       "does not answer"));

	c = (struct sync_calls){ .st = &st };
	fd = start();                           /* before RAM */
	add_config(fd);
	add_sync(fd, 1);
	assert_int_equal(receive_hooked(t, fd, &st, &hooks, &err), -1);
	close(fd);
	clean(t->dir);
	assert_non_null(strstr(err.msg, "frame type 10 where"));
	assert_int_equal(c.calls, 0);

	for (uint64_t len = 0; len < 17; len += 16) {   /* 0 and 16 bytes */
		fd = start_ram();
		raw_frame(fd, MIG_SYNC, 0, len);
		if (len)
			assert_int_equal(write(fd, "0123456789abcdef", 16), 16);
		add_state(fd);
		add_end(fd);
		assert_int_equal(receive_hooked(t, fd, &st, &hooks, &err), -1);
		close(fd);
		clean(t->dir);
		assert_non_null(strstr(err.msg, "sync frame of"));
	}
	assert_int_equal(c.calls, 0);

	c = (struct sync_calls){ .st = &st, .fail = "cannot answer" };
	fd = start_ram();
	add_sync(fd, 3);
	add_state(fd);
	add_end(fd);
	assert_int_equal(receive_hooked(t, fd, &st, &hooks, &err), -1);
	close(fd);
	clean(t->dir);
	assert_string_equal(err.msg, "cannot answer");
}

/* An ack goes from the destination to the source: the token comes back;
 * another token, another magic or a cut ack is refused; a failure answer
 * in its place gives the destination's reason. */
static void test_ack(void **state)
{
	struct error err = { 0 };
	uint8_t raw[16];
	int p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	assert_int_equal(mig_send_ack(p[1], 0x1122334455667788ull, &err), 0);
	assert_int_equal(mig_read_ack(p[0], 0x1122334455667788ull, &err), 0);

	assert_int_equal(mig_send_ack(p[1], 5, &err), 0);
	assert_int_equal(mig_read_ack(p[0], 6, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "ack is malformed"));

	/* The destination failed instead: its answer, with its reason */
	assert_int_equal(mig_send_reply(p[1], false, "disk full"), 0);
	assert_int_equal(mig_read_ack(p[0], 5, &err), -1);
	assert_string_equal(err.msg, "the destination failed: disk full");
	memcpy(raw, MIG_REPLY_MAGIC, 8);        /* a malformed answer */
	wr64(raw + 8, 5);
	assert_int_equal(write(p[1], raw, 16), 16);
	assert_int_equal(mig_read_ack(p[0], 5, &err), -1);
	assert_non_null(strstr(err.msg, "answer is malformed"));
	memcpy(raw, MIG_MAGIC, 8);              /* neither */
	assert_int_equal(write(p[1], raw, 16), 16);
	assert_int_equal(mig_read_ack(p[0], 5, &err), -1);
	assert_non_null(strstr(err.msg, "ack is malformed"));

	assert_int_equal(write(p[1], MIG_ACK_MAGIC, 8), 8);     /* cut */
	close(p[1]);
	assert_int_equal(mig_read_ack(p[0], 5, &err), -1);
	assert_non_null(strstr(err.msg, "closed the connection"));
	close(p[0]);
}

/* ---- the DISKS and DISK_DATA frames ---- */

/* Disk 0 copied, its size not a multiple of a page and room for the
 * largest frame; disk 1 on shared storage, read-only, far larger. */
#define DISK_SIZE ((uint64_t)MIG_MAX_PAGES + 3000)
static const struct mig_disk two_disks[] = {
	{ .index = 0, .size = DISK_SIZE, .copied = true,
	  .path = "/var/lib/vessel/root.img" },
	{ .index = 1, .size = 1ull << 40, .readonly = true,
	  .path = "/srv/shared/data.img" },
};

/* What the disk hook saw and is to do. It makes a copied disk's image as
 * t->dir/disk-N.img, d->size long. */
struct disk_calls {
	const char *tdir;
	unsigned calls, prepared;
	unsigned prepared_saw;          /* disk calls when prepared ran */
	struct {
		unsigned index, ndisks, prepared;
		uint64_t size;
		bool readonly, copied;
		char path[PATH_MAX];
		int fd;                 /* what it returned */
	} d[MIG_MAX_DISKS];
	unsigned fail_at;               /* index + 1 of a disk to fail */
	bool fail_late;                 /* and fail after making its image */
	bool no_image;                  /* copied: return no image */
	bool fd_for_shared;             /* shared: return an fd anyway */
};

static int disk_hook(void *opaque, const struct mig_rx_stats *st,
		     const struct mig_disk *d, int *fd, struct error *err)
{
	struct disk_calls *h = opaque;
	char path[128];

	assert_true(h->calls < MIG_MAX_DISKS);
	h->d[h->calls].index = d->index;
	h->d[h->calls].ndisks = st->ndisks;
	h->d[h->calls].prepared = h->prepared;
	h->d[h->calls].size = d->size;
	h->d[h->calls].readonly = d->readonly;
	h->d[h->calls].copied = d->copied;
	snprintf(h->d[h->calls].path, PATH_MAX, "%s", d->path);
	h->d[h->calls].fd = -1;
	h->calls++;
	if (h->fail_at == d->index + 1 && !h->fail_late)
		return err_input(err, "no room for disk %u", d->index);
	if (d->copied ? h->no_image : !h->fd_for_shared)
		return 0;
	snprintf(path, sizeof(path), "%s/disk-%u.img", h->tdir, d->index);
	*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(*fd >= 0);
	if (d->copied)
		assert_int_equal(ftruncate(*fd, (off_t)d->size), 0);
	h->d[h->calls - 1].fd = *fd;
	if (h->fail_at == d->index + 1)
		return err_input(err, "disk %u: cannot size it", d->index);
	return 0;
}

static int disk_prepared(void *opaque, const struct mig_rx_stats *st,
			 struct error *err)
{
	struct disk_calls *h = opaque;

	(void)st;
	(void)err;
	h->prepared++;
	h->prepared_saw = h->calls;
	return 0;
}

#define DISK_HOOKS(h) \
	((struct mig_rx_hooks){ .prepared = disk_prepared, .disk = disk_hook, \
				.opaque = (h) })

/* A file descriptor nobody holds any more. */
static bool fd_closed(int fd)
{
	errno = 0;
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

static void add_disks(int fd, const struct mig_disk *d, unsigned n)
{
	struct error err = { 0 };

	assert_int_equal(mig_send_disks(fd, d, n, &err), 0);
}

/* header, CONFIG, ORIGIN, DISKS (two_disks), RAM */
static int start_disks(void)
{
	int fd = start();

	add_config(fd);
	add_disks(fd, two_disks, 2);
	add_ram(fd, RAM);
	return fd;
}

static void add_disk_data(int fd, uint32_t disk, uint64_t off, const void *p,
			  size_t len)
{
	uint8_t h[16];

	wr32(h, disk);
	wr32(h + 4, 0);
	wr64(h + 8, off);
	frame(fd, MIG_DISK_DATA, h, 16, p, len);
}

/* Refused with the disk hooks in place. */
static void refused_disks(struct t *t, int fd, const char *want)
{
	struct disk_calls h = { .tdir = t->dir };

	refused_hooked(t, fd, &DISK_HOOKS(&h), 1, want);
}

/* DISKS, then DISK_DATA among the pages (the largest frame, one across a
 * 64 KiB boundary, the last byte, one over an earlier one: the later
 * wins): the hook sees each disk in order, with its size, flags and path,
 * before the prepared hook; the copied image holds exactly what was sent
 * and is closed at the end; the shared one gets no image. */
static void test_disks_good(void **state)
{
	struct t *t = *state;
	struct disk_calls h = { .tdir = t->dir };
	const struct mig_rx_hooks hooks = DISK_HOOKS(&h);
	struct mig_rx_stats st;
	struct error err = { 0 };
	uint8_t *want = calloc(1, DISK_SIZE), *img, *p = malloc(MIG_MAX_PAGES);
	uint64_t sent = 0;
	char path[128];
	size_t len;
	int fd = start_disks();

	assert_non_null(want);
	assert_non_null(p);
#define DATA(off, fill, n) do {                                         \
		memset(p, (fill), (n));                                 \
		add_disk_data(fd, 0, (off), p, (n));                    \
		memcpy(want + (off), p, (n));                           \
		sent += (n);                                            \
	} while (0)
	for (size_t i = 0; i < MIG_MAX_PAGES; i++)
		want[3000 + i] = (uint8_t)(i * 7 + (i >> 12));
	add_disk_data(fd, 0, 3000, want + 3000, MIG_MAX_PAGES);   /* to the end */
	sent += MIG_MAX_PAGES;
	add_pages(fd, 0, 1, 1);
	DATA(0, 0x11, 4096);
	DATA(65536 - 100, 0x22, 200);
	add_pages(fd, PAGE, 2, 2);
	DATA(DISK_SIZE - 1, 0x33, 1);
	DATA(10, 0x44, 20);
#undef DATA
	add_state(fd);
	add_end(fd);
	if (receive_hooked(t, fd, &st, &hooks, &err) != 0)
		fail_msg("refused: %s", err.msg);
	close(fd);
	assert_true(fd_closed(h.d[0].fd));

	assert_int_equal(st.ndisks, 2);
	assert_int_equal(st.disk_bytes, sent);
	assert_int_equal(st.frames, 2);
	assert_int_equal(st.page_bytes, 3 * PAGE);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.prepared, 1);
	assert_int_equal(h.prepared_saw, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(h.d[i].index, i);
		assert_int_equal(h.d[i].ndisks, i);
		assert_int_equal(h.d[i].prepared, 0);
		assert_int_equal(h.d[i].size, two_disks[i].size);
		assert_int_equal(h.d[i].readonly, two_disks[i].readonly);
		assert_int_equal(h.d[i].copied, two_disks[i].copied);
		assert_string_equal(h.d[i].path, two_disks[i].path);
	}
	assert_int_equal(h.d[1].fd, -1);
	img = slurp(t, "disk-0.img", &len);
	assert_int_equal(len, DISK_SIZE);
	assert_true(memcmp(img, want, DISK_SIZE) == 0);
	free(img);
	snprintf(path, sizeof(path), "%s/disk-1.img", t->dir);
	assert_int_equal(access(path, F_OK), -1);
	free(want);
	free(p);
}

/* A DISKS frame with payload p (len bytes) after CONFIG and ORIGIN, then
 * a good rest of the stream. */
static int with_disks(const void *p, size_t len)
{
	int fd = start();

	add_config(fd);
	frame(fd, MIG_DISKS, p, len, NULL, 0);
	add_ram(fd, RAM);
	add_state(fd);
	add_end(fd);
	return fd;
}

/* One good entry: flags 0, 64 KiB, the path "/a/b". */
#define ENTRY "\0\0\0\0" "\0\0\1\0\0\0\0\0" "\4\0\0\0" "/a/b"

/* Malformed DISKS frames, each refused as bad input saying what is
 * wrong; a second DISKS frame, one after RAM, and one a receiver without
 * a disk hook gets. */
static void test_disks_malformed(void **state)
{
	static const struct { const char *p; size_t len; const char *want; } bad[] = {
		{ "\0\0\0\0" ENTRY, 24, "0 disks (1 to 32)" },
		{ "\x21\0\0\0" ENTRY, 24, "33 disks (1 to 32)" },
		{ "\xff\xff\xff\xff" ENTRY, 24, "4294967295 disks (1 to 32)" },
		{ "\2\0\0\0" ENTRY, 24, "disks frame cut in disk 1" },
		{ "\2\0\0\0" ENTRY "\0\0\0\0", 28, "disks frame cut in disk 1" },
		{ "\1\0\0\0" "\4\0\0\0" "\0\0\1\0\0\0\0\0" "\4\0\0\0" "/a/b", 24,
		  "disk 0: unknown flags 0x4" },
		{ "\2\0\0\0" ENTRY "\0\0\0\x80" "\0\0\1\0\0\0\0\0" "\4\0\0\0" "/a/b",
		  44, "disk 1: unknown flags 0x80000000" },
		{ "\1\0\0\0" "\0\0\0\0" "\1\0\0\0\0\0\4\0" "\4\0\0\0" "/a/b", 24,
		  "disk 0: 1125899906842625 bytes (at most 1125899906842624)" },
		{ "\1\0\0\0" "\0\0\0\0" "\xff\xff\xff\xff\xff\xff\xff\xff"
		  "\4\0\0\0" "/a/b", 24, "disk 0: 18446744073709551615 bytes" },
		{ "\1\0\0\0" "\0\0\0\0" "\0\0\1\0\0\0\0\0" "\0\0\0\0" "/a/b", 24,
		  "disk 0: malformed path" },           /* path length 0 */
		{ "\1\0\0\0" "\0\0\0\0" "\0\0\1\0\0\0\0\0" "\5\0\0\0" "/a/b", 24,
		  "disk 0: malformed path" },           /* past the frame */
		{ "\1\0\0\0" "\0\0\0\0" "\0\0\1\0\0\0\0\0" "\xff\xff\xff\xff" "/a/b",
		  24, "disk 0: malformed path" },
		{ "\1\0\0\0" "\0\0\0\0" "\0\0\1\0\0\0\0\0" "\4\0\0\0" "/a\0b", 24,
		  "disk 0: malformed path" },           /* a NUL in it */
		{ "\2\0\0\0" ENTRY "\0\0\0\0" "\0\0\1\0\0\0\0\0" "\4\0\0\0" "\0/ab",
		  44, "disk 1: malformed path" },
		{ "\1\0\0\0" ENTRY "xyz", 27, "3 bytes after the last disk" },
		{ "\1\0\0\0", 4, "disks frame of 4 bytes" },
		{ "\1\0\0\0" "\0\0\0\0" "\0\0\1\0\0\0\0\0" "\0\0\0\0", 20,
		  "disks frame of 20 bytes" },
	};
	struct t *t = *state;
	struct disk_calls h = { .tdir = t->dir };
	static uint8_t big[4 + 16 + PATH_MAX];
	uint64_t longest = 4 + MIG_MAX_DISKS * (uint64_t)(16 + PATH_MAX - 1);
	char want[64];
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_disks(t, with_disks(bad[i].p, bad[i].len), bad[i].want);

	/* a path of PATH_MAX bytes is too long; one less is the longest */
	memcpy(big, "\1\0\0\0" "\0\0\0\0" "\0\0\1\0\0\0\0\0", 16);
	wr32(big + 16, PATH_MAX);
	memset(big + 20, 'p', PATH_MAX);
	refused_disks(t, with_disks(big, sizeof(big)), "disk 0: malformed path");
	wr32(big + 16, PATH_MAX - 1);
	fd = with_disks(big, sizeof(big) - 1);
	assert_int_equal(receive_hooked(t, fd, &(struct mig_rx_stats){ 0 },
					&DISK_HOOKS(&h), &(struct error){ 0 }), 0);
	close(fd);
	clean(t->dir);
	assert_int_equal(h.calls, 1);
	assert_int_equal(strlen(h.d[0].path), PATH_MAX - 1);

	/* a frame length beyond any 32 disks is not read */
	for (int i = 0; i < 2; i++) {
		uint64_t len = i ? UINT64_MAX : longest + 1;

		fd = start();
		add_config(fd);
		raw_frame(fd, MIG_DISKS, 0, len);
		snprintf(want, sizeof(want), "disks frame of %llu bytes",
			 (unsigned long long)len);
		refused_disks(t, fd, want);
	}

	fd = start();                           /* a second DISKS frame */
	add_config(fd);
	add_disks(fd, two_disks, 2);
	add_disks(fd, two_disks + 1, 1);
	add_ram(fd, RAM);
	add_state(fd);
	add_end(fd);
	refused_disks(t, fd, "a second disks frame");

	fd = start_ram();                       /* DISKS after RAM */
	add_disks(fd, two_disks, 2);
	add_state(fd);
	add_end(fd);
	refused_disks(t, fd, "frame type 8 where pages, disk data, a sync or the state");

	fd = start();                           /* DISKS before ORIGIN */
	add_config_only(fd);
	add_disks(fd, two_disks, 2);
	refused_disks(t, fd, "frame type 8 where the origin was expected");

	/* no disk hook: no hooks at all, or only prepared */
	fd = with_disks("\1\0\0\0" ENTRY, 24);
	refused(t, fd, "disks, which this receiver does not take");
	fd = with_disks("\1\0\0\0" ENTRY, 24);
	refused_hooked(t, fd, &(struct mig_rx_hooks){ .prepared = disk_prepared,
						      .opaque = &h }, 1,
		       "disks, which this receiver does not take");
}
#undef ENTRY

/* A DISK_DATA frame for disk with a reserved word, an offset and n zero
 * bytes. */
static void raw_disk_data(int fd, uint32_t disk, uint32_t reserved,
			  uint64_t off, size_t n)
{
	uint8_t h[16], *z = calloc(1, n ? n : 1);

	assert_non_null(z);
	wr32(h, disk);
	wr32(h + 4, reserved);
	wr64(h + 8, off);
	frame(fd, MIG_DISK_DATA, h, 16, z, n);
	free(z);
}

/* DISK_DATA for a disk not described or not copied, with the reserved
 * word set, outside the disk, of no bytes or too many, or before RAM:
 * each refused as bad input. */
static void test_disk_data_malformed(void **state)
{
	static const struct {
		uint32_t disk, reserved;
		uint64_t off, n;
		const char *want;
	} bad[] = {
		{ 2, 0, 0, 1, "data for disk 2, which the disks frame did "
			      "not describe" },
		{ MIG_MAX_DISKS, 0, 0, 1, "data for disk 32, which the disks" },
		{ UINT32_MAX, 0, 0, 1, "data for disk 4294967295, which the" },
		{ 1, 0, 0, 1, "data for disk 1, which is not copied" },
		{ 0, 1, 0, 1, "data for disk 0 with reserved bits set" },
		{ 0, 0x80000000u, 0, 1, "data for disk 0 with reserved bits" },
		{ 0, 0, DISK_SIZE - 10, 11, "disk 0 data at 16780206+11 is "
					    "outside its 16780216 bytes" },
		{ 0, 0, DISK_SIZE, 1, "disk 0 data at 16780216+1 is outside" },
		{ 0, 0, DISK_SIZE + 4096, 4096, "disk 0 data at 16784312+4096" },
		{ 0, 0, UINT64_MAX, 1, "disk 0 data at 18446744073709551615+1" },
		{ 0, 0, UINT64_MAX - 9, 10,
		  "disk 0 data at 18446744073709551606+10" },
		{ 0, 0, 1ull << 63, 1, "disk 0 data at 9223372036854775808+1" },
	};
	static const uint64_t bad_len[] = {
		0, 8, 15, 16, 16 + MIG_MAX_PAGES + 1ull, UINT64_MAX,
	};
	struct t *t = *state;
	char want[96];
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = start_disks();
		add_pages(fd, 0, 1, 1);
		add_disk_data(fd, 0, 0, "ok", 2);
		raw_disk_data(fd, bad[i].disk, bad[i].reserved, bad[i].off,
			      bad[i].n);
		add_state(fd);
		add_end(fd);
		refused_disks(t, fd, bad[i].want);
	}
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		fd = start_disks();
		raw_frame(fd, MIG_DISK_DATA, 0, bad_len[i]);
		put(fd, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
		add_state(fd);
		add_end(fd);
		snprintf(want, sizeof(want), "disk data frame of %llu bytes "
			 "(16 + 1 to 16777216)", (unsigned long long)bad_len[i]);
		refused_disks(t, fd, want);
	}

	fd = start();                           /* before RAM */
	add_config(fd);
	add_disks(fd, two_disks, 2);
	add_disk_data(fd, 0, 0, "early", 5);
	add_ram(fd, RAM);
	add_state(fd);
	add_end(fd);
	refused_disks(t, fd, "frame type 9 where the disks or the RAM size");

	fd = start_disks();                     /* after STATE */
	add_state(fd);
	add_disk_data(fd, 0, 0, "late", 4);
	add_end(fd);
	refused_disks(t, fd, "frame type 9 where the end was expected");

	fd = start_ram();                       /* no DISKS frame at all */
	add_disk_data(fd, 0, 0, "none", 4);
	add_state(fd);
	add_end(fd);
	refused_disks(t, fd, "data for disk 0, which the disks frame did not "
		      "describe");
}

/* The disk hook's failure ends the receive with its message, before the
 * prepared hook, the images made so far closed (and one the failing call
 * gave); a copied disk the hook gives no image is refused; an fd it
 * gives for a shared disk is closed, and not written to. */
static void test_disk_hook_fails(void **state)
{
	struct t *t = *state;
	struct disk_calls h;
	struct mig_rx_stats st;
	struct error err;
	int fd;

	for (unsigned at = 1; at <= 2; at++) {
		h = (struct disk_calls){ .tdir = t->dir, .fail_at = at };
		err = (struct error){ 0 };
		fd = start_disks();
		add_pages(fd, 0, 1, 1);
		add_state(fd);
		add_end(fd);
		assert_int_equal(receive_hooked(t, fd, &st, &DISK_HOOKS(&h),
						&err), -1);
		close(fd);
		clean(t->dir);
		assert_int_equal(h.calls, at);
		assert_int_equal(h.prepared, 0);
		assert_int_equal(err.input, 1);
		assert_string_equal(err.msg, at == 1 ? "no room for disk 0" :
				    "no room for disk 1");
		if (at == 2)
			assert_true(fd_closed(h.d[0].fd));
	}

	h = (struct disk_calls){ .tdir = t->dir, .fail_at = 1,
				 .fail_late = true };
	err = (struct error){ 0 };
	fd = start_disks();
	add_state(fd);
	add_end(fd);
	assert_int_equal(receive_hooked(t, fd, &st, &DISK_HOOKS(&h), &err), -1);
	close(fd);
	clean(t->dir);
	assert_string_equal(err.msg, "disk 0: cannot size it");
	assert_int_equal(h.calls, 1);
	assert_true(h.d[0].fd >= 0);
	assert_true(fd_closed(h.d[0].fd));

	h = (struct disk_calls){ .tdir = t->dir, .no_image = true };
	err = (struct error){ 0 };
	fd = start_disks();
	add_state(fd);
	add_end(fd);
	assert_int_equal(receive_hooked(t, fd, &st, &DISK_HOOKS(&h), &err), -1);
	close(fd);
	clean(t->dir);
	assert_string_equal(err.msg, "disk 0: no image to copy it to");
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.prepared, 0);

	/* not taken as the shared disk's image: its data is still refused */
	h = (struct disk_calls){ .tdir = t->dir, .fd_for_shared = true };
	err = (struct error){ 0 };
	fd = start_disks();
	add_disk_data(fd, 1, 0, "shared", 6);
	add_state(fd);
	add_end(fd);
	assert_int_equal(receive_hooked(t, fd, &st, &DISK_HOOKS(&h), &err), -1);
	close(fd);
	clean(t->dir);
	assert_string_equal(err.msg, "migration stream: data for disk 1, "
			    "which is not copied");
	assert_int_equal(h.calls, 2);
	assert_true(h.d[1].fd >= 0);
	assert_true(fd_closed(h.d[1].fd));
	assert_true(fd_closed(h.d[0].fd));
}

/* The writer refuses what the reader would, and lays a disk out as the
 * reader reads it. */
static void test_disks_writer(void **state)
{
	static const struct mig_disk one = {
		.size = 0x0102030405ull, .readonly = true, .copied = true,
		.path = "/x",
	};
	struct mig_disk many[MIG_MAX_DISKS + 1];
	struct error err = { 0 };
	uint8_t b[64];
	int fd = new_stream();

	(void)state;
	add_disks(fd, &one, 1);
	assert_int_equal(lseek(fd, 0, SEEK_END), 16 + 4 + 16 + 2);
	assert_int_equal(pread(fd, b, 38, 0), 38);
	assert_memory_equal(b, "\x08\0\0\0\0\0\0\0\x16\0\0\0\0\0\0\0", 16);
	assert_memory_equal(b + 16, "\1\0\0\0" "\3\0\0\0"
			    "\5\4\3\2\1\0\0\0" "\2\0\0\0" "/x", 22);
	close(fd);
	for (unsigned i = 0; i <= MIG_MAX_DISKS; i++)
		many[i] = one;
	assert_int_equal(mig_send_disks(-1, many, 0, &err), -1);
	assert_int_equal(mig_send_disks(-1, many, MIG_MAX_DISKS + 1, &err), -1);
	many[1].path = "";
	assert_int_equal(mig_send_disks(-1, many, 2, &err), -1);
	assert_non_null(strstr(err.msg, "disk 1"));
}

/* ABORT at any point: the source's message, control characters shown as
 * '?'; not bad input (the source said why). */
static void test_abort(void **state)
{
	static const char msg[] = "disk full\n\x1b[2J\r\t ok";
	struct t *t = *state;
	int fd;

	fd = start();
	frame(fd, MIG_ABORT, "cancelled", 9, NULL, 0);
	refused_as(t, fd, 0, "the source gave up: cancelled");

	fd = start_ram();
	add_pages(fd, 0, 2, 3);
	frame(fd, MIG_ABORT, msg, strlen(msg), NULL, 0);
	{
		struct mig_rx_stats st;
		struct error err = { 0 };

		assert_int_equal(receive(t, fd, &st, &err), -1);
		assert_int_equal(err.input, 0);
		assert_string_equal(err.msg, "the source gave up: disk full??[2J?? ok");
		close(fd);
		clean(t->dir);
	}

	fd = start_ram();                       /* a NUL does not cut it */
	add_state(fd);
	frame(fd, MIG_ABORT, "a\0b", 3, NULL, 0);
	refused_as(t, fd, 0, "the source gave up: a?b");

	fd = start_ram();                       /* empty */
	frame(fd, MIG_ABORT, NULL, 0, NULL, 0);
	refused_as(t, fd, 0, "the source gave up: ");

	fd = start();                           /* the longest */
	{
		char *m = malloc(MIG_MAX_MESSAGE);

		assert_non_null(m);
		memset(m, 'x', MIG_MAX_MESSAGE);
		frame(fd, MIG_ABORT, m, MIG_MAX_MESSAGE, NULL, 0);
		refused_as(t, fd, 0, "the source gave up: xxxx");

		fd = start();                   /* too long: bad input */
		frame(fd, MIG_ABORT, m, MIG_MAX_MESSAGE, "y", 1);
		refused(t, fd, "abort message of 4097 bytes");
		free(m);
	}

	fd = start();
	raw_frame(fd, MIG_ABORT, 0, UINT64_MAX);
	refused(t, fd, "abort message of 18446744073709551615 bytes");
}

/* ---- the writer ---- */

/* The exact bytes of a header and a two-part frame. */
static void test_writer_layout(void **state)
{
	uint8_t b[64];
	int fd = start();

	(void)state;
	frame(fd, MIG_PAGES, "\x00\x10\0\0\0\0\0\0", 8, "ab", 2);
	assert_int_equal(lseek(fd, 0, SEEK_END), 16 + 16 + 10);
	assert_int_equal(pread(fd, b, 42, 0), 42);
	assert_memory_equal(b, "VESSELMG\3\0\0\0\0\0\0\0", 16);
	assert_memory_equal(b + 16, "\3\0\0\0\0\0\0\0\12\0\0\0\0\0\0\0", 16);
	assert_memory_equal(b + 32, "\x00\x10\0\0\0\0\0\0ab", 10);
	close(fd);
}

/* ---- the answer ---- */

static void pipe_pair(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

static void test_reply_round_trip(void **state)
{
	char msg[MIG_MAX_MESSAGE + 1];
	struct error err = { 0 };
	bool ok;
	int p[2];

	(void)state;
	pipe_pair(p);
	assert_int_equal(mig_send_reply(p[1], true, "running on dst"), 0);
	assert_int_equal(mig_send_reply(p[1], false, "restore: bad state"), 0);
	assert_int_equal(mig_send_reply(p[1], true, NULL), 0);
	assert_int_equal(mig_send_reply(p[1], false, "line\none\ttab\x1b"), 0);
	assert_int_equal(mig_send_reply(p[1], true, "truncated here"), 0);
	close(p[1]);

	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), 0);
	assert_true(ok);
	assert_string_equal(msg, "running on dst");
	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), 0);
	assert_false(ok);
	assert_string_equal(msg, "restore: bad state");
	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), 0);
	assert_true(ok);
	assert_string_equal(msg, "");
	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), 0);
	assert_false(ok);
	assert_string_equal(msg, "line?one?tab?");
	/* a small buffer gets the start, terminated */
	assert_int_equal(mig_read_reply(p[0], &ok, msg, 10, &err), 0);
	assert_true(ok);
	assert_string_equal(msg, "truncated");
	/* then the end */
	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), -1);
	assert_non_null(strstr(err.msg, "closed the connection without an answer"));
	assert_int_equal(err.input, 0);
	close(p[0]);
}

/* The sender cuts a message to MIG_MAX_MESSAGE; the reader takes that. */
static void test_reply_longest(void **state)
{
	char *big = malloc(MIG_MAX_MESSAGE + 100);
	char msg[MIG_MAX_MESSAGE + 1];
	struct error err = { 0 };
	uint8_t h[16];
	bool ok;
	int p[2];

	(void)state;
	assert_non_null(big);
	memset(big, 'm', MIG_MAX_MESSAGE + 99);
	big[MIG_MAX_MESSAGE + 99] = '\0';
	pipe_pair(p);
	assert_int_equal(mig_send_reply(p[1], false, big), 0);
	assert_int_equal(read_full(p[0], h, 16), 16);
	assert_memory_equal(h, "VESSELMR\1\0\0\0", 12);
	assert_int_equal(rd32(h + 12), MIG_MAX_MESSAGE);
	close(p[0]);
	close(p[1]);

	pipe_pair(p);
	assert_int_equal(mig_send_reply(p[1], false, big), 0);
	close(p[1]);
	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), 0);
	assert_false(ok);
	assert_int_equal(strlen(msg), MIG_MAX_MESSAGE);
	close(p[0]);
	free(big);
}

/* A hand-made answer: header fields, then text bytes. */
static int read_raw_reply(const char *magic, uint32_t status, uint32_t n,
			  const char *text, size_t tlen, struct error *err)
{
	char msg[64] = "untouched";
	uint8_t h[16];
	bool ok = false;
	int p[2], rc;

	pipe_pair(p);
	memcpy(h, magic, 8);
	wr32(h + 8, status);
	wr32(h + 12, n);
	put(p[1], h, 16);
	if (tlen)
		put(p[1], text, tlen);
	close(p[1]);
	rc = mig_read_reply(p[0], &ok, msg, sizeof(msg), err);
	close(p[0]);
	return rc;
}

static void test_reply_malformed(void **state)
{
	struct error err = { 0 };
	char *big = calloc(1, MIG_MAX_MESSAGE + 1);
	int p[2];
	char msg[16];
	bool ok;

	(void)state;
	assert_non_null(big);
	/* too long: refused before reading it */
	assert_int_equal(read_raw_reply(MIG_REPLY_MAGIC, 1, MIG_MAX_MESSAGE + 1,
					big, MIG_MAX_MESSAGE + 1, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "answer is malformed"));
	assert_int_equal(read_raw_reply(MIG_REPLY_MAGIC, 0, UINT32_MAX, NULL, 0,
					&err), -1);
	assert_non_null(strstr(err.msg, "answer is malformed"));
	/* bad magic: a stream header is not an answer */
	assert_int_equal(read_raw_reply(MIG_MAGIC, 0, 0, NULL, 0, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "answer is malformed"));
	/* status other than 0 or 1 */
	assert_int_equal(read_raw_reply(MIG_REPLY_MAGIC, 2, 0, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "answer is malformed"));
	assert_int_equal(read_raw_reply(MIG_REPLY_MAGIC, UINT32_MAX, 0, NULL, 0,
					&err), -1);
	assert_non_null(strstr(err.msg, "answer is malformed"));
	/* the text cut short */
	assert_int_equal(read_raw_reply(MIG_REPLY_MAGIC, 0, 10, "abcde", 5, &err),
			 -1);
	assert_non_null(strstr(err.msg, "answer was cut"));
	/* the largest message is fine */
	memset(big, 'z', MIG_MAX_MESSAGE);
	assert_int_equal(read_raw_reply(MIG_REPLY_MAGIC, 0, MIG_MAX_MESSAGE, big,
					MIG_MAX_MESSAGE, &err), 0);
	free(big);

	/* EOF: no answer, or half a header */
	pipe_pair(p);
	close(p[1]);
	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), -1);
	assert_non_null(strstr(err.msg, "without an answer"));
	close(p[0]);
	pipe_pair(p);
	put(p[1], MIG_REPLY_MAGIC, 8);
	close(p[1]);
	assert_int_equal(mig_read_reply(p[0], &ok, msg, sizeof(msg), &err), -1);
	assert_non_null(strstr(err.msg, "without an answer"));
	close(p[0]);
	/* a read error */
	assert_int_equal(mig_read_reply(-1, &ok, msg, sizeof(msg), &err), -1);
	assert_int_equal(err.errnum, EBADF);
	assert_non_null(strstr(err.msg, "reading the destination's answer"));
}

/* Writing to a closed connection is an error, not a crash (SIGPIPE is
 * the caller's business: ignored here). */
static void test_send_errors(void **state)
{
	struct error err = { 0 };
	int p[2];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	pipe_pair(p);
	close(p[0]);
	assert_int_equal(mig_send_header(p[1], &err), -1);
	assert_int_equal(err.errnum, EPIPE);
	assert_non_null(strstr(err.msg, "migration stream: sending"));
	assert_int_equal(mig_send_frame(p[1], MIG_END, NULL, 0, NULL, 0, &err), -1);
	assert_int_equal(mig_send_reply(p[1], true, "ok"), -1);
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_good_stream),
		T(test_no_pages),
		T(test_limits_through_pipe),
		T(test_bad_header),
		T(test_reserved_bits),
		T(test_truncated_everywhere),
		T(test_truncated_phases),
		T(test_out_of_order),
		T(test_ram_size),
		T(test_pages_offset),
		T(test_pages_length),
		T(test_payload_sizes),
		T(test_abort),
		T(test_origin),
		T(test_prepared_hook),
		T(test_sync),
		T(test_disks_good),
		T(test_disks_malformed),
		T(test_disk_data_malformed),
		T(test_disk_hook_fails),
#undef T
		cmocka_unit_test(test_disks_writer),
		cmocka_unit_test(test_writer_layout),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_reply_longest),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_send_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

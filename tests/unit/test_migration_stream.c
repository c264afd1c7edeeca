/* Unit tests for the migration stream (vmm/machine/migration_stream.c,
 * docs/migration.md). Streams are written with the real writer
 * (mig_send_header, mig_send_frame) into a memfd, or hand-made where the
 * writer cannot produce the fault, and read back by mig_receive into a
 * fresh directory: a good stream gives a snapshot directory with exactly
 * the bytes sent (later pages win, memory sparse and RAM-sized); every
 * malformed, truncated or out-of-order stream is refused as bad input with
 * a message saying what is wrong; an abort carries the source's text.
 * The ORIGIN frame (the guest's name and directory) and the hook called
 * once the definition, origin and RAM size are in.
 * Then the destination's answer: mig_send_reply / mig_read_reply. */
#include <errno.h>
#include <fcntl.h>
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
static void refused_as(struct t *t, int fd, int input, const char *want)
{
	struct mig_rx_stats st;
	struct error err = { 0 };

	assert_int_equal(receive(t, fd, &st, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, want);
	if (err.input != input)
		fail_msg("\"%s\": input %d, expected %d", err.msg, err.input, input);
	close(fd);
	clean(t->dir);
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
	refused(t, fd, "version 3 (flags 0); this vessel speaks version 2");

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
	refused(t, fd, "frame type 7 where the RAM size was expected");

	fd = start();                           /* PAGES before RAM */
	add_config(fd);
	add_pages(fd, 0, 1, 1);
	refused(t, fd, "frame type 3 where the RAM size was expected");

	fd = start();                           /* STATE before RAM */
	add_config(fd);
	add_state(fd);
	refused(t, fd, "frame type 4 where the RAM size was expected");

	fd = start();                           /* CONFIG twice */
	add_config(fd);
	add_config(fd);
	refused(t, fd, "frame type 1 where the RAM size was expected");

	fd = start_ram();                       /* CONFIG after RAM */
	add_config(fd);
	refused(t, fd, "frame type 1 where pages or the state was expected");

	fd = start_ram();                       /* RAM twice */
	add_pages(fd, 0, 1, 1);
	add_ram(fd, RAM);
	refused(t, fd, "frame type 2 where pages or the state was expected");

	fd = start_ram();                       /* END before STATE */
	add_pages(fd, 0, 1, 1);
	add_end(fd);
	refused(t, fd, "frame type 5 where pages or the state was expected");

	fd = start_ram();                       /* PAGES after STATE */
	add_state(fd);
	add_pages(fd, 0, 1, 1);
	refused(t, fd, "frame type 3 where the end was expected");

	fd = start_ram();                       /* STATE twice */
	add_state(fd);
	add_state(fd);
	refused(t, fd, "frame type 4 where the end was expected");

	fd = start();                           /* unknown types */
	raw_frame(fd, 8, 0, 0);
	refused(t, fd, "frame type 8 where the definition was expected");

	fd = start_ram();
	raw_frame(fd, 0, 0, 0);
	refused(t, fd, "frame type 0 where pages or the state was expected");

	fd = start_ram();                       /* a huge length is not read */
	raw_frame(fd, 0xffffffffu, 0, UINT64_MAX);
	refused(t, fd, "frame type 4294967295 where pages or the state");
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
	const struct mig_rx_hooks hooks = { hook, &h };
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
	assert_memory_equal(b, "VESSELMG\2\0\0\0\0\0\0\0", 16);
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
#undef T
		cmocka_unit_test(test_writer_layout),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_reply_longest),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_send_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

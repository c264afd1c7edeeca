/*
 * blkload: a small block I/O load generator for `make bench` (bench/blk.sh).
 *
 *   blkload MODE PATH [-t SECONDS] [-q DEPTH] [-b BYTES]
 *
 * MODE is read or write (sequential) or randread (random offsets, aligned
 * to the block size). PATH is a block device or a regular file, opened with
 * O_DIRECT: every request goes to the device, none is served from the page
 * cache. Requests go through Linux native AIO (io_setup, io_submit,
 * io_getevents, called as raw system calls: no libaio needed) with DEPTH of
 * them in flight at all times, for SECONDS (default 3) of wall time; a
 * sequential pass wraps around at the end of PATH. A write run ends with
 * fdatasync, inside the timed part. Defaults: 1 MiB blocks for read and
 * write, 4 KiB for randread; depth 1.
 *
 * Prints one line on stdout, e.g.
 *   BLKLOAD mode=randread bs=4096 qd=32 secs=3.001 ios=12345 bytes=50565120 iops=4113.6 mib_s=16.07
 * Exit status 0, or 1 with a message on stderr.
 *
 * Build: gcc -static -O2 -Wall -Wextra -Werror -o blkload blkload.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 256

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("blkload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fputs("usage: blkload read|write|randread PATH [-t SECONDS] [-q DEPTH] [-b BYTES]\n", stderr);
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap, good enough to scatter offsets. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static long parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		die("%s must be an integer from %ld to %ld, not '%s'", what, min, max, s);
	return v;
}

int main(int argc, char **argv)
{
	enum { READ, WRITE, RANDREAD } mode;
	const char *path, *mname;
	long secs = 3, depth = 1, bs = 0;
	struct iocb cbs[MAX_DEPTH], *cbp[MAX_DEPTH];
	struct io_event events[MAX_DEPTH];
	aio_context_t ctx = 0;
	uint64_t size, nblocks, next_block = 0, ios = 0;
	double t0, deadline, elapsed;
	int fd, inflight = 0, i, opt;
	char *bufs;

	if (argc < 3)
		usage();
	mname = argv[1];
	path = argv[2];
	if (strcmp(mname, "read") == 0)
		mode = READ;
	else if (strcmp(mname, "write") == 0)
		mode = WRITE;
	else if (strcmp(mname, "randread") == 0)
		mode = RANDREAD;
	else
		usage();
	optind = 3;
	while ((opt = getopt(argc, argv, "t:q:b:")) != -1) {
		switch (opt) {
		case 't': secs = parse_num(optarg, "-t SECONDS", 1, 3600); break;
		case 'q': depth = parse_num(optarg, "-q DEPTH", 1, MAX_DEPTH); break;
		case 'b': bs = parse_num(optarg, "-b BYTES", 512, 64L << 20); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (bs == 0)
		bs = mode == RANDREAD ? 4096 : 1 << 20;
	if (bs % 512)
		die("-b BYTES must be a multiple of 512 (O_DIRECT), not %ld", bs);

	fd = open(path, (mode == WRITE ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		die("cannot open %s with O_DIRECT: %s", path, strerror(errno));
	{
		struct stat st;

		if (fstat(fd, &st) < 0)
			die("fstat %s: %s", path, strerror(errno));
		if (S_ISBLK(st.st_mode)) {
			if (ioctl(fd, BLKGETSIZE64, &size) < 0)
				die("BLKGETSIZE64 on %s: %s", path, strerror(errno));
		} else if (S_ISREG(st.st_mode)) {
			size = (uint64_t)st.st_size;
		} else {
			die("%s is neither a block device nor a regular file", path);
		}
	}
	nblocks = size / (uint64_t)bs;
	if (nblocks < (uint64_t)depth)
		die("%s (%" PRIu64 " bytes) holds fewer than %ld blocks of %ld bytes", path, size, depth, bs);

	if (posix_memalign((void **)&bufs, 4096, (size_t)bs * (size_t)depth))
		die("out of memory for %ld buffers of %ld bytes", depth, bs);
	/* Written data: not zeros, so nothing along the way can skip it. */
	for (i = 0; i < bs * depth; i++)
		bufs[i] = (char)(i * 31 + 7);

	memset(cbs, 0, sizeof(cbs)); /* aio_data 0: the slot is free */
	if (syscall(SYS_io_setup, depth, &ctx) < 0)
		die("io_setup(%ld): %s", depth, strerror(errno));

	t0 = now();
	deadline = t0 + (double)secs;
	for (;;) {
		int n = 0, got;

		/* Refill: one request for each free slot, until time is up. */
		if (now() < deadline) {
			for (i = 0; i < depth; i++) {
				struct iocb *cb = &cbs[i];
				uint64_t block;

				if (cb->aio_data)
					continue; /* in flight */
				if (mode == RANDREAD) {
					block = rng_next() % nblocks;
				} else {
					block = next_block;
					next_block = (next_block + 1) % nblocks;
				}
				memset(cb, 0, sizeof(*cb));
				cb->aio_data = (uint64_t)i + 1;
				cb->aio_fildes = (uint32_t)fd;
				cb->aio_lio_opcode = mode == WRITE ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
				cb->aio_buf = (uint64_t)(uintptr_t)(bufs + (size_t)i * (size_t)bs);
				cb->aio_nbytes = (uint64_t)bs;
				cb->aio_offset = (int64_t)(block * (uint64_t)bs);
				cbp[n++] = cb;
			}
		}
		if (n > 0) {
			long done = syscall(SYS_io_submit, ctx, (long)n, cbp);

			if (done != n)
				die("io_submit of %d requests on %s: %s", n,
				    path, done < 0 ? strerror(errno) : "short submission");
			inflight += n;
		}
		if (inflight == 0)
			break;
		got = (int)syscall(SYS_io_getevents, ctx, 1L, (long)depth, events, NULL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			die("io_getevents: %s", strerror(errno));
		}
		for (i = 0; i < got; i++) {
			struct iocb *cb = (struct iocb *)(uintptr_t)events[i].obj;

			if (events[i].res != bs)
				die("%s at offset %lld on %s: %s", mode == WRITE ? "write" : "read",
				    (long long)cb->aio_offset, path,
				    events[i].res < 0 ? strerror((int)-events[i].res) : "short transfer");
			cb->aio_data = 0;
			inflight--;
			ios++;
		}
	}
	if (mode == WRITE && fdatasync(fd) < 0)
		die("fdatasync %s: %s", path, strerror(errno));
	elapsed = now() - t0;
	syscall(SYS_io_destroy, ctx);
	close(fd);

	printf("BLKLOAD mode=%s bs=%ld qd=%ld secs=%.3f ios=%" PRIu64 " bytes=%" PRIu64
	       " iops=%.1f mib_s=%.2f\n",
	       mname, bs, depth, elapsed, ios, ios * (uint64_t)bs,
	       (double)ios / elapsed, (double)(ios * (uint64_t)bs) / elapsed / 1048576.0);
	return 0;
}

/* The newc cpio writer (cpio.h): headers of 13 eight-digit hex fields
 * after "070701", the name NUL-terminated and padded to 4 bytes, the data
 * padded to 4 bytes, and a "TRAILER!!!" entry; all through zlib's deflate
 * in gzip framing (mtime 0 in the gzip header). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cpio.h"
#include "../base/fdio.h"

#define CPIO_MAX_FILE 0xffffffffu   /* newc's filesize field: 32 bits */

static int deflate_out(struct cpio_writer *w, const void *data, size_t len,
		       int flush, struct error *err)
{
	const unsigned char *p = data;
	int zr;

	w->z.avail_in = 0;
	for (;;) {
		/* avail_in is 32 bits: feed big buffers in pieces. */
		if (w->z.avail_in == 0 && len) {
			size_t n = len > (1u << 30) ? (1u << 30) : len;

			w->z.next_in = (unsigned char *)p;
			w->z.avail_in = (uInt)n;
			p += n;
			len -= n;
		}
		w->z.next_out = w->buf;
		w->z.avail_out = sizeof(w->buf);
		zr = deflate(&w->z, len ? Z_NO_FLUSH : flush);
		if (zr == Z_STREAM_ERROR)
			return err_set(err, "cpio: deflate failed");
		size_t n = sizeof(w->buf) - w->z.avail_out;

		if (n && write_all(w->fd, w->buf, n) < 0)
			return err_sys(err, "cpio: write");
		w->out_bytes += n;
		if (len || w->z.avail_in)
			continue;
		if (flush == Z_FINISH ? zr == Z_STREAM_END : w->z.avail_out != 0)
			return 0;
	}
}

static int put(struct cpio_writer *w, const void *data, size_t len,
	       struct error *err)
{
	w->in_bytes += len;
	return deflate_out(w, data, len, Z_NO_FLUSH, err);
}

static int pad4(struct cpio_writer *w, struct error *err)
{
	static const char zero[4];
	size_t n = (4 - (w->in_bytes & 3)) & 3;

	return n ? put(w, zero, n, err) : 0;
}

int cpio_open(struct cpio_writer *w, int fd, uint32_t mtime, struct error *err)
{
	memset(&w->z, 0, sizeof(w->z));
	w->fd = fd;
	w->ino = 0;
	w->mtime = mtime;
	w->in_bytes = w->out_bytes = 0;
	/* 15 + 16: gzip framing; zlib writes mtime 0 and a fixed OS byte. */
	if (deflateInit2(&w->z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return err_set(err, "cpio: deflateInit2 failed");
	w->open = 1;
	return 0;
}

static int header(struct cpio_writer *w, const char *name, uint32_t mode,
		  uint64_t size, dev_t rdev, struct error *err)
{
	char h[6 + 13 * 8 + 1];
	size_t namesize = strlen(name) + 1;

	if (!w->open)
		return err_set(err, "cpio: archive not open");
	if (namesize < 2 || name[0] == '/' || namesize > 4096)
		return err_input(err, "cpio: bad entry name '%s'", name);
	if (size > CPIO_MAX_FILE)
		return err_input(err, "cpio: %s: %llu bytes is more than newc "
				 "can hold (4 GiB)", name,
				 (unsigned long long)size);
	if (w->ino == UINT32_MAX)
		return err_set(err, "cpio: too many entries");
	w->ino++;
	snprintf(h, sizeof(h),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X",
		 w->ino, mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, w->mtime,
		 (uint32_t)size, 0u, 0u, (uint32_t)major(rdev),
		 (uint32_t)minor(rdev), namesize, 0u);
	if (put(w, h, 6 + 13 * 8, err) < 0 || put(w, name, namesize, err) < 0)
		return -1;
	return pad4(w, err);
}

int cpio_add(struct cpio_writer *w, const char *name, uint32_t mode,
	     const void *data, size_t len, dev_t rdev, struct error *err)
{
	if (!S_ISREG(mode) && !S_ISLNK(mode) && len)
		return err_set(err, "cpio: %s: only files and symlinks have data", name);
	if (header(w, name, mode, len, rdev, err) < 0)
		return -1;
	if (len && put(w, data, len, err) < 0)
		return -1;
	return pad4(w, err);
}

int cpio_add_fd(struct cpio_writer *w, const char *name, uint32_t mode, int fd,
		uint64_t size, struct error *err)
{
	char buf[1 << 16];
	uint64_t left = size;

	if (!S_ISREG(mode))
		return err_set(err, "cpio: %s: not a regular file", name);
	if (header(w, name, mode, size, 0, err) < 0)
		return -1;
	while (left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(err, "cpio: %s: read", name);
		if (n == 0)
			return err_set(err, "cpio: %s: file shrank while read", name);
		if (put(w, buf, (size_t)n, err) < 0)
			return -1;
		left -= (uint64_t)n;
	}
	return pad4(w, err);
}

int cpio_finish(struct cpio_writer *w, struct error *err)
{
	if (cpio_add(w, "TRAILER!!!", 0, NULL, 0, 0, err) < 0)
		return -1;
	if (deflate_out(w, NULL, 0, Z_FINISH, err) < 0)
		return -1;
	deflateEnd(&w->z);
	w->open = 0;
	return 0;
}

void cpio_abort(struct cpio_writer *w)
{
	if (w->open)
		deflateEnd(&w->z);
	w->open = 0;
}

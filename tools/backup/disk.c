/* Disk images in a backup (disk.h). */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/fdio.h"

int disk_size(int fd, uint64_t *size, struct error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_sys(err, "fstat");
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ?
		       err_sys(err, "BLKGETSIZE64") : 0;
	return err_input(err, "not a regular file or block device");
}

static bool all_zero(const uint8_t *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)p;

	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return false;
	for (size_t i = n & ~(size_t)7; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int read_range(int fd, uint8_t *buf, uint64_t off, size_t len,
		      struct error *err)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys(err, "reading at %llu",
				       (unsigned long long)(off + got));
		if (n == 0) {           /* shrank meanwhile: zeros */
			memset(buf + got, 0, len - got);
			break;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Fill buf with [off, off + len) of fd, reading only its data extents.
 * *read: bytes read; returns 1 if the range is all hole. */
static int read_chunk(int fd, bool seekable, uint8_t *buf, uint64_t off,
		      size_t len, uint64_t *read, struct error *err)
{
	uint64_t pos = off, end = off + len;

	if (!seekable) {
		*read += len;
		return read_range(fd, buf, off, len, err);
	}
	while (pos < end) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA), h;

		if (d < 0 && errno != ENXIO)
			return err_sys(err, "SEEK_DATA");
		if (d < 0 || (uint64_t)d >= end) {
			if (pos == off)
				return 1;
			memset(buf + (pos - off), 0, end - pos);
			break;
		}
		memset(buf + (pos - off), 0, (uint64_t)d - pos);
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return err_sys(err, "SEEK_HOLE");
		if ((uint64_t)h > end)
			h = (off_t)end;
		if (read_range(fd, buf + (d - off), (uint64_t)d, (size_t)(h - d),
			       err) < 0)
			return -1;
		*read += (uint64_t)(h - d);
		pos = (uint64_t)h;
	}
	return 0;
}

/* read_chunk, through a running VM's view. */
static int read_view(const struct disk_view *v, int fd, bool seekable,
		     uint8_t *buf, uint64_t off, size_t len, uint64_t *read,
		     struct error *err)
{
	int r = v->claim(v->opaque, off, buf, len, err);

	if (r == 1)
		*read += len;
	if (r != 0)
		return r < 0 ? -1 : r == 2;
	r = read_chunk(fd, seekable, buf, off, len, read, err);
	return v->release(v->opaque, off, err) < 0 ? -1 : r;
}

/* Chunk c as the previous backup had it: the bitmap says it is unchanged. */
static int reuse(struct store *s, const struct disk_plan *p, uint64_t c,
		 size_t len, struct index *ix, struct error *err)
{
	const struct index_entry *e;

	/* The image grew since the plan (outside vessel): not ours to
	 * guess. */
	if (c >= p->prev.n)
		return err_input(err, "the image is larger than when the backup "
				 "began");
	e = &p->prev.e[c];
	if (e->len != len)
		return err_input(err, "the last backup's chunk %llu has %u bytes, "
				 "not %zu", (unsigned long long)c, e->len, len);
	if (!(e->flags & INDEX_ZERO))
		s->st.chunks++;
	return index_add(ix, e->digest, e->len, e->flags, err);
}

int disk_backup(struct store *s, const struct disk_plan *p,
		const struct disk_view *view, struct index *ix,
		struct progress *pg, struct error *err)
{
	uint8_t digest[SHA256_LEN], *buf = NULL;
	uint64_t size, off;
	bool seekable;
	int fd = p->fd, r = -1;

	index_init(ix, INDEX_DISK, DISK_CHUNK);
	if (disk_size(fd, &size, err) < 0)
		return err_prefix(err, "%s", p->path);
	seekable = lseek(fd, 0, SEEK_DATA) >= 0 || errno == ENXIO;
	posix_fadvise(fd, 0, 0, p->incremental ? POSIX_FADV_RANDOM :
			       POSIX_FADV_SEQUENTIAL);
	buf = malloc(DISK_CHUNK);
	if (!buf) {
		err_set(err, "out of memory");
		goto out;
	}
	for (off = 0; off < size; off += DISK_CHUNK) {
		size_t len = size - off < DISK_CHUNK ? size - off : DISK_CHUNK;
		uint64_t before = s->st.bytes_new, c = off / DISK_CHUNK;
		int hole;

		if (p->incremental && !blk_bitmap_test(&p->bm, c)) {
			if (reuse(s, p, c, len, ix, err) < 0)
				goto out;
			pg->done += len;
			continue;
		}
		hole = view ? read_view(view, fd, seekable, buf, off, len,
					&pg->read, err) :
			      read_chunk(fd, seekable, buf, off, len, &pg->read, err);
		if (hole < 0)
			goto out;
		if (hole || all_zero(buf, len)) {
			if (index_add(ix, NULL, (uint32_t)len, INDEX_ZERO, err) < 0)
				goto out;
		} else if (store_put(s, buf, len, digest, err) < 0 ||
			   index_add(ix, digest, (uint32_t)len, 0, err) < 0) {
			goto out;
		}
		pg->stored += s->st.bytes_new - before;
		pg->done += len;
		progress_show(pg, false);
	}
	r = 0;
out:
	if (r < 0)
		err_prefix(err, "%s", p->path);
	free(buf);
	return r;
}

int disk_restore(struct store *s, const struct index *ix, int dirfd,
		 const char *name, struct progress *pg, struct error *err)
{
	uint8_t *buf = malloc(DISK_CHUNK);
	uint64_t off = 0;
	size_t got;
	int fd;

	if (!buf)
		return err_set(err, "out of memory");
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(buf);
		return err_sys(err, "creating %s", name);
	}
	if (ftruncate(fd, (off_t)ix->size) < 0) {
		err_sys(err, "%s: setting its size", name);
		goto fail;
	}
	for (size_t i = 0; i < ix->n; off += ix->e[i].len, i++) {
		if (!(ix->e[i].flags & INDEX_ZERO)) {
			if (store_get(s, ix->e[i].digest, buf, DISK_CHUNK, &got,
				      err) < 0)
				goto fail;
			if (got != ix->e[i].len) {
				err_input(err, "a chunk's length differs from its "
					  "index entry");
				goto fail;
			}
			if (pwrite(fd, buf, got, (off_t)off) != (ssize_t)got) {
				err_sys(err, "writing %s", name);
				goto fail;
			}
			pg->read += got;
		}
		pg->done += ix->e[i].len;
		progress_show(pg, false);
	}
	if (fsync(fd) < 0) {
		err_sys(err, "fsync %s", name);
		goto fail;
	}
	close(fd);
	free(buf);
	return 0;
fail:
	close(fd);
	unlinkat(dirfd, name, 0);
	free(buf);
	return -1;
}

/* A disk's backup bitmap file (bitmap_file.h). */
#include "bitmap_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <sys/uio.h>
#include <zlib.h>

#include "../../tools/base/fdio.h"
#include "../../tools/base/le.h"

#define FILE_MAX (BLK_BITMAP_HDR + BLK_BITMAP_MAX_CHUNKS / 8 + 4)

static const char *why_text[] = {
	[BLK_BM_TRUSTED] = "trusted",
	[BLK_BM_MISSING] = "no dirty bitmap (the first backup, or the disk "
			   "was never used by a VM since)",
	[BLK_BM_UNCLEAN] = "the VM did not stop cleanly (killed, or the host "
			   "crashed)",
	[BLK_BM_CHANGED] = "the image was changed outside vessel",
	[BLK_BM_BAD] = "the dirty bitmap file is damaged",
	[BLK_BM_RESIZED] = "the image's size changed",
};

const char *blk_bitmap_why_text(enum blk_bitmap_why why)
{
	return (unsigned)why <= BLK_BM_WHY_MAX ? why_text[why] : "unknown";
}

static uint64_t chunks_of(uint64_t size)
{
	return (size >> BLK_BITMAP_SHIFT) + !!(size & (BLK_BITMAP_CHUNK - 1));
}

size_t blk_bitmap_words(uint64_t size)
{
	uint64_t n = chunks_of(size);

	return (size_t)(n / 64 + !!(n % 64));
}

int blk_bitmap_init(struct blk_bitmap *b, uint64_t size, struct error *err)
{
	memset(b, 0, sizeof(*b));
	if (chunks_of(size) > BLK_BITMAP_MAX_CHUNKS)
		return err_input(err, "an image of %llu bytes is too large for a "
				 "dirty bitmap", (unsigned long long)size);
	b->size = size;
	b->chunks = chunks_of(size);
	b->bm = calloc(blk_bitmap_words(size) + 1, sizeof(uint64_t));
	return b->bm ? 0 : err_set(err, "out of memory");
}

int blk_bitmap_new_generation(uint64_t *gen, struct error *err)
{
	do {
		if (getrandom(gen, sizeof(*gen), 0) != sizeof(*gen))
			return err_sys(err, "getrandom");
		*gen &= INT64_MAX;      /* a JSON integer */
	} while (!*gen);
	return 0;
}

void blk_bitmap_free(struct blk_bitmap *b)
{
	free(b->bm);
	b->bm = NULL;
}

bool blk_bitmap_test(const struct blk_bitmap *b, uint64_t chunk)
{
	return chunk < b->chunks && (b->bm[chunk / 64] >> (chunk % 64) & 1);
}

uint64_t blk_bitmap_count(const struct blk_bitmap *b)
{
	uint64_t n = 0;

	for (size_t i = 0; i < blk_bitmap_words(b->size); i++)
		n += (uint64_t)__builtin_popcountll(b->bm[i]);
	return n;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

void blk_bitmap_identify(struct blk_bitmap *b, const struct stat *st)
{
	b->ino = (uint64_t)st->st_ino;
	b->mtime_ns = ns(&st->st_mtim);
	b->ctime_ns = ns(&st->st_ctim);
}

enum blk_bitmap_why blk_bitmap_trust(const struct blk_bitmap *b,
				     const struct stat *st)
{
	/* In this order: the first fault is the one the user is told. */
	if (!b->clean)
		return BLK_BM_UNCLEAN;
	if (b->lost)
		return (enum blk_bitmap_why)b->lost;
	if (S_ISREG(st->st_mode) && (uint64_t)st->st_size != b->size)
		return BLK_BM_RESIZED;
	if (b->ino != (uint64_t)st->st_ino || b->mtime_ns != ns(&st->st_mtim) ||
	    b->ctime_ns != ns(&st->st_ctim))
		return BLK_BM_CHANGED;
	return BLK_BM_TRUSTED;
}

int blk_bitmap_encode(const struct blk_bitmap *b, uint8_t **buf, size_t *len,
		      struct error *err)
{
	size_t words = blk_bitmap_words(b->size);
	size_t n = BLK_BITMAP_HDR + words * 8 + 4;
	uint8_t *p = calloc(1, n);

	if (!p)
		return err_set(err, "out of memory");
	memcpy(p, BLK_BITMAP_MAGIC, 4);
	p[4] = BLK_BITMAP_VERSION;
	p[5] = b->clean ? BLK_BITMAP_CLEAN : 0;
	le32(p + 8, BLK_BITMAP_SHIFT);
	le32(p + 12, b->lost);
	le64(p + 16, b->size);
	le64(p + 24, b->generation);
	le64(p + 32, b->ino);
	le64(p + 40, (uint64_t)b->mtime_ns);
	le64(p + 48, (uint64_t)b->ctime_ns);
	le64(p + 56, b->chunks);
	for (size_t i = 0; i < words; i++)
		le64(p + BLK_BITMAP_HDR + 8 * i, b->bm[i]);
	le32(p + n - 4, (uint32_t)crc32(0, p, (uInt)(n - 4)));
	*buf = p;
	*len = n;
	return 0;
}

int blk_bitmap_parse(const uint8_t *buf, size_t len, struct blk_bitmap *b,
		     struct error *err)
{
	uint64_t size, chunks;
	size_t words;

	memset(b, 0, sizeof(*b));
	if (len < BLK_BITMAP_HDR + 4)
		return err_input(err, "truncated (%zu bytes)", len);
	if (memcmp(buf, BLK_BITMAP_MAGIC, 4))
		return err_input(err, "not a dirty bitmap (bad magic)");
	if (buf[4] != BLK_BITMAP_VERSION)
		return err_input(err, "version %u (this vessel reads %u)", buf[4],
				 BLK_BITMAP_VERSION);
	if ((uint32_t)crc32(0, buf, (uInt)(len - 4)) != rd32(buf + len - 4))
		return err_input(err, "bad CRC");
	if (buf[5] & ~BLK_BITMAP_CLEAN || buf[6] || buf[7])
		return err_input(err, "unknown flags or reserved bits set");
	if (rd32(buf + 8) != BLK_BITMAP_SHIFT)
		return err_input(err, "chunk shift %u (expected %u)", rd32(buf + 8),
				 BLK_BITMAP_SHIFT);
	if (rd32(buf + 12) > BLK_BM_WHY_MAX)
		return err_input(err, "unknown reason %u", rd32(buf + 12));
	size = rd64(buf + 16);
	chunks = rd64(buf + 56);
	if (chunks_of(size) > BLK_BITMAP_MAX_CHUNKS)
		return err_input(err, "image size %llu too large",
				 (unsigned long long)size);
	if (chunks != chunks_of(size))
		return err_input(err, "%llu chunks for an image of %llu bytes",
				 (unsigned long long)chunks,
				 (unsigned long long)size);
	words = blk_bitmap_words(size);
	if (len != BLK_BITMAP_HDR + words * 8 + 4)
		return err_input(err, "%zu bytes for %llu chunks", len,
				 (unsigned long long)chunks);
	if (blk_bitmap_init(b, size, err) < 0)
		return -1;
	b->clean = buf[5] & BLK_BITMAP_CLEAN;
	b->lost = rd32(buf + 12);
	b->generation = rd64(buf + 24);
	b->ino = rd64(buf + 32);
	b->mtime_ns = (int64_t)rd64(buf + 40);
	b->ctime_ns = (int64_t)rd64(buf + 48);
	for (size_t i = 0; i < words; i++)
		b->bm[i] = rd64(buf + BLK_BITMAP_HDR + 8 * i);
	if (chunks % 64 && b->bm[words - 1] >> (chunks % 64)) {
		blk_bitmap_free(b);
		return err_input(err, "bits set past the last chunk");
	}
	return 0;
}

int blk_bitmap_path(const char *image, char *out, size_t n)
{
	int k = snprintf(out, n, "%s%s", image, BLK_BITMAP_SUFFIX);

	return k < 0 || (size_t)k >= n ? -1 : 0;
}

int blk_bitmap_load(const char *image, struct blk_bitmap *b, struct error *err)
{
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	struct stat st;
	ssize_t got;
	int fd, r = -1;

	memset(b, 0, sizeof(*b));
	if (blk_bitmap_path(image, path, sizeof(path)) < 0)
		return err_input(err, "%s: path too long", image);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0)
		return err_sys(err, "%s", path);
	if (fstat(fd, &st) < 0) {
		err_sys(err, "%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)FILE_MAX) {
		err_input(err, "%s: not a dirty bitmap (not a regular file, or "
			  "too large)", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err_set(err, "out of memory");
		goto out;
	}
	got = read_full(fd, buf, (size_t)st.st_size + 1);
	if (got < 0) {
		err_sys(err, "reading %s", path);
		goto out;
	}
	if (blk_bitmap_parse(buf, (size_t)got, b, err) < 0) {
		err_prefix(err, "%s", path);
		goto out;
	}
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* The directory of path, opened (O_DIRECTORY), and path's last part in
 * *base: a descriptor, or -1 with err set. */
static int open_parent(const char *path, const char **base,
		       struct error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		*base = path;
		snprintf(dir, sizeof(dir), ".");
	} else {
		*base = slash + 1;
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? err_sys(err, "%s", dir) : fd;
}

int blk_bitmap_save(const char *image, const struct blk_bitmap *b,
		    struct error *err)
{
	char path[PATH_MAX], tmp[NAME_MAX + 1];
	const char *base;
	struct iovec iov;
	uint8_t *buf;
	size_t len;
	int dirfd, r;

	if (blk_bitmap_path(image, path, sizeof(path)) < 0)
		return err_input(err, "%s: path too long", image);
	if (blk_bitmap_encode(b, &buf, &len, err) < 0)
		return -1;
	dirfd = open_parent(path, &base, err);
	if (dirfd < 0) {
		free(buf);
		return -1;
	}
	/* One writer per image (the VM or the backup holds its lock): a
	 * temporary file left by a crash is stale. */
	snprintf(tmp, sizeof(tmp), "%.*s.tmp", NAME_MAX - 4, base);
	unlinkat(dirfd, tmp, 0);
	iov = (struct iovec){ .iov_base = buf, .iov_len = len };
	r = write_file_atomic(dirfd, base, tmp, &iov, 1, 0600, err);
	close(dirfd);
	free(buf);
	return r;
}

int blk_bitmap_remove(const char *image, struct error *err)
{
	char path[PATH_MAX];
	const char *base;
	int dirfd, r = 0;

	if (blk_bitmap_path(image, path, sizeof(path)) < 0)
		return err_input(err, "%s: path too long", image);
	dirfd = open_parent(path, &base, err);
	if (dirfd < 0)
		return -1;
	if (unlinkat(dirfd, base, 0) < 0)
		r = errno == ENOENT ? 0 : err_sys(err, "removing %s", path);
	else if (fsync(dirfd) < 0)
		r = err_sys(err, "fsync of the directory of %s", path);
	close(dirfd);
	return r;
}

/* The kernel cache's key of a bzImage, remembered by the file's identity
 * (see kcache.h): one small file per kernel file, "key-<dev>-<ino>",
 * holding the size, mtime and ctime (ns) the key was computed for, the
 * key, and a CRC-32 of all that. */
#include "kcache.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <zlib.h>

#include "../tools/base/fdio.h"
#include "../tools/base/le.h"

#define K_MAGIC   "VESSELKK"
#define K_VERSION 1
/* Fields, little-endian at fixed offsets. */
#define K_OFF_MAGIC   0         /* 8 bytes */
#define K_OFF_VERSION 8         /* u32 (then 4 zero bytes) */
#define K_OFF_SIZE    16        /* u64 */
#define K_OFF_MTIME   24        /* u64: ns since the epoch */
#define K_OFF_CTIME   32        /* u64 */
#define K_OFF_KEY     40        /* SHA-256 */
#define K_OFF_CRC     72        /* u64: zlib's CRC-32 of bytes [0, 72) */
#define K_LEN         80

/* A file whose times are this close to now may still change within the
 * same timestamp tick (coarse kernel clock, or 2 s on FAT) without its
 * times changing: it is not remembered yet (git's "racy clean" rule). */
#define RACY_NS (2LL * 1000000000LL)

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void memo_name(const struct stat *st, char *buf, size_t len)
{
	snprintf(buf, len, "key-%llx-%llx", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
}

/* The record for st and key. */
static void memo_fill(uint8_t rec[K_LEN], const struct stat *st,
		      const uint8_t key[SHA256_LEN])
{
	memset(rec, 0, K_LEN);
	memcpy(rec + K_OFF_MAGIC, K_MAGIC, 8);
	rec[K_OFF_VERSION] = K_VERSION;
	le64(rec + K_OFF_SIZE, (uint64_t)st->st_size);
	le64(rec + K_OFF_MTIME, (uint64_t)ns_of(&st->st_mtim));
	le64(rec + K_OFF_CTIME, (uint64_t)ns_of(&st->st_ctim));
	memcpy(rec + K_OFF_KEY, key, SHA256_LEN);
	le64(rec + K_OFF_CRC, crc32_z(0, rec, K_OFF_CRC));
}

bool kcache_key_recall(int dirfd, const struct stat *st, uint8_t key[SHA256_LEN])
{
	uint8_t rec[K_LEN + 1], want[K_LEN];
	char name[64];
	struct stat ms;
	ssize_t n;
	int fd;

	memo_name(st, name, sizeof(name));
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &ms) < 0 || !S_ISREG(ms.st_mode) || ms.st_uid != geteuid()) {
		close(fd);
		return false;
	}
	n = read_full(fd, rec, sizeof(rec));
	close(fd);
	if (n != K_LEN)
		return false;
	/* The record this file would have, with the key it holds: equal
	 * only if magic, version, identity and CRC all match. */
	memo_fill(want, st, rec + K_OFF_KEY);
	if (memcmp(rec, want, K_LEN))
		return false;
	memcpy(key, rec + K_OFF_KEY, SHA256_LEN);
	return true;
}

int kcache_key_remember_at(int dirfd, const struct stat *st,
			   const uint8_t key[SHA256_LEN], int64_t now_ns)
{
	uint8_t rec[K_LEN];
	char name[64], tmp[96];
	struct iovec iov = { .iov_base = rec, .iov_len = K_LEN };
	struct error err = { 0 };

	if (!S_ISREG(st->st_mode) || ns_of(&st->st_mtim) > now_ns - RACY_NS ||
	    ns_of(&st->st_ctim) > now_ns - RACY_NS)
		return 0;
	memo_fill(rec, st, key);
	memo_name(st, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", name, (int)getpid());
	return write_file_atomic(dirfd, name, tmp, &iov, 1, 0644, &err) < 0 ? -1 : 1;
}

int kcache_key_remember(int dirfd, const struct stat *st,
			const uint8_t key[SHA256_LEN])
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return kcache_key_remember_at(dirfd, st, key, ns_of(&now));
}

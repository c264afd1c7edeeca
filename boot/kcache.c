/* The kernel cache's files (see kcache.h). Everything after the directory
 * check goes through its fd (openat, renameat), so a directory swapped
 * behind our back after the check is never used. */
#include "kcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <zlib.h>

#include "payload.h"
#include "../tools/base/fdio.h"
#include "../tools/base/le.h"

#define MAGIC   "VESSELKC"
/* 2: the ELF's checksum is zlib's CRC-32 (1 had xz's CRC-64: as fast on
 * hardware, four times slower in an emulator). 3: the ELF is compacted
 * (elf_compact: a stock kernel's 66 MB become 35). An entry of an older
 * version is reported and rebuilt like a damaged one. */
#define VERSION 3

/* The header, little-endian at fixed offsets; the rest of its 4 KiB is
 * zero, so the ELF starts page-aligned in the file. */
#define H_MAGIC    0    /* 8 bytes */
#define H_VERSION  8    /* u32 */
#define H_HDRSIZE  12   /* u32 */
#define H_ELFSIZE  16   /* u64 */
#define H_ELFCRC   24   /* u64: zlib's CRC-32 of the ELF */
#define H_KEY      32   /* SHA-256 of the bzImage */
#define H_USED     64

static int set_path(char *buf, size_t len, struct error *err,
		    const char *a, const char *b)
{
	if ((size_t)snprintf(buf, len, "%s%s", a, b) >= len)
		return err_set(err, "kernel cache path too long");
	return 0;
}

int kcache_dir_for(uid_t euid, const char *override, const char *xdg,
		   const char *home, char *buf, size_t len, struct error *err)
{
	if (override && override[0] == '/')
		return set_path(buf, len, err, override, "");
	if (euid == 0)
		return set_path(buf, len, err, "/var/cache/vessel/kernels", "");
	if (xdg && xdg[0] == '/')
		return set_path(buf, len, err, xdg, "/vessel/kernels");
	if (home && home[0] == '/')
		return set_path(buf, len, err, home, "/.cache/vessel/kernels");
	return err_set(err, "no kernel cache directory: neither XDG_CACHE_HOME "
		       "nor HOME is an absolute path");
}

int kcache_dir(char *buf, size_t len, struct error *err)
{
	return kcache_dir_for(geteuid(), getenv("VESSEL_KERNEL_CACHE"),
			      getenv("XDG_CACHE_HOME"), getenv("HOME"), buf, len,
			      err);
}

int kcache_open_dir(const char *path, struct error *err)
{
	char p[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);
	int fd;

	if (n == 0 || n >= sizeof(p) || path[0] != '/')
		return err_set(err, "bad kernel cache directory '%s'", path);
	memcpy(p, path, n + 1);
	/* mkdir -p, each missing level 0700 */
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return err_sys(err, "kernel cache: mkdir %s", p);
		*s = c;
		if (!c)
			break;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "kernel cache: %s", path);
	if (fstat(fd, &st) < 0) {
		err_sys(err, "kernel cache: %s", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return err_set(err, "kernel cache: %s is not a directory of this "
			       "user's that only it can write (owner %u, mode %03o)",
			       path, (unsigned)st.st_uid, st.st_mode & 0777);
	}
	return fd;
}

void kcache_entry_name(const uint8_t key[SHA256_LEN], char name[KCACHE_NAME_MAX])
{
	sha256_hex(key, name);
	strcpy(name + 2 * SHA256_LEN, ".vmlinux");
}

/* The content check, on its own thread or the caller's. */
static void *check_crc(void *arg)
{
	struct kcache_map *e = arg;

	e->crc_ok = crc32_z(0, e->elf, e->len) == e->crc;
	return NULL;
}

enum kcache_state kcache_get_deferred(int dirfd, const uint8_t key[SHA256_LEN],
				      struct kcache_map *e, struct error *why)
{
	char name[KCACHE_NAME_MAX];
	const uint8_t *h;
	uint64_t size;
	struct stat st;
	void *map;
	int fd;

	memset(e, 0, sizeof(*e));
	kcache_entry_name(key, name);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return KCACHE_ABSENT;
		err_sys(why, "cannot open it");
		return KCACHE_BAD;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		err_set(why, "not a regular file of this user's");
		close(fd);
		return KCACHE_BAD;
	}
	if (st.st_size < KCACHE_HEADER_SIZE ||
	    (uint64_t)st.st_size > KCACHE_HEADER_SIZE + (uint64_t)PAYLOAD_MAX_SIZE) {
		err_set(why, "bad size %lld", (long long)st.st_size);
		close(fd);
		return KCACHE_BAD;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		err_sys(why, "mmap");
		return KCACHE_BAD;
	}
	h = map;
	size = rd64(h + H_ELFSIZE);
	if (memcmp(h + H_MAGIC, MAGIC, 8) || rd32(h + H_VERSION) != VERSION ||
	    rd32(h + H_HDRSIZE) != KCACHE_HEADER_SIZE)
		err_set(why, "not a version %d entry", VERSION);
	else if (memcmp(h + H_KEY, key, SHA256_LEN))
		err_set(why, "its key does not match its name");
	else if ((uint64_t)st.st_size != KCACHE_HEADER_SIZE + size || size == 0)
		err_set(why, "%lld bytes, its header says %llu + %d",
			(long long)st.st_size, (unsigned long long)size,
			KCACHE_HEADER_SIZE);
	else if (rd64(h + H_ELFCRC) > UINT32_MAX)
		err_set(why, "checksum mismatch");
	else {
		e->map = map;
		e->map_len = st.st_size;
		e->elf = h + KCACHE_HEADER_SIZE;
		e->len = size;
		e->crc = (uint32_t)rd64(h + H_ELFCRC);
		/* Without a thread, the check is done here instead. */
		e->checking = pthread_create(&e->checker, NULL, check_crc, e) == 0;
		if (!e->checking)
			check_crc(e);
		return KCACHE_VALID;
	}
	munmap(map, st.st_size);
	return KCACHE_BAD;
}

int kcache_check(struct kcache_map *e, struct error *why)
{
	if (e->checking) {
		pthread_join(e->checker, NULL);
		e->checking = false;
	}
	return e->crc_ok ? 0 : err_set(why, "checksum mismatch");
}

enum kcache_state kcache_get(int dirfd, const uint8_t key[SHA256_LEN],
			     struct kcache_map *e, struct error *why)
{
	enum kcache_state st = kcache_get_deferred(dirfd, key, e, why);

	if (st == KCACHE_VALID && kcache_check(e, why) < 0) {
		kcache_unmap(e);
		return KCACHE_BAD;
	}
	return st;
}

void kcache_unmap(struct kcache_map *e)
{
	if (e->checking)
		pthread_join(e->checker, NULL);
	if (e->map)
		munmap(e->map, e->map_len);
	memset(e, 0, sizeof(*e));
}

int kcache_put(int dirfd, const uint8_t key[SHA256_LEN], const uint8_t *elf,
	       size_t len, struct error *err)
{
	static unsigned seq;
	char name[KCACHE_NAME_MAX], tmp[KCACHE_NAME_MAX + 48];
	struct iovec iov[2];
	uint8_t *h;
	int r;

	if (len == 0 || len > PAYLOAD_MAX_SIZE)
		return err_set(err, "kernel cache: bad entry size %zu", len);
	h = calloc(1, KCACHE_HEADER_SIZE);
	if (!h)
		return err_set(err, "kernel cache: out of memory");
	memcpy(h + H_MAGIC, MAGIC, 8);
	le32(h + H_VERSION, VERSION);
	le32(h + H_HDRSIZE, KCACHE_HEADER_SIZE);
	le64(h + H_ELFSIZE, len);
	le64(h + H_ELFCRC, crc32_z(0, elf, len));
	memcpy(h + H_KEY, key, SHA256_LEN);

	kcache_entry_name(key, name);
	snprintf(tmp, sizeof(tmp), ".%.16s.%d.%u.tmp", name, (int)getpid(),
		 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	iov[0] = (struct iovec){ .iov_base = h, .iov_len = KCACHE_HEADER_SIZE };
	iov[1] = (struct iovec){ .iov_base = (void *)elf, .iov_len = len };
	r = write_file_atomic(dirfd, name, tmp, iov, 2, 0644, err);
	free(h);
	return r < 0 ? err_prefix(err, "kernel cache") : 0;
}

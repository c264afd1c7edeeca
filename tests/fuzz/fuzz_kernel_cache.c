/* libFuzzer: a kernel cache entry (boot/kcache.c) and a remembered key
 * (boot/kcache_key.c), each read from a file in a private cache directory
 * the input was written to. The entry's key and CRC-32, and the memo's
 * identity and CRC-32, are fixed up on a second pass so that the fuzzer
 * gets past them; a valid entry's ELF must lie inside the file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <sys/stat.h>

#include "../../boot/kcache.h"
#include "../../tools/base/fdio.h"
#include "../../tools/base/le.h"

static int dirfd_ = -1;
static uint8_t key[SHA256_LEN];
static char entry[KCACHE_NAME_MAX];
static struct stat ident;       /* a fake kernel file's identity */

static char dir[] = "/tmp/fuzz-kcache-XXXXXX";

/* At exit: the two files and the directory go. */
static void cleanup(void)
{
	char memo[64];

	snprintf(memo, sizeof(memo), "key-%llx-%llx",
		 (unsigned long long)ident.st_dev, (unsigned long long)ident.st_ino);
	unlinkat(dirfd_, entry, 0);
	unlinkat(dirfd_, memo, 0);
	rmdir(dir);
}

static void setup(void)
{
	struct error err = { 0 };

	if (!mkdtemp(dir))
		abort();
	dirfd_ = kcache_open_dir(dir, &err);
	if (dirfd_ < 0)
		abort();
	sha256("fuzzed bzImage", 14, key);
	kcache_entry_name(key, entry);
	ident.st_mode = S_IFREG | 0644;
	ident.st_dev = 0x801;
	ident.st_ino = 4242;
	ident.st_size = 8 << 20;
	ident.st_mtim.tv_sec = 1700000000;
	ident.st_ctim.tv_sec = 1700000001;
	atexit(cleanup);
}

static void put_file(const char *name, const uint8_t *data, size_t size)
{
	int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	if (size && write_all(fd, data, size) < 0)
		abort();
	close(fd);
}

static void check(const uint8_t *data, size_t size)
{
	struct error why = { 0 };
	struct kcache_map m;
	uint8_t got[SHA256_LEN];
	char memo[64];

	put_file(entry, data, size);
	if (kcache_get(dirfd_, key, &m, &why) == KCACHE_VALID) {
		if ((const uint8_t *)m.elf != (const uint8_t *)m.map + KCACHE_HEADER_SIZE ||
		    m.len + KCACHE_HEADER_SIZE != m.map_len || m.map_len != size ||
		    memcmp(m.elf, data + KCACHE_HEADER_SIZE, m.len))
			abort();
		kcache_unmap(&m);
	}
	snprintf(memo, sizeof(memo), "key-%llx-%llx",
		 (unsigned long long)ident.st_dev, (unsigned long long)ident.st_ino);
	put_file(memo, data, size);
	if (kcache_key_recall(dirfd_, &ident, got) && size != 80)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (dirfd_ < 0)
		setup();
	check(data, size);
	if (size > (64u << 20) || !(copy = malloc(size + KCACHE_HEADER_SIZE)))
		return 0;
	/* as an entry: the input's first 64 bytes as the header's fields,
	 * the rest as the ELF, with the key, size and CRC made right */
	memset(copy, 0, KCACHE_HEADER_SIZE);
	memcpy(copy, data, size < 64 ? size : 64);
	memcpy(copy + KCACHE_HEADER_SIZE, data, size);
	memcpy(copy + 32, key, SHA256_LEN);
	if (size && (data[0] & 1))
		le64(copy + 16, size);
	le64(copy + 24, crc32_z(0, copy + KCACHE_HEADER_SIZE, size));
	check(copy, size + KCACHE_HEADER_SIZE);
	/* as a memo: its identity and CRC made right */
	if (size >= 80) {
		memcpy(copy, data, 80);
		le64(copy + 16, (uint64_t)ident.st_size);
		le64(copy + 24, (uint64_t)ident.st_mtim.tv_sec * 1000000000ull);
		le64(copy + 32, (uint64_t)ident.st_ctim.tv_sec * 1000000000ull);
		le64(copy + 72, crc32_z(0, copy, 72));
		check(copy, 80);
	}
	free(copy);
	return 0;
}

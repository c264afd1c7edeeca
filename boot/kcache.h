/* The kernel cache: the ELF vmlinux decompressed from a bzImage's payload,
 * kept on disk under the SHA-256 of the bzImage, so that later boots skip
 * the decompression. One file per kernel, "<sha256>.vmlinux": a 4 KiB
 * header (magic, version, the key, the ELF's size and CRC-32), then the
 * ELF. Entries are written atomically (a temporary file, fsync, rename)
 * and checked on every use; a damaged one is reported, never returned.
 *
 * Where: $VESSEL_KERNEL_CACHE if set; else /var/cache/vessel/kernels for
 * root; else $XDG_CACHE_HOME/vessel/kernels, or ~/.cache/vessel/kernels.
 * The directory must be owned by the user and not writable by group or
 * others (it is created 0700); entries must be regular files the user
 * owns. Whoever can write it could plant a kernel, so those rules, not the
 * checksum, are what protects it; the checksum catches damage. */
#ifndef VESSEL_KCACHE_H
#define VESSEL_KCACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../tools/base/sha256.h"
#include "../tools/base/error.h"

#define KCACHE_HEADER_SIZE 4096
#define KCACHE_NAME_MAX    (2 * SHA256_LEN + sizeof(".vmlinux"))

/* The directory for a user with these settings (pure: for tests).
 * override is $VESSEL_KERNEL_CACHE, xdg $XDG_CACHE_HOME, home $HOME; each
 * may be NULL, and relative or empty ones are ignored. */
int kcache_dir_for(uid_t euid, const char *override, const char *xdg,
		   const char *home, char *buf, size_t len, struct error *err);
/* The same from this process's environment. */
int kcache_dir(char *buf, size_t len, struct error *err);

/* Open the directory, creating it and its missing parents (0700). Refuses
 * (-1) one that is a symlink, not a directory, not owned by this user, or
 * writable by group or others. Returns an O_DIRECTORY fd. */
int kcache_open_dir(const char *path, struct error *err);

/* "<hex key>.vmlinux" */
void kcache_entry_name(const uint8_t key[SHA256_LEN], char name[KCACHE_NAME_MAX]);

enum kcache_state {
	KCACHE_ABSENT,          /* no entry for this key */
	KCACHE_VALID,           /* the entry is mapped: see struct kcache_map */
	KCACHE_BAD,             /* an entry that fails its checks: why says how */
};

/* A valid entry, mapped read-only from the page cache (MAP_PRIVATE): the
 * ELF is read once, by the loader, not copied first. Entries are only
 * ever replaced by rename, never rewritten in place, so the mapping stays
 * whole while it is used. */
struct kcache_map {
	void *map;
	size_t map_len;
	const uint8_t *elf;     /* map + KCACHE_HEADER_SIZE */
	size_t len;
	/* the content check (kcache_get_deferred) */
	uint32_t crc;           /* the header's */
	bool crc_ok;
	bool checking;          /* checker runs: join it (kcache_check) */
	pthread_t checker;
};

/* The entry for key, checked whole: its header, size and checksum. */
enum kcache_state kcache_get(int dirfd, const uint8_t key[SHA256_LEN],
			     struct kcache_map *e, struct error *why);
/* The same, except that KCACHE_VALID means only that the header and the
 * size are right: the checksum of the 35 MB a stock kernel has is being
 * computed on another thread meanwhile, so that the loader can copy the
 * ELF into guest RAM at the same time. Nothing may run from it before
 * kcache_check says 0; until then the ELF is hostile input like any
 * kernel file (its parser bounds-checks everything). */
enum kcache_state kcache_get_deferred(int dirfd, const uint8_t key[SHA256_LEN],
				      struct kcache_map *e, struct error *why);
/* Waits for the check: 0, or -1 with why = "checksum mismatch". */
int kcache_check(struct kcache_map *e, struct error *why);
void kcache_unmap(struct kcache_map *e);
/* Write (or replace) the entry for key atomically. */
int kcache_put(int dirfd, const uint8_t key[SHA256_LEN], const uint8_t *elf,
	       size_t len, struct error *err);

/* ---- The key without hashing again (kcache_key.c) ----
 * Hashing the bzImage costs a boot more than anything else vessel does
 * (a quarter of a second in the nested test host). A key is remembered by
 * the kernel file's identity: device, inode, size, and its modification
 * and change times to the nanosecond. Rewriting the file in place changes
 * its times; replacing it makes a new inode with a new change time, which
 * no user can set back. A file changed within 2 s of being remembered
 * could keep its times (a coarse timestamp tick), so such a file is not
 * remembered until it is older. Whoever can write the cache directory can
 * plant kernels anyway: memos live there, under the same rules. */

/* Fills key from a memo of the file st describes: true if there is one
 * for exactly this identity. */
bool kcache_key_recall(int dirfd, const struct stat *st, uint8_t key[SHA256_LEN]);
/* Remembers key for the file st describes, if its times are 2 s or more
 * before now_ns (the racy rule above): 1 stored, 0 not yet, -1 failed
 * (nothing lost: the next boot hashes again). */
int kcache_key_remember_at(int dirfd, const struct stat *st,
			   const uint8_t key[SHA256_LEN], int64_t now_ns);
/* The same at CLOCK_REALTIME's now. */
int kcache_key_remember(int dirfd, const struct stat *st,
			const uint8_t key[SHA256_LEN]);

#endif

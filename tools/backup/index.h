/* One index: the chunks of one disk image or one container tree, in
 * order (docs/backup-format.md):
 *   "VBI1", version 1, kind (1 disk, 2 tree), 2 reserved bytes,
 *   u32 chunk size (disk: every chunk but the last has it; tree: 0),
 *   u32 reserved, u64 logical size, u64 entry count,
 *   entries of 40 bytes: SHA-256, u32 length, u32 flags (bit 0: a chunk
 *   of zeros, not stored; its hash field is zero),
 *   then the SHA-256 of everything before it. */
#ifndef VESSEL_BACKUP_INDEX_H
#define VESSEL_BACKUP_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../base/sha256.h"
#include "../base/error.h"

#define INDEX_MAGIC     "VBI1"
#define INDEX_HDR       32
#define INDEX_ENTRY     40
#define INDEX_ZERO      1u
/* An index of at most this many entries (a 64 TiB disk). */
#define INDEX_MAX_ENTRIES (1u << 24)

enum index_kind { INDEX_DISK = 1, INDEX_TREE = 2 };

struct index_entry {
	uint8_t digest[SHA256_LEN];
	uint32_t len;
	uint32_t flags;
};

struct index {
	enum index_kind kind;
	uint32_t chunk_size;
	uint64_t size;          /* the sum of the entries' lengths */
	struct index_entry *e;
	size_t n, cap;
};

void index_init(struct index *ix, enum index_kind kind, uint32_t chunk_size);
void index_free(struct index *ix);
int index_add(struct index *ix, const uint8_t digest[SHA256_LEN], uint32_t len,
	      uint32_t flags, struct error *err);
/* The file's bytes (malloc'd) and their SHA-256. */
int index_encode(const struct index *ix, uint8_t **buf, size_t *len,
		 struct error *err);
/* Parse untrusted bytes: every field checked; err_input on any fault. */
int index_parse(const uint8_t *buf, size_t len, struct index *ix,
		struct error *err);

#endif

/* Which parts of a disk image the guest wrote while it was watched: a live
 * migration copying the image (--with-disks) sends those again, as it does
 * the RAM pages the guest wrote. One log per disk, owned by the machine,
 * marked by the disk's engine as each write, write-zeroes or discard
 * completes (after the image changed: a copy that read the block before
 * reads it again), read and cleared by the migration. Any thread.
 * The same log, in blocks of 4 MiB (blk_dirty_start_at), records what
 * changed since the last backup (cbt.h). */
#ifndef VESSEL_BLOCK_DIRTY_H
#define VESSEL_BLOCK_DIRTY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../tools/base/error.h"

#define BLK_DIRTY_SHIFT 16              /* 64 KiB blocks */
#define BLK_DIRTY_BLOCK (1ull << BLK_DIRTY_SHIFT)

struct blk_dirty {
	pthread_mutex_t lock;
	uint64_t *bm;                   /* NULL: not watching */
	uint64_t size;                  /* the image's bytes when started */
	unsigned shift;                 /* blocks of 1 << shift bytes */
};

void blk_dirty_init(struct blk_dirty *d);
void blk_dirty_destroy(struct blk_dirty *d);
/* 64-bit words of a bitmap for an image of size bytes (in blocks of
 * BLK_DIRTY_BLOCK, or of 1 << shift bytes). */
size_t blk_dirty_words(uint64_t size);
size_t blk_dirty_words_at(uint64_t size, unsigned shift);
/* Watch an image of size bytes, nothing marked; an error only when out of
 * memory. Watching already: the marks go. */
int blk_dirty_start(struct blk_dirty *d, uint64_t size, struct error *err);
/* The same in blocks of 1 << shift bytes (12..40). */
int blk_dirty_start_at(struct blk_dirty *d, uint64_t size, unsigned shift,
		       struct error *err);
void blk_dirty_stop(struct blk_dirty *d);
/* Bytes [off, off + len) changed. Nothing when not watching; what lies
 * past the size is ignored. */
void blk_dirty_mark(struct blk_dirty *d, uint64_t off, uint64_t len);
/* OR the marks into out (blk_dirty_words(size) words) and clear them;
 * returns how many blocks were marked. */
uint64_t blk_dirty_take(struct blk_dirty *d, uint64_t *out);

#endif

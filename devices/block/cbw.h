/* Copy-before-write: a backup of a running VM's disk that sees the disk as
 * it was when the backup began. The backup reads the image chunk by chunk
 * while the guest writes on; a guest write (or write-zeroes, or discard)
 * to a chunk the backup has not read yet first saves that chunk's old
 * data into a temporary file, then goes ahead. The backup takes each
 * chunk either from that copy or from the image, never a mix.
 *
 * Per chunk, under one lock, states only move forward:
 *   UNREAD -> READING (the backup reads the image; writes to it wait) -> DONE
 *   UNREAD -> COPYING (a write saves it; the backup waits) -> SAVED -> DONE
 * A write goes ahead once its chunks are SAVED or DONE. A chunk is copied
 * at most once: the guest's slowdown is one chunk's copy per chunk, once.
 *
 * One per disk, owned by the machine (board.c) beside its write log, and
 * consulted by the disk's backend: a write to a chunk not yet SAVED or
 * DONE goes to a worker thread, which calls blk_cbw_before_write() before
 * it touches the image. The caller starts it with no request in flight
 * (the disks quiesced), so every later write passes through it. Any
 * thread; the lock is taken after any backend lock. */
#ifndef VESSEL_BLOCK_CBW_H
#define VESSEL_BLOCK_CBW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../tools/base/error.h"

/* What blk_cbw_claim() put in the caller's buffer */
enum blk_cbw_source {
	BLK_CBW_IMAGE = 0,      /* nothing: read the image now, then release */
	BLK_CBW_COPY = 1,       /* the saved copy */
	BLK_CBW_ZERO = 2,       /* nothing: the chunk was all zeros */
};

struct blk_cbw_stats {
	uint64_t copies;        /* chunks saved before a write */
	uint64_t copied;        /* bytes of them written to the temporary file */
	uint64_t waits;         /* writes that waited for the backup's read */
};

struct blk_cbw {
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* a chunk changed state, or stopping */
	bool active;            /* between start and stop (or cancel) */
	uint8_t *state;         /* per chunk */
	uint64_t size, nchunks; /* the image's bytes when started */
	uint32_t chunk;         /* bytes per chunk */
	int img_fd;             /* the image, read-only */
	int tmp_fd;             /* the copies: chunk i at i * chunk */
	unsigned busy;          /* before_write calls using the fds */
	struct error error;     /* a copy failed, or cancelled: msg set */
	struct blk_cbw_stats st;
};

void blk_cbw_init(struct blk_cbw *c);
/* Stops it first. */
void blk_cbw_destroy(struct blk_cbw *c);
/* Begin on the image at path, every chunk unread; the copies go to an
 * unnamed temporary file in tmp_dir. No request may be in flight. */
int blk_cbw_start(struct blk_cbw *c, const char *path, const char *tmp_dir,
		  uint32_t chunk, struct error *err);
/* Would a write to [off, off + len) have to wait or copy first? False
 * when not started. */
bool blk_cbw_pending(struct blk_cbw *c, uint64_t off, uint64_t len);
/* Before a write to [off, off + len): save each unread chunk it touches,
 * wait for the backup's reads of the others. Never fails: a copy that
 * cannot be made fails the backup instead (blk_cbw_claim reports it). */
void blk_cbw_before_write(struct blk_cbw *c, uint64_t off, uint64_t len);
/* The backup wants the chunk at off (a multiple of the chunk size, len
 * bytes, the whole chunk): a blk_cbw_source, or -1 with err (a copy
 * failed, cancelled, not started). BLK_CBW_IMAGE: the chunk is the
 * caller's to read from the image until blk_cbw_release(). */
int blk_cbw_claim(void *cbw, uint64_t off, uint8_t *buf, size_t len,
		  struct error *err);
/* The image read of the chunk at off is done: writes to it go ahead. -1
 * with err if the backup failed meanwhile (what was read may be torn). */
int blk_cbw_release(void *cbw, uint64_t off, struct error *err);
/* The backup cannot go on (the guest stops): writes go ahead, claims
 * fail with why. */
void blk_cbw_cancel(struct blk_cbw *c, const char *why);
/* The end: writes go ahead unhindered; waits for those copying; the
 * temporary file goes. */
void blk_cbw_stop(struct blk_cbw *c);
void blk_cbw_get_stats(struct blk_cbw *c, struct blk_cbw_stats *st);

#endif

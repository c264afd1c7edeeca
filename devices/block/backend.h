/* A disk image backend: asynchronous reads, writes, flushes, discards and
 * write-zeroes against a raw image file or a block device.
 *
 * blk_backend_submit() never blocks on the disk and never fails: every
 * submitted blk_io comes back, with its result set, through the completion
 * callback, which runs on the event loop thread with no backend lock held.
 *
 * Two engines sit behind the interface:
 *  - aio (cache: none): the image is opened O_DIRECT and aligned reads and
 *    writes go to the kernel through libaio, zero copy, many in flight;
 *  - a pool of worker threads doing preadv/pwritev/fdatasync/fallocate: the
 *    whole data path with cache: writeback (or when O_DIRECT is refused,
 *    e.g. on an old tmpfs), and with aio the flushes, discards and requests
 *    whose buffers O_DIRECT cannot take (through an aligned bounce buffer).
 */
#ifndef VESSEL_BLOCK_BACKEND_H
#define VESSEL_BLOCK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <libaio.h>

#include "disk_spec.h"
#include "../../tools/base/error.h"
#include "../../vmm/loop.h"

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,           /* fdatasync: durable once completed */
	BLK_OP_DISCARD,         /* advisory: may do nothing */
	BLK_OP_WRITE_ZEROES,    /* reads return zeroes afterwards */
};

struct blk_io {
	/* Filled by the submitter */
	enum blk_op op;
	uint64_t offset, len;           /* bytes; inside the image */
	bool unmap;                     /* WRITE_ZEROES: may deallocate */
	struct iovec *iov;              /* READ/WRITE: len bytes in total */
	unsigned niov;                  /* at most BLK_MAX_IOV */
	/* Filled by the backend before completion: 0 or -errno */
	int result;
	/* Backend-private */
	struct blk_io *next;
	bool bounce;                    /* O_DIRECT refused it: copy */
	struct iocb iocb;
};

#define BLK_MAX_IOV 1024        /* IOV_MAX */

/* Does this request change the image (a live backup must see it first;
 * the dirty logs mark it)? */
static inline bool blk_io_changes(const struct blk_io *io)
{
	return io->op == BLK_OP_WRITE || io->op == BLK_OP_WRITE_ZEROES ||
	       io->op == BLK_OP_DISCARD;
}

/* Called on the loop thread with a list (linked by ->next) of completed
 * requests. The callee owns them from then on. */
typedef void (*blk_complete_fn)(void *opaque, struct blk_io *list);

struct blk_backend;

struct blk_backend_opts {
	const char *path;
	bool readonly;                  /* O_RDONLY; writes are refused */
	enum disk_cache cache;
	unsigned workers;               /* 0: a default for the mode */
	bool unlocked;                  /* no lock until blk_backend_handover */
	/* A live backup's copy-before-write (cbw.h): writes to chunks it
	 * has not settled go through a worker, which calls it first. NULL:
	 * none. */
	struct blk_cbw *cbw;
};

/* Open the image and start the engine. Errors carry the failing step
 * ("open: Permission denied"); the caller adds which disk. */
int blk_backend_open(struct blk_backend **out, const struct blk_backend_opts *o,
		     struct loop *loop, blk_complete_fn fn, void *opaque,
		     struct error *err);
void blk_backend_submit(struct blk_backend *b, struct blk_io *io);
/* Wait until no submitted request can touch its buffers any more. Their
 * completions may still be queued for the loop thread. Any thread. */
void blk_backend_drain(struct blk_backend *b);
/* Drain, then hand every completion to the callback on the calling
 * thread, and deliver none from the loop until blk_backend_resume(): no
 * request is at the backend or waits for the loop afterwards. Lock not
 * held (the callback takes it). */
void blk_backend_pause(struct blk_backend *b);
int blk_backend_resume(struct blk_backend *b, struct error *err);
/* Paused (blk_backend_pause): sync the image and let go of its lock, so
 * that another process (a migration's destination) may open it; or take
 * the lock back (refused while another process holds it). */
int blk_backend_handover(struct blk_backend *b, bool release, struct error *err);
/* Drain, stop the engine, hand what is still queued to the completion
 * callback on the calling thread, close the image. */
void blk_backend_close(struct blk_backend *b);

uint64_t blk_backend_size(const struct blk_backend *b);       /* bytes */
/* The image's descriptor (to flush it, fstat it): never closed by caller. */
int blk_backend_fd(const struct blk_backend *b);
/* The smallest I/O unit that goes through without a bounce: 512, or the
 * host's logical block size under O_DIRECT. */
unsigned blk_backend_block_size(const struct blk_backend *b);
/* "aio" or "sync" */
const char *blk_backend_mode(const struct blk_backend *b);

/* Which path requests took, since open */
struct blk_stats {
	uint64_t aio;                   /* submitted to libaio */
	uint64_t sync;                  /* run by a worker */
	uint64_t bounce;                /* of those, copied through a bounce buffer */
	uint64_t retried;               /* aio would have blocked: to a worker */
};
void blk_backend_stats(struct blk_backend *b, struct blk_stats *s);

#endif

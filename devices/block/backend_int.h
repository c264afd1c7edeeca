/* Inside the disk backend: shared by backend.c (lifetime, completions),
 * image.c (opening), worker.c (the thread pool) and aio.c (libaio). Not for
 * devices: they use backend.h.
 *
 * Locks, in the order they may be taken:
 *   the device's lock (held by callers of submit and drain)
 *   -> aio_lock (the libaio context: submission, reaping, aio_inflight)
 *   -> lock (worker queue, done list, counters)
 * No backend lock is held while the completion callback runs. */
#ifndef VESSEL_BLOCK_BACKEND_INT_H
#define VESSEL_BLOCK_BACKEND_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "backend.h"
#include "cbw.h"

#define BLK_BOUNCE_SIZE (1U << 20)      /* per worker, for O_DIRECT */
#define BLK_AIO_DEPTH   256             /* a queue's worth of requests */
#define BLK_MAX_WORKERS 8

/* An opened image */
struct blk_image {
	int fd;
	uint64_t size;                  /* bytes */
	bool direct;                    /* O_DIRECT */
	unsigned mem_align;             /* O_DIRECT buffer address alignment */
	unsigned off_align;             /* O_DIRECT offset and length alignment */
};

struct blk_worker {
	struct blk_backend *b;
	pthread_t thread;
	bool started;
	void *bounce;                   /* BLK_BOUNCE_SIZE, page aligned */
};

struct blk_backend {
	struct blk_image img;
	bool readonly;
	struct loop *loop;
	int efd;                        /* eventfd: completions are waiting */
	bool efd_watched;
	blk_complete_fn complete;
	void *opaque;
	struct blk_cbw *cbw;            /* or NULL: see blk_backend_opts */

	pthread_mutex_t lock;
	pthread_cond_t work;            /* the worker queue is not empty */
	pthread_cond_t idle;            /* worker_pending reached 0 */
	struct blk_io *queue_head, *queue_tail;
	unsigned worker_pending;        /* queued or running in a worker */
	bool stopping;
	struct blk_io *done_head, *done_tail;

	unsigned nworkers;
	struct blk_worker worker[BLK_MAX_WORKERS];
	struct blk_stats stats;         /* aio, retried: aio_lock; others: lock */

	bool aio;
	bool nowait;                    /* RWF_NOWAIT accepted on this file */
	pthread_mutex_t aio_lock;
	io_context_t ctx;
	unsigned aio_inflight;
};

/* image.c: open path (O_DIRECT when direct; EINVAL from O_DIRECT leaves
 * img->direct false), size, alignment, and when lock, lock against a
 * second writer. */
int blk_image_open(struct blk_image *img, const char *path, bool readonly,
		   bool direct, bool lock, struct error *err);
void blk_image_close(struct blk_image *img);
/* Take the image's lock (shared when readonly), or sync it and let go. */
int blk_image_lock(struct blk_image *img, bool readonly, bool lock,
		   struct error *err);
/* Can this request go to O_DIRECT as it is? */
bool blk_image_aligned(const struct blk_image *img, const struct blk_io *io);

/* backend.c: a finished request joins the done list (lock held), and the
 * loop is woken to deliver it (aio completions signal the eventfd
 * themselves). Any thread. */
void blk_done_locked(struct blk_backend *b, struct blk_io *io);
void blk_wake(struct blk_backend *b);

/* worker.c */
int blk_workers_start(struct blk_backend *b, unsigned n, struct error *err);
void blk_workers_stop(struct blk_backend *b);
void blk_worker_enqueue(struct blk_backend *b, struct blk_io *io);
void blk_workers_drain(struct blk_backend *b);
/* Run one request synchronously on the calling thread: 0 or -errno.
 * bounce: BLK_BOUNCE_SIZE bytes, page aligned. */
int blk_execute(const struct blk_image *img, struct blk_io *io, void *bounce);

/* aio.c */
int blk_aio_init(struct blk_backend *b, struct error *err);
void blk_aio_fini(struct blk_backend *b);
/* False if the request cannot go through aio: then the caller gives it to
 * a worker. */
bool blk_aio_submit(struct blk_backend *b, struct blk_io *io);
/* Reap finished requests into the done list; with wait, until none is in
 * flight. */
void blk_aio_reap(struct blk_backend *b, bool wait);

#endif

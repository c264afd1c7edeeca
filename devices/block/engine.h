/* The virtio-blk data plane of one disk: takes requests off its virtqueue,
 * answers the ones that need no disk at once, hands the others to the
 * backend and answers them when the backend completes them. Knows nothing
 * of the transport: the device (devices/virtio/blk.c) supplies its lock,
 * its queue and two callbacks.
 *
 * Threads: blk_engine_notify() and blk_engine_reset() run with *lock held
 * (notify on the loop thread, reset on a vCPU); completions run on the loop
 * thread and take *lock. A reset waits for the backend to stop touching
 * guest buffers; the completions of requests from before it are dropped
 * without touching the (new) ring. */
#ifndef VESSEL_BLOCK_ENGINE_H
#define VESSEL_BLOCK_ENGINE_H

#include <pthread.h>

#include "backend.h"
#include "cbt.h"
#include "dirty.h"
#include "request.h"

struct blk_engine_ops {
	/* Buffers were used: interrupt the guest if it wants it. Lock held. */
	void (*used)(void *opaque);
	/* A request the device cannot even answer: needs reset. Lock held. */
	void (*broken)(void *opaque);
	/* BLK_ENGINE_BUDGET requests taken and the ring may hold more: call
	 * blk_engine_notify() again on a later turn of the loop. Lock held. */
	void (*more)(void *opaque);
};

/* Requests one notify (or one batch of completions) takes off the ring:
 * a guest refilling its ring as fast as it is answered must not hold the
 * shared event loop. */
#define BLK_ENGINE_BUDGET 64

struct blk_engine {
	struct blk_backend *be;
	struct blk_dirty *dirty;        /* NULL: writes go unrecorded */
	struct blk_cbt *cbt;            /* the backup's marks; or NULL */
	struct blk_cbt **cbt_slot;      /* where cbt is published; or NULL */
	struct blk_limits lim;
	char id[VIRTIO_BLK_ID_BYTES];
	/* From blk_engine_attach() */
	pthread_mutex_t *lock;
	struct virtq *vq;
	const struct blk_engine_ops *ops;
	void *opaque;
	/* Under *lock */
	unsigned gen;                   /* bumped by reset: older requests are stale */
	unsigned inflight;              /* submitted in this generation */
	bool throttled;                 /* stopped popping: queue-size in flight */
	bool broken;                    /* a malformed request: until reset */
	bool dead;                      /* closing */
	bool paused;                    /* quiesced: pops nothing */
	struct virtq_req vreq;          /* scratch for virtq_pop */
	struct iovec iov[VIRTQ_MAX_IOV];
};

/* The limits a disk offers the guest (see the config space in blk.c) */
#define BLK_MAX_DISCARD_SECTORS      (1U << 22)        /* 2 GiB */
#define BLK_MAX_WRITE_ZEROES_SECTORS (1U << 22)
#define BLK_MAX_DISCARD_SEG          1

struct blk_engine_opts {
	const struct disk_spec *disk;
	unsigned index;                 /* vda = 0 */
	const char *name;               /* the guest's, for the serial */
	unsigned workers;               /* 0: the backend's default */
	bool unlocked;                  /* no image lock until handover */
	struct blk_dirty *dirty;        /* marked as writes complete; or NULL */
	struct blk_cbw *cbw;            /* a live backup's; or NULL */
	/* Set to the disk's backup marks (NULL: none) from open to close,
	 * for a live backup to take them (cbt.h); or NULL. */
	struct blk_cbt **cbt_slot;
};

/* Open the image; a writable one that is locked gets its backup bitmap
 * (cbt.h), written clean again by blk_engine_close. Errors read "cannot open: No such file or directory";
 * the caller says which disk. */
int blk_engine_open(struct blk_engine **out, const struct blk_engine_opts *o,
		    struct loop *loop, struct error *err);
void blk_engine_attach(struct blk_engine *e, pthread_mutex_t *lock,
		       struct virtq *vq, const struct blk_engine_ops *ops,
		       void *opaque);
/* The guest kicked the queue. Lock held. */
void blk_engine_notify(struct blk_engine *e);
/* The driver reset the device. Lock held; waits for in-flight I/O. */
void blk_engine_reset(struct blk_engine *e);
/* Lock not held. Stop taking requests, wait until every one submitted
 * completed and is in the used ring; until resume nothing is popped and
 * nothing completes. Idempotent. */
void blk_engine_quiesce(struct blk_engine *e);
int blk_engine_resume(struct blk_engine *e, struct error *err);
/* Paused: let go of the image (for a migration's destination; its
 * backup bitmap stays not clean), or take it back. */
int blk_engine_handover(struct blk_engine *e, bool release, struct error *err);
/* Lock not held. Waits for in-flight I/O, saves the backup bitmap (a
 * clean stop), then closes the image. */
void blk_engine_close(struct blk_engine *e);

#endif

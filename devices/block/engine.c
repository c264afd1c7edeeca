/* The virtio-blk data plane: virtqueue in, backend out, status byte and
 * used ring back. See engine.h for the threads and the lock. */
#include "engine.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request at the backend */
struct blk_inflight {
	struct blk_io io;
	uint8_t *status;
	uint32_t used_len;
	uint16_t head;
	unsigned gen;
	struct iovec iov[];
};

static struct blk_inflight *to_inflight(struct blk_io *io)
{
	return (struct blk_inflight *)((char *)io - offsetof(struct blk_inflight, io));
}

/* Status byte, then the used ring. True if the guest got it back. */
static bool answer(struct blk_engine *e, uint8_t *status, uint16_t head,
		   uint32_t used_len, uint8_t code)
{
	*(volatile uint8_t *)status = code;
	if (virtq_push(e->vq, head, used_len) < 0) {
		e->broken = true;
		e->ops->broken(e->opaque);
		return false;
	}
	return true;
}

/* One popped chain. True if it was answered at once. */
static bool handle(struct blk_engine *e)
{
	struct blk_inflight *f;
	struct blk_req r;

	switch (blk_parse(&e->vreq, &e->lim, e->iov, &r)) {
	case BLK_MALFORMED:
		e->broken = true;
		e->ops->broken(e->opaque);
		return false;
	case BLK_COMPLETE:
		return answer(e, r.status, r.head, r.used_len, r.status_code);
	case BLK_GET_ID:
		blk_put_id(&r, e->id);
		return answer(e, r.status, r.head, r.used_len, VIRTIO_BLK_S_OK);
	case BLK_SUBMIT:
		break;
	}
	f = malloc(sizeof(*f) + r.io.niov * sizeof(f->iov[0]));
	if (!f)
		return answer(e, r.status, r.head, r.used_len, VIRTIO_BLK_S_IOERR);
	f->io = r.io;
	memcpy(f->iov, e->iov, r.io.niov * sizeof(f->iov[0]));
	f->io.iov = f->iov;
	f->status = r.status;
	f->used_len = r.used_len;
	f->head = r.head;
	f->gen = e->gen;
	e->inflight++;
	blk_backend_submit(e->be, &f->io);
	return false;
}

/* Pop and dispatch until the ring is empty, or a queue's worth of
 * requests is at the backend (a guest re-posting the same descriptors
 * must not make us allocate without bound), or the budget is spent (the
 * rest on a later turn, through ops->more). Lock held. */
static void process(struct blk_engine *e)
{
	struct virtq *vq = e->vq;
	bool pushed = false;
	unsigned taken = 0;
	int n = 0;

	e->throttled = false;
	while (!e->broken && !e->dead && !e->paused && vq->ready && !vq->broken) {
		if (e->inflight >= vq->size) {
			e->throttled = true;
			break;
		}
		if (taken == BLK_ENGINE_BUDGET) {
			e->ops->more(e->opaque);
			break;
		}
		n = virtq_pop(vq, &e->vreq);
		if (n <= 0)
			break;
		taken++;
		pushed |= handle(e);
	}
	if (pushed)
		e->ops->used(e->opaque);
	if (n < 0) {
		e->broken = true;
		e->ops->broken(e->opaque);
	}
}

static void complete(void *opaque, struct blk_io *list)
{
	struct blk_engine *e = opaque;
	bool pushed = false;

	if (e->lock)
		pthread_mutex_lock(e->lock);
	while (list) {
		struct blk_inflight *f = to_inflight(list);

		list = list->next;
		/* The image changed (or may have: a failed write): a copy
		 * made before must be made again. */
		if (blk_io_changes(&f->io)) {
			if (e->dirty)
				blk_dirty_mark(e->dirty, f->io.offset, f->io.len);
			blk_cbt_mark(e->cbt, f->io.offset, f->io.len);
		}
		/* From before a reset: the ring it came from is gone. */
		if (e->lock && f->gen == e->gen && !e->dead) {
			e->inflight--;
			pushed |= answer(e, f->status, f->head, f->used_len,
					 f->io.result ? VIRTIO_BLK_S_IOERR :
							VIRTIO_BLK_S_OK);
		}
		free(f);
	}
	if (!e->lock)
		return;
	if (pushed)
		e->ops->used(e->opaque);
	if (e->throttled)
		process(e);
	pthread_mutex_unlock(e->lock);
}

int blk_engine_open(struct blk_engine **out, const struct blk_engine_opts *o,
		    struct loop *loop, struct error *err)
{
	struct blk_engine *e = calloc(1, sizeof(*e));
	struct blk_backend_opts bo = {
		.path = o->disk->path,
		.readonly = o->disk->readonly,
		.cache = o->disk->cache,
		.workers = o->workers,
		.unlocked = o->unlocked,
		.cbw = o->cbw,
	};

	*out = NULL;
	if (!e)
		return err_set(err, "out of memory");
	if (blk_backend_open(&e->be, &bo, loop, complete, e, err) < 0) {
		free(e);
		return -1;
	}
	e->lim = (struct blk_limits){
		.capacity = blk_backend_size(e->be) >> BLK_SECTOR_SHIFT,
		.readonly = o->disk->readonly,
		.max_discard_sectors = BLK_MAX_DISCARD_SECTORS,
		.max_write_zeroes_sectors = BLK_MAX_WRITE_ZEROES_SECTORS,
		.max_discard_seg = BLK_MAX_DISCARD_SEG,
	};
	if (!o->disk->readonly && !o->unlocked &&
	    blk_cbt_open(&e->cbt, o->disk->path, blk_backend_fd(e->be), err) < 0) {
		blk_backend_close(e->be);
		free(e);
		return -1;
	}
	blk_make_id(e->id, o->name, o->index);
	e->dirty = o->dirty;
	e->cbt_slot = o->cbt_slot;
	if (e->cbt_slot)
		*e->cbt_slot = e->cbt;
	*out = e;
	return 0;
}

void blk_engine_attach(struct blk_engine *e, pthread_mutex_t *lock,
		       struct virtq *vq, const struct blk_engine_ops *ops,
		       void *opaque)
{
	e->lock = lock;
	e->vq = vq;
	e->ops = ops;
	e->opaque = opaque;
}

void blk_engine_notify(struct blk_engine *e)
{
	process(e);
}

void blk_engine_reset(struct blk_engine *e)
{
	e->gen++;
	e->inflight = 0;
	e->throttled = false;
	e->broken = false;
	blk_backend_drain(e->be);
}

void blk_engine_quiesce(struct blk_engine *e)
{
	pthread_mutex_lock(e->lock);
	e->paused = true;
	pthread_mutex_unlock(e->lock);
	/* Their completions answer the guest here, on this thread. */
	blk_backend_pause(e->be);
}

int blk_engine_resume(struct blk_engine *e, struct error *err)
{
	pthread_mutex_lock(e->lock);
	e->paused = false;
	pthread_mutex_unlock(e->lock);
	return blk_backend_resume(e->be, err);
}

int blk_engine_handover(struct blk_engine *e, bool release, struct error *err)
{
	if (release)
		blk_cbt_forget(e->cbt);
	return blk_backend_handover(e->be, release, err);
}

void blk_engine_close(struct blk_engine *e)
{
	struct error err = { 0 };

	if (!e)
		return;
	if (e->lock) {
		pthread_mutex_lock(e->lock);
		e->dead = true;
		e->gen++;
		blk_backend_drain(e->be);
		pthread_mutex_unlock(e->lock);
	}
	if (e->cbt_slot)
		*e->cbt_slot = NULL;
	if (e->cbt) {
		/* Every write completed and marked, then the bitmap. */
		blk_backend_pause(e->be);
		if (blk_cbt_close(e->cbt, blk_backend_fd(e->be), &err) < 0)
			fprintf(stderr, "vessel: the backup's dirty bitmap is "
				"not saved (the next backup reads everything): "
				"%s\n", err.msg);
		e->cbt = NULL;
	}
	/* What is still queued for the loop comes back here, stale. */
	blk_backend_close(e->be);
	free(e);
}

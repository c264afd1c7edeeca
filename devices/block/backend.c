/* The disk backend's lifetime and its completion path: requests finish on
 * a worker or in the kernel (aio), join the done list, and the loop thread
 * hands the list to the device. */
#include "backend_int.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

void blk_done_locked(struct blk_backend *b, struct blk_io *io)
{
	io->next = NULL;
	if (b->done_tail)
		b->done_tail->next = io;
	else
		b->done_head = io;
	b->done_tail = io;
}

void blk_wake(struct blk_backend *b)
{
	/* Cannot fail short of the counter overflowing */
	(void)eventfd_write(b->efd, 1);
}

static void deliver(struct blk_backend *b)
{
	struct blk_io *list;

	pthread_mutex_lock(&b->lock);
	list = b->done_head;
	b->done_head = b->done_tail = NULL;
	pthread_mutex_unlock(&b->lock);
	if (list)
		b->complete(b->opaque, list);
}

static void backend_ready(struct loop *loop, int fd, uint32_t events,
			  void *opaque)
{
	struct blk_backend *b = opaque;
	eventfd_t v;

	(void)loop;
	(void)events;
	(void)eventfd_read(fd, &v);     /* EAGAIN: a spurious wake-up */
	blk_aio_reap(b, false);
	deliver(b);
}

/* What the device should never ask, refused before it reaches the disk. */
static int check(const struct blk_backend *b, const struct blk_io *io)
{
	uint64_t total = 0;

	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (io->niov > BLK_MAX_IOV)
			return -EINVAL;
		for (unsigned i = 0; i < io->niov; i++)
			total += io->iov[i].iov_len;
		if (total != io->len)
			return -EINVAL;
		break;
	case BLK_OP_FLUSH:
		return 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		break;
	default:
		return -EINVAL;
	}
	if (io->op != BLK_OP_READ && b->readonly)
		return -EROFS;
	if (io->offset > b->img.size || io->len > b->img.size - io->offset)
		return -EIO;
	return 0;
}

void blk_backend_submit(struct blk_backend *b, struct blk_io *io)
{
	io->next = NULL;
	io->bounce = false;
	io->result = check(b, io);
	if (io->result) {
		pthread_mutex_lock(&b->lock);
		blk_done_locked(b, io);
		pthread_mutex_unlock(&b->lock);
		blk_wake(b);
		return;
	}
	/* Old data a live backup still needs: a worker saves it first. */
	if ((b->cbw && blk_io_changes(io) &&
	     blk_cbw_pending(b->cbw, io->offset, io->len)) ||
	    !blk_aio_submit(b, io))
		blk_worker_enqueue(b, io);
}

void blk_backend_drain(struct blk_backend *b)
{
	/* aio first: a request O_DIRECT refused moves on to a worker. */
	blk_aio_reap(b, true);
	blk_workers_drain(b);
}

void blk_backend_pause(struct blk_backend *b)
{
	/* Off the loop first: loop_del waits for a running delivery. */
	if (b->efd_watched)
		loop_del(b->loop, b->efd);
	b->efd_watched = false;
	blk_backend_drain(b);
	deliver(b);
}

int blk_backend_resume(struct blk_backend *b, struct error *err)
{
	if (b->efd_watched)
		return 0;
	if (loop_add(b->loop, b->efd, EPOLLIN, backend_ready, b, err) < 0)
		return -1;
	b->efd_watched = true;
	blk_wake(b);
	return 0;
}

int blk_backend_handover(struct blk_backend *b, bool release, struct error *err)
{
	return blk_image_lock(&b->img, b->readonly, !release, err);
}

int blk_backend_open(struct blk_backend **out, const struct blk_backend_opts *o,
		     struct loop *loop, blk_complete_fn fn, void *opaque,
		     struct error *err)
{
	struct blk_backend *b = calloc(1, sizeof(*b));
	struct error ignored;
	unsigned n;

	*out = NULL;
	if (!b)
		return err_set(err, "out of memory");
	b->img.fd = -1;
	b->efd = -1;
	b->readonly = o->readonly;
	b->loop = loop;
	b->complete = fn;
	b->opaque = opaque;
	b->cbw = o->cbw;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->aio_lock, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->idle, NULL);

	if (blk_image_open(&b->img, o->path, o->readonly,
			   o->cache == DISK_CACHE_NONE, !o->unlocked, err) < 0)
		goto fail;
	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0) {
		err_sys(err, "eventfd");
		goto fail;
	}
	/* Without a libaio context (aio-max-nr reached, ...) the workers
	 * carry the O_DIRECT traffic too. */
	if (b->img.direct)
		(void)blk_aio_init(b, &ignored);
	n = o->workers ? o->workers : b->aio ? 2 : 4;
	if (blk_workers_start(b, n, err) < 0)
		goto fail;
	if (loop_add(loop, b->efd, EPOLLIN, backend_ready, b, err) < 0)
		goto fail;
	b->efd_watched = true;
	*out = b;
	return 0;
fail:
	blk_backend_close(b);
	return -1;
}

void blk_backend_close(struct blk_backend *b)
{
	if (!b)
		return;
	blk_backend_drain(b);
	if (b->efd_watched)
		loop_del(b->loop, b->efd);      /* waits for a running callback */
	b->efd_watched = false;
	blk_workers_stop(b);
	blk_aio_fini(b);
	deliver(b);
	if (b->efd >= 0)
		close(b->efd);
	blk_image_close(&b->img);
	pthread_cond_destroy(&b->idle);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->aio_lock);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

uint64_t blk_backend_size(const struct blk_backend *b)
{
	return b->img.size;
}

int blk_backend_fd(const struct blk_backend *b)
{
	return b->img.fd;
}

unsigned blk_backend_block_size(const struct blk_backend *b)
{
	return b->img.direct ? b->img.off_align : 512;
}

const char *blk_backend_mode(const struct blk_backend *b)
{
	return b->aio ? "aio" : "sync";
}

void blk_backend_stats(struct blk_backend *b, struct blk_stats *s)
{
	pthread_mutex_lock(&b->aio_lock);
	pthread_mutex_lock(&b->lock);
	*s = b->stats;
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_unlock(&b->aio_lock);
}

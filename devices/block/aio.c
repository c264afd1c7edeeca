/* The libaio engine: aligned reads and writes on the O_DIRECT image go to
 * the kernel straight from guest memory. Each iocb signals the backend's
 * eventfd; the loop thread reaps without blocking, a drain reaps blocking.
 *
 * io_submit() itself may block inside the filesystem (an O_DIRECT write
 * into a hole allocates blocks, takes the journal...), and it runs on the
 * loop thread. So iocbs carry RWF_NOWAIT: what would block fails with
 * EAGAIN instead and goes to a worker thread. */
#include "backend_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>

#define REAP_BATCH 64

int blk_aio_init(struct blk_backend *b, struct error *err)
{
	int r;

	memset(&b->ctx, 0, sizeof(b->ctx));
	r = io_setup(BLK_AIO_DEPTH, &b->ctx);
	if (r < 0) {
		errno = -r;
		return err_sys(err, "io_setup");
	}
	b->aio = true;
	b->nowait = true;
	return 0;
}

void blk_aio_fini(struct blk_backend *b)
{
	if (!b->aio)
		return;
	io_destroy(b->ctx);
	b->aio = false;
}

bool blk_aio_submit(struct blk_backend *b, struct blk_io *io)
{
	struct iocb *cb = &io->iocb;
	int r;

	if (!b->aio || (io->op != BLK_OP_READ && io->op != BLK_OP_WRITE) ||
	    !blk_image_aligned(&b->img, io))
		return false;
	pthread_mutex_lock(&b->aio_lock);
	if (io->op == BLK_OP_READ)
		io_prep_preadv2(cb, b->img.fd, io->iov, (int)io->niov,
				(long long)io->offset, b->nowait ? RWF_NOWAIT : 0);
	else
		io_prep_pwritev2(cb, b->img.fd, io->iov, (int)io->niov,
				 (long long)io->offset, b->nowait ? RWF_NOWAIT : 0);
	io_set_eventfd(cb, b->efd);
	cb->data = io;
	if (b->aio_inflight >= BLK_AIO_DEPTH) {
		r = -EAGAIN;
	} else {
		do
			r = io_submit(b->ctx, 1, &cb);
		while (r == -EINTR);
		if (r == -EOPNOTSUPP && b->nowait) {
			/* This filesystem takes no RWF_NOWAIT: plain aio. */
			b->nowait = false;
			cb->aio_rw_flags = 0;
			do
				r = io_submit(b->ctx, 1, &cb);
			while (r == -EINTR);
		}
	}
	if (r == 1) {
		b->aio_inflight++;
		b->stats.aio++;
	}
	pthread_mutex_unlock(&b->aio_lock);
	return r == 1;  /* else (EAGAIN, ...) a worker does it */
}

static void aio_finish(struct blk_backend *b, const struct io_event *ev)
{
	struct blk_io *io = ev->data;
	long res = (long)ev->res;

	if (res == -EAGAIN) {
		/* RWF_NOWAIT: it would have blocked. A worker may block. */
		b->stats.retried++;
		blk_worker_enqueue(b, io);
		return;
	}
	if (res == -EINVAL && !io->bounce) {
		/* O_DIRECT wanted more alignment than the filesystem told us:
		 * once more, through a bounce buffer. */
		io->bounce = true;
		b->stats.retried++;
		blk_worker_enqueue(b, io);
		return;
	}
	if (res < 0)
		io->result = (int)res;
	else
		io->result = (uint64_t)res == io->len ? 0 : -EIO;
	pthread_mutex_lock(&b->lock);
	blk_done_locked(b, io);
	pthread_mutex_unlock(&b->lock);
}

void blk_aio_reap(struct blk_backend *b, bool wait)
{
	struct io_event ev[REAP_BATCH];
	struct timespec zero = { 0, 0 };

	if (!b->aio)
		return;
	pthread_mutex_lock(&b->aio_lock);
	while (b->aio_inflight > 0) {
		int n = io_getevents(b->ctx, wait ? 1 : 0, REAP_BATCH, ev,
				     wait ? NULL : &zero);

		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		b->aio_inflight -= (unsigned)n;
		for (int i = 0; i < n; i++)
			aio_finish(b, &ev[i]);
		if (!wait && n < REAP_BATCH)
			break;
	}
	pthread_mutex_unlock(&b->aio_lock);
}

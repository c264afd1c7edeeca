/* The synchronous engine: a few worker threads taking requests from one
 * FIFO and doing plain preadv/pwritev/fdatasync/fallocate. Requests whose
 * buffers O_DIRECT cannot take go through a per-worker aligned bounce
 * buffer. Completions go to the done list and wake the loop. */
#include "backend_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../virtio/queue.h"

/* ---- the operations, on the calling thread ---- */

/* The whole iovec list at off, resuming after partial transfers. */
static int rw_iov(int fd, struct blk_io *io)
{
	struct iovec v[BLK_MAX_IOV];
	unsigned i = 0, n = io->niov;
	uint64_t done = 0;

	memcpy(v, io->iov, n * sizeof(v[0]));
	while (done < io->len) {
		ssize_t r;

		if (i == n)
			return -EIO;    /* iovecs shorter than len */
		if (io->op == BLK_OP_WRITE)
			r = pwritev(fd, &v[i], n - i, (off_t)(io->offset + done));
		else
			r = preadv(fd, &v[i], n - i, (off_t)(io->offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;    /* the image shrank under us */
		done += (uint64_t)r;
		while (r > 0 && i < n) {
			if ((size_t)r >= v[i].iov_len) {
				r -= (ssize_t)v[i].iov_len;
				i++;
			} else {
				v[i].iov_base = (uint8_t *)v[i].iov_base + r;
				v[i].iov_len -= (size_t)r;
				r = 0;
			}
		}
		while (i < n && !v[i].iov_len)
			i++;
	}
	return 0;
}

static int rw_buf(int fd, bool write, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r;

		if (write)
			r = pwrite(fd, (uint8_t *)buf + done, len - done,
				   (off_t)(off + done));
		else
			r = pread(fd, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

/* Through the bounce buffer, a chunk at a time. */
static int rw_bounce(int fd, struct blk_io *io, void *bounce)
{
	bool write = io->op == BLK_OP_WRITE;

	for (uint64_t done = 0; done < io->len;) {
		size_t n = io->len - done < BLK_BOUNCE_SIZE ?
			   (size_t)(io->len - done) : BLK_BOUNCE_SIZE;
		int r;

		if (write && iov_to_buf(io->iov, io->niov, done, bounce, n) != n)
			return -EIO;
		r = rw_buf(fd, write, bounce, n, io->offset + done);
		if (r < 0)
			return r;
		if (!write && iov_from_buf(io->iov, io->niov, done, bounce, n) != n)
			return -EIO;
		done += n;
	}
	return 0;
}

static int write_zeroes(const struct blk_image *img, struct blk_io *io,
			void *bounce)
{
	int fd = img->fd;
	int r;

	/* Deallocating when allowed, else zeroing in place; a filesystem or
	 * device that can do neither gets written zeroes. */
	if (io->unmap &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)io->offset, (off_t)io->len) == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)io->offset, (off_t)io->len) == 0)
		return 0;
	memset(bounce, 0, BLK_BOUNCE_SIZE);
	for (uint64_t done = 0; done < io->len; done += BLK_BOUNCE_SIZE) {
		size_t n = io->len - done < BLK_BOUNCE_SIZE ?
			   (size_t)(io->len - done) : BLK_BOUNCE_SIZE;

		r = rw_buf(fd, true, bounce, n, io->offset + done);
		if (r < 0)
			return r;
	}
	return 0;
}

int blk_execute(const struct blk_image *img, struct blk_io *io, void *bounce)
{
	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (io->bounce || !blk_image_aligned(img, io))
			return rw_bounce(img->fd, io, bounce);
		return rw_iov(img->fd, io);
	case BLK_OP_FLUSH:
		return fdatasync(img->fd) < 0 ? -errno : 0;
	case BLK_OP_DISCARD:
		/* Advisory: a filesystem that cannot punch holes keeps the
		 * data, which is a valid outcome of a discard. */
		(void)fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)io->offset, (off_t)io->len);
		return 0;
	case BLK_OP_WRITE_ZEROES:
		return write_zeroes(img, io, bounce);
	}
	return -EINVAL;
}

/* ---- the pool ---- */

static void *worker_main(void *arg)
{
	struct blk_worker *w = arg;
	struct blk_backend *b = w->b;
	struct blk_io *io;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->queue_head && !b->stopping)
			pthread_cond_wait(&b->work, &b->lock);
		io = b->queue_head;
		if (!io)
			break;          /* stopping, and nothing left to do */
		b->queue_head = io->next;
		if (!b->queue_head)
			b->queue_tail = NULL;
		b->stats.sync++;
		if ((io->op == BLK_OP_READ || io->op == BLK_OP_WRITE) &&
		    (io->bounce || !blk_image_aligned(&b->img, io)))
			b->stats.bounce++;
		pthread_mutex_unlock(&b->lock);

		if (b->cbw && blk_io_changes(io))
			blk_cbw_before_write(b->cbw, io->offset, io->len);
		io->result = blk_execute(&b->img, io, w->bounce);

		pthread_mutex_lock(&b->lock);
		blk_done_locked(b, io);
		if (--b->worker_pending == 0)
			pthread_cond_broadcast(&b->idle);
		pthread_mutex_unlock(&b->lock);
		blk_wake(b);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

void blk_worker_enqueue(struct blk_backend *b, struct blk_io *io)
{
	io->next = NULL;
	pthread_mutex_lock(&b->lock);
	if (b->queue_tail)
		b->queue_tail->next = io;
	else
		b->queue_head = io;
	b->queue_tail = io;
	b->worker_pending++;
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
}

void blk_workers_drain(struct blk_backend *b)
{
	pthread_mutex_lock(&b->lock);
	while (b->worker_pending)
		pthread_cond_wait(&b->idle, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

int blk_workers_start(struct blk_backend *b, unsigned n, struct error *err)
{
	sigset_t all, old;
	int e = 0;

	if (n > BLK_MAX_WORKERS)
		n = BLK_MAX_WORKERS;
	for (unsigned i = 0; i < n; i++) {
		struct blk_worker *w = &b->worker[i];

		w->b = b;
		if (posix_memalign(&w->bounce, 4096, BLK_BOUNCE_SIZE)) {
			w->bounce = NULL;
			return err_set(err, "out of memory");
		}
	}
	/* Workers take no signals: those belong to the loop and the vCPUs. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < n && !e; i++) {
		e = pthread_create(&b->worker[i].thread, NULL, worker_main,
				   &b->worker[i]);
		if (!e) {
			b->worker[i].started = true;
			b->nworkers = i + 1;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		errno = e;
		return err_sys(err, "cannot start an I/O thread");
	}
	return 0;
}

void blk_workers_stop(struct blk_backend *b)
{
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < BLK_MAX_WORKERS; i++) {
		struct blk_worker *w = &b->worker[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
		free(w->bounce);
		w->bounce = NULL;
	}
	b->nworkers = 0;
}

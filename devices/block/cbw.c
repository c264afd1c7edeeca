/* Copy-before-write for a live backup (cbw.h). */
#include "cbw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/base/fdio.h"

enum {
	UNREAD, READING, COPYING, SAVED, SAVED_ZERO, DONE,
};

void blk_cbw_init(struct blk_cbw *c)
{
	memset(c, 0, sizeof(*c));
	c->img_fd = c->tmp_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

void blk_cbw_destroy(struct blk_cbw *c)
{
	blk_cbw_stop(c);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

/* An unnamed file in dir; a named one, unlinked at once, where the
 * filesystem has no O_TMPFILE. */
static int tmp_file(const char *dir, struct error *err)
{
	char path[4096];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : err_sys(err, "a temporary file in %s", dir);
	if (snprintf(path, sizeof(path), "%s/.tmp-cbw-XXXXXX", dir) >= (int)sizeof(path))
		return err_set(err, "%s: path too long", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "a temporary file in %s", dir);
	unlink(path);
	return fd;
}

int blk_cbw_start(struct blk_cbw *c, const char *path, const char *tmp_dir,
		  uint32_t chunk, struct error *err)
{
	int img, tmp;
	off_t end;
	uint64_t n;
	uint8_t *st;

	if (!chunk)
		return err_set(err, "copy-before-write: no chunk size");
	img = open(path, O_RDONLY | O_CLOEXEC);
	if (img < 0)
		return err_sys(err, "%s", path);
	end = lseek(img, 0, SEEK_END);
	if (end < 0) {
		close(img);
		return err_sys(err, "%s: its size", path);
	}
	n = ((uint64_t)end + chunk - 1) / chunk;
	st = calloc(n ? n : 1, 1);
	if (!st) {
		close(img);
		return err_set(err, "out of memory");
	}
	tmp = tmp_file(tmp_dir, err);
	if (tmp < 0) {
		free(st);
		close(img);
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	c->state = st;
	c->size = (uint64_t)end;
	c->nchunks = n;
	c->chunk = chunk;
	c->img_fd = img;
	c->tmp_fd = tmp;
	err_clear(&c->error);
	memset(&c->st, 0, sizeof(c->st));
	__atomic_store_n(&c->active, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* The chunks [*first, *last] that [off, off + len) touches, clipped to
 * the image; false if none. Lock held. */
static bool span(const struct blk_cbw *c, uint64_t off, uint64_t len,
		 uint64_t *first, uint64_t *last)
{
	if (!len || off >= c->size)
		return false;
	if (len > c->size - off)
		len = c->size - off;
	*first = off / c->chunk;
	*last = (off + len - 1) / c->chunk;
	return true;
}

static bool settled(uint8_t s)
{
	return s == SAVED || s == SAVED_ZERO || s == DONE;
}

bool blk_cbw_pending(struct blk_cbw *c, uint64_t off, uint64_t len)
{
	uint64_t first, last;
	bool any = false;

	if (!__atomic_load_n(&c->active, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&c->lock);
	if (c->active && span(c, off, len, &first, &last))
		for (uint64_t i = first; i <= last && !any; i++)
			any = !settled(c->state[i]);
	pthread_mutex_unlock(&c->lock);
	return any;
}

static size_t chunk_len(const struct blk_cbw *c, uint64_t i)
{
	uint64_t off = i * c->chunk;

	return c->size - off < c->chunk ? (size_t)(c->size - off) : c->chunk;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Save chunk i (COPYING, lock not held): its new state, or -1 with err. */
static int copy_chunk(struct blk_cbw *c, uint64_t i, uint8_t *buf,
		      struct error *err)
{
	size_t len = chunk_len(c, i);
	off_t off = (off_t)(i * c->chunk);
	ssize_t got = pread_full(c->img_fd, buf, len, off);

	if (got < 0)
		return err_sys(err, "copy-before-write: reading the image");
	memset(buf + got, 0, len - (size_t)got);        /* shrank: zeros */
	if (all_zero(buf, len))
		return SAVED_ZERO;
	if (pwrite_all(c->tmp_fd, buf, len, off) < 0)
		return err_sys(err, "copy-before-write: saving a chunk");
	return SAVED;
}

void blk_cbw_before_write(struct blk_cbw *c, uint64_t off, uint64_t len)
{
	uint64_t first, last;
	uint8_t *buf = NULL;

	if (!__atomic_load_n(&c->active, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->lock);
	if (!c->active || !span(c, off, len, &first, &last)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->busy++;
	for (uint64_t i = first; i <= last && c->active;) {
		struct error e;
		int s;

		if (settled(c->state[i])) {
			i++;
			continue;
		}
		if (c->state[i] != UNREAD) {    /* the backup reads it, or
						 * another write saves it */
			c->st.waits++;
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		if (!buf) {
			pthread_mutex_unlock(&c->lock);
			buf = malloc(c->chunk);
			pthread_mutex_lock(&c->lock);
			if (buf || c->state[i] != UNREAD || !c->active)
				continue;       /* the state may have changed */
		}
		c->state[i] = COPYING;
		pthread_mutex_unlock(&c->lock);
		err_clear(&e);
		s = buf ? copy_chunk(c, i, buf, &e) :
			  err_set(&e, "copy-before-write: out of memory");
		pthread_mutex_lock(&c->lock);
		if (s < 0 && !c->error.msg[0])
			c->error = e;
		if (s == SAVED) {
			c->st.copies++;
			c->st.copied += chunk_len(c, i);
		}
		/* A failed copy: the backup fails; the write goes ahead. */
		c->state[i] = s < 0 ? DONE : (uint8_t)s;
		pthread_cond_broadcast(&c->cond);
		i++;
	}
	if (--c->busy == 0)
		pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	free(buf);
}

/* Lock held: the chunk at off, checked; -1 with err if it is not one. */
static int chunk_at(struct blk_cbw *c, uint64_t off, size_t len, uint64_t *i,
		    struct error *err)
{
	if (!c->active)
		return err_set(err, "%s", c->error.msg[0] ? c->error.msg :
			       "copy-before-write is not running");
	if (c->error.msg[0])
		return err_set(err, "%s", c->error.msg);
	if (off % c->chunk || off >= c->size || len != chunk_len(c, off / c->chunk))
		return err_set(err, "copy-before-write: no chunk at %llu+%zu",
			       (unsigned long long)off, len);
	*i = off / c->chunk;
	return 0;
}

int blk_cbw_claim(void *cbw, uint64_t off, uint8_t *buf, size_t len,
		  struct error *err)
{
	struct blk_cbw *c = cbw;
	uint64_t i = 0;
	int r;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (chunk_at(c, off, len, &i, err) < 0) {
			pthread_mutex_unlock(&c->lock);
			return -1;
		}
		if (c->state[i] != COPYING)
			break;
		pthread_cond_wait(&c->cond, &c->lock);
	}
	switch (c->state[i]) {
	case UNREAD:
		c->state[i] = READING;
		pthread_mutex_unlock(&c->lock);
		return BLK_CBW_IMAGE;
	case SAVED_ZERO:
		c->state[i] = DONE;
		pthread_mutex_unlock(&c->lock);
		return BLK_CBW_ZERO;
	case SAVED:
		/* No write touches a saved chunk's copy: read it unlocked,
		 * but keep the file (stop waits for busy). */
		c->busy++;
		pthread_mutex_unlock(&c->lock);
		r = pread_full(c->tmp_fd, buf, len, (off_t)off) == (ssize_t)len ?
		    BLK_CBW_COPY : err_sys(err, "copy-before-write: reading a "
					   "saved chunk");
		if (r == BLK_CBW_COPY)  /* its room is free again */
			(void)fallocate(c->tmp_fd, FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
		pthread_mutex_lock(&c->lock);
		c->state[i] = DONE;
		if (--c->busy == 0)
			pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return r;
	default:        /* READING, DONE: claimed twice */
		pthread_mutex_unlock(&c->lock);
		return err_set(err, "copy-before-write: the chunk at %llu was "
			       "read already", (unsigned long long)off);
	}
}

int blk_cbw_release(void *cbw, uint64_t off, struct error *err)
{
	struct blk_cbw *c = cbw;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (c->state && off / c->chunk < c->nchunks &&
	    c->state[off / c->chunk] == READING) {
		c->state[off / c->chunk] = DONE;
		pthread_cond_broadcast(&c->cond);
	}
	if (!c->active || c->error.msg[0])
		r = err_set(err, "%s", c->error.msg[0] ? c->error.msg :
			    "copy-before-write stopped during the backup");
	pthread_mutex_unlock(&c->lock);
	return r;
}

void blk_cbw_cancel(struct blk_cbw *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	if (c->active) {
		if (!c->error.msg[0])
			err_set(&c->error, "%s", why);
		__atomic_store_n(&c->active, false, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

void blk_cbw_stop(struct blk_cbw *c)
{
	pthread_mutex_lock(&c->lock);
	__atomic_store_n(&c->active, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&c->cond);
	while (c->busy)
		pthread_cond_wait(&c->cond, &c->lock);
	free(c->state);
	c->state = NULL;
	c->nchunks = c->size = 0;
	if (c->img_fd >= 0)
		close(c->img_fd);
	if (c->tmp_fd >= 0)
		close(c->tmp_fd);
	c->img_fd = c->tmp_fd = -1;
	pthread_mutex_unlock(&c->lock);
}

void blk_cbw_get_stats(struct blk_cbw *c, struct blk_cbw_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	pthread_mutex_unlock(&c->lock);
}

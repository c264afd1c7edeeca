/* Changed-block tracking across runs (cbt.h). */
#include "cbt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void cbt_free(struct blk_cbt *c)
{
	blk_dirty_destroy(&c->marks);
	blk_bitmap_free(&c->file);
	free(c->held);
	free(c->image);
	free(c);
}

/* The loaded file, or a fresh one that says why history is lost. */
static int load(struct blk_cbt *c, const struct stat *st, struct error *err)
{
	uint64_t size = (uint64_t)st->st_size;
	struct error e = { 0 };
	enum blk_bitmap_why why;
	uint64_t gen = 0;
	int r = blk_bitmap_load(c->image, &c->file, &e);

	if (r == 0) {
		why = blk_bitmap_trust(&c->file, st);
		if (why == BLK_BM_TRUSTED)
			return 0;
		gen = c->file.generation;
		blk_bitmap_free(&c->file);
	} else if (r > 0) {
		why = BLK_BM_MISSING;
	} else {
		/* Bad, or unreadable: replaced below, never trusted. */
		why = BLK_BM_BAD;
	}
	if (blk_bitmap_init(&c->file, size, err) < 0)
		return -1;
	c->file.generation = gen;
	c->file.lost = why;
	return 0;
}

int blk_cbt_open(struct blk_cbt **out, const char *image, int fd,
		 struct error *err)
{
	struct blk_cbt *c = calloc(1, sizeof(*c));
	struct stat st;

	*out = NULL;
	if (!c)
		return err_set(err, "out of memory");
	blk_dirty_init(&c->marks);
	c->image = strdup(image);
	if (!c->image) {
		cbt_free(c);
		return err_set(err, "out of memory");
	}
	if (fstat(fd, &st) < 0) {
		cbt_free(c);
		return err_sys(err, "fstat");
	}
	if (!S_ISREG(st.st_mode)) {     /* a block device: no file beside it */
		cbt_free(c);
		return 0;
	}
	if (load(c, &st, err) < 0 ||
	    blk_dirty_start_at(&c->marks, c->file.size, BLK_BITMAP_SHIFT, err) < 0) {
		cbt_free(c);
		return err_prefix(err, "dirty bitmap");
	}
	c->file.clean = false;
	if (blk_bitmap_save(image, &c->file, err) < 0) {
		struct error e2 = { 0 };

		/* Not writable here: no tracking, and no stale file left
		 * for a backup to trust. */
		if (blk_bitmap_remove(image, &e2) < 0) {
			cbt_free(c);
			return err_prefix(err, "dirty bitmap");
		}
		cbt_free(c);
		err_clear(err);
		return 0;
	}
	*out = c;
	return 0;
}

void blk_cbt_mark(struct blk_cbt *c, uint64_t off, uint64_t len)
{
	if (c)
		blk_dirty_mark(&c->marks, off, len);
}

int blk_cbt_take(struct blk_cbt *c, uint64_t new_gen, struct blk_bitmap *out,
		 struct error *err)
{
	size_t words = blk_bitmap_words(c->file.size);

	memset(out, 0, sizeof(*out));
	if (c->taken)
		return err_set(err, "%s: a backup has taken its dirty marks "
			       "already", c->image);
	if (blk_bitmap_init(out, c->file.size, err) < 0)
		return -1;
	c->held = calloc(words + 1, sizeof(uint64_t));
	if (!c->held) {
		blk_bitmap_free(out);
		return err_set(err, "out of memory");
	}
	/* Earlier runs' marks (nothing if the file was not trusted), then
	 * this run's, which restart empty. */
	memcpy(out->bm, c->file.bm, words * sizeof(uint64_t));
	blk_dirty_take(&c->marks, out->bm);
	memcpy(c->held, out->bm, words * sizeof(uint64_t));
	out->generation = c->held_gen = c->file.generation;
	out->lost = c->held_lost = c->file.lost;
	memset(c->file.bm, 0, words * sizeof(uint64_t));
	c->file.generation = new_gen;
	c->file.lost = 0;
	c->taken = true;
	return 0;
}

void blk_cbt_settle(struct blk_cbt *c, bool ok)
{
	if (!c || !c->taken)
		return;
	if (!ok) {
		for (size_t i = 0; i < blk_bitmap_words(c->file.size); i++)
			c->file.bm[i] |= c->held[i];
		c->file.generation = c->held_gen;
		c->file.lost = c->held_lost;
	}
	free(c->held);
	c->held = NULL;
	c->taken = false;
}

void blk_cbt_forget(struct blk_cbt *c)
{
	if (c)
		c->forgotten = true;
}

int blk_cbt_close(struct blk_cbt *c, int fd, struct error *err)
{
	struct stat st;
	int r = -1;

	if (!c)
		return 0;
	if (c->forgotten) {
		cbt_free(c);
		return 0;
	}
	if (fdatasync(fd) < 0 || fstat(fd, &st) < 0) {
		err_sys(err, "%s: flushing", c->image);
		goto out;
	}
	if ((uint64_t)st.st_size != c->file.size) {
		/* Resized under us: leave it not clean. */
		err_set(err, "%s: its size changed while it was in use", c->image);
		goto out;
	}
	blk_cbt_settle(c, false);
	blk_dirty_take(&c->marks, c->file.bm);
	blk_bitmap_identify(&c->file, &st);
	c->file.clean = true;
	r = blk_bitmap_save(c->image, &c->file, err);
out:
	cbt_free(c);
	return r;
}

/* A disk's write log for migration (dirty.h). */
#include "dirty.h"

#include <stdlib.h>
#include <string.h>

void blk_dirty_init(struct blk_dirty *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
}

void blk_dirty_destroy(struct blk_dirty *d)
{
	blk_dirty_stop(d);
	pthread_mutex_destroy(&d->lock);
}

size_t blk_dirty_words_at(uint64_t size, unsigned shift)
{
	/* Without overflow, whatever the size. */
	uint64_t blocks = (size >> shift) + !!(size & ((1ull << shift) - 1));

	return (size_t)(blocks / 64 + !!(blocks % 64));
}

size_t blk_dirty_words(uint64_t size)
{
	return blk_dirty_words_at(size, BLK_DIRTY_SHIFT);
}

int blk_dirty_start(struct blk_dirty *d, uint64_t size, struct error *err)
{
	return blk_dirty_start_at(d, size, BLK_DIRTY_SHIFT, err);
}

int blk_dirty_start_at(struct blk_dirty *d, uint64_t size, unsigned shift,
		       struct error *err)
{
	size_t words = blk_dirty_words_at(size, shift);
	uint64_t *bm = calloc(words ? words : 1, sizeof(uint64_t));

	if (!bm)
		return err_set(err, "out of memory");
	pthread_mutex_lock(&d->lock);
	free(d->bm);
	d->bm = bm;
	d->size = size;
	d->shift = shift;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void blk_dirty_stop(struct blk_dirty *d)
{
	pthread_mutex_lock(&d->lock);
	free(d->bm);
	d->bm = NULL;
	d->size = 0;
	pthread_mutex_unlock(&d->lock);
}

void blk_dirty_mark(struct blk_dirty *d, uint64_t off, uint64_t len)
{
	uint64_t first, last;

	if (!len)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->bm && off < d->size) {
		if (len > d->size - off)
			len = d->size - off;
		first = off >> d->shift;
		last = (off + len - 1) >> d->shift;
		for (uint64_t b = first; b <= last;) {
			if (b % 64 == 0 && last - b >= 63) {
				d->bm[b / 64] = ~0ull;  /* a whole word */
				b += 64;
			} else {
				d->bm[b / 64] |= 1ull << (b % 64);
				b++;
			}
		}
	}
	pthread_mutex_unlock(&d->lock);
}

uint64_t blk_dirty_take(struct blk_dirty *d, uint64_t *out)
{
	uint64_t n = 0;

	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; d->bm && i < blk_dirty_words_at(d->size, d->shift);
	     i++) {
		n += (uint64_t)__builtin_popcountll(d->bm[i]);
		out[i] |= d->bm[i];
		d->bm[i] = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

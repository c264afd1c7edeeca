/* A disk's dirty bitmap in a backup (disk_bitmap.h). */
#include "disk_bitmap.h"
#include "catalog.h"
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

_Static_assert(DISK_CHUNK == BLK_BITMAP_CHUNK,
	       "a bitmap's chunk is a backup's chunk");

/* Do marks of generation gen, for an image of size bytes in chunks
 * chunks, follow the previous backup prev (its index prev_ix)? */
static bool follows(uint64_t gen, uint64_t size, uint64_t chunks,
		    const struct manifest_item *prev, const struct index *prev_ix,
		    char *why, size_t n)
{
	if (!prev) {
		snprintf(why, n, "no earlier backup of this disk in this "
			 "repository");
		return false;
	}
	if (!prev->bitmap_gen || prev->bitmap_gen != gen) {
		snprintf(why, n, "generation mismatch: the dirty bitmap (generation "
			 "%" PRIu64 ") follows another backup than the last one "
			 "here (generation %" PRIu64 ")", gen, prev->bitmap_gen);
		return false;
	}
	if (!prev_ix || prev_ix->kind != INDEX_DISK ||
	    prev_ix->chunk_size != DISK_CHUNK || prev_ix->size != size ||
	    prev_ix->n != chunks) {
		snprintf(why, n, "the last backup's index does not fit the image");
		return false;
	}
	why[0] = '\0';
	return true;
}

bool disk_plan_decide(const struct blk_bitmap *bm, const char *problem,
		      const struct stat *st, const struct manifest_item *prev,
		      const struct index *prev_ix, char *why, size_t n)
{
	enum blk_bitmap_why w;

	if (problem) {
		snprintf(why, n, "%s", problem);
		return false;
	}
	if (!bm) {
		snprintf(why, n, "%s", blk_bitmap_why_text(BLK_BM_MISSING));
		return false;
	}
	w = blk_bitmap_trust(bm, st);
	if (w != BLK_BM_TRUSTED) {
		snprintf(why, n, "%s%s", bm->clean && bm->lost ?
			 "changes were not tracked before the VM's last start: " :
			 "", blk_bitmap_why_text(w));
		return false;
	}
	return follows(bm->generation, bm->size, bm->chunks, prev, prev_ix, why, n);
}

bool disk_plan_decide_live(const struct blk_bitmap *marks,
			   const struct stat *st,
			   const struct manifest_item *prev,
			   const struct index *prev_ix, char *why, size_t n)
{
	if (!marks) {
		snprintf(why, n, "the VM does not track this disk's changes "
			 "(read-only, not a regular file, or its dirty bitmap "
			 "file cannot be written)");
		return false;
	}
	if (marks->lost) {
		snprintf(why, n, "the VM's bitmap was not trusted at start (and "
			 "no backup since): %s",
			 blk_bitmap_why_text((enum blk_bitmap_why)marks->lost));
		return false;
	}
	if (marks->size != (uint64_t)st->st_size) {
		snprintf(why, n, "%s", blk_bitmap_why_text(BLK_BM_RESIZED));
		return false;
	}
	return follows(marks->generation, marks->size, marks->chunks, prev,
		       prev_ix, why, n);
}

/* The item of the previous backup that this disk was: same name, same
 * image. */
static const struct manifest_item *prev_item(const struct manifest *prev,
					     const char *name, const char *path,
					     size_t *at)
{
	for (size_t i = 0; prev && i < prev->nitems; i++)
		if (prev->item[i].type == ITEM_DISK &&
		    !strcmp(prev->item[i].name, name) && prev->item[i].source &&
		    !strcmp(prev->item[i].source, path)) {
			*at = i;
			return &prev->item[i];
		}
	return NULL;
}

/* prev's item of this disk (*it, NULL: none) and, if the marks in p->bm
 * (when have_bm) follow it, its index in p->prev (*have_ix). A damaged
 * index is only a reason to read everything. */
static int load_prev(struct disk_plan *p, struct repo *r,
		     const struct manifest *prev, const char *name, bool have_bm,
		     const struct manifest_item **it, bool *have_ix,
		     struct error *err)
{
	struct error e2 = { 0 };
	size_t at = 0;

	*have_ix = false;
	*it = prev_item(prev, name, p->path, &at);
	if (!have_bm || !*it || (*it)->bitmap_gen != p->bm.generation)
		return 0;
	*have_ix = catalog_index(r, prev, at, &p->prev, &e2) == 0;
	if (!*have_ix && e2.input == 0) {
		*err = e2;
		return -1;
	}
	return 0;
}

int disk_plan_open(struct disk_plan *p, struct repo *r, const char *path,
		   const char *name, const struct manifest *prev,
		   struct error *err)
{
	const struct manifest_item *it;
	struct error e = { 0 };
	bool have_ix = false;
	const char *problem = NULL;
	int lr = 1;

	memset(p, 0, sizeof(*p));
	p->path = path;
	index_init(&p->prev, INDEX_DISK, DISK_CHUNK);
	p->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0)
		return err_sys(err, "%s", path);
	/* As a VM locks it: none starts on it while we read and renew. */
	if (flock(p->fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			err_input(err, "%s: locked: in use by a VM or another "
				  "backup", path);
		else
			err_sys(err, "%s: flock", path);
		goto fail;
	}
	if (fstat(p->fd, &p->st) < 0) {
		err_sys(err, "%s", path);
		goto fail;
	}
	if (blk_bitmap_new_generation(&p->new_gen, err) < 0)
		goto fail;
	p->regular = S_ISREG(p->st.st_mode);
	if (!p->regular) {
		snprintf(p->reason, sizeof(p->reason), "not a regular file: no "
			 "dirty bitmap beside it");
		return 0;
	}
	lr = blk_bitmap_load(path, &p->bm, &e);
	if (lr < 0)
		problem = e.msg;        /* names the file */
	if (load_prev(p, r, prev, name, lr == 0, &it, &have_ix, err) < 0)
		goto fail;
	p->incremental = disk_plan_decide(lr == 0 ? &p->bm : NULL, problem,
					  &p->st, it, have_ix ? &p->prev : NULL,
					  p->reason, sizeof(p->reason));
	return 0;
fail:
	disk_plan_close(p);
	return -1;
}

int disk_plan_live(struct disk_plan *p, struct repo *r, const char *path,
		   const char *name, const struct manifest *prev,
		   const struct blk_bitmap *marks, uint64_t new_gen,
		   struct error *err)
{
	const struct manifest_item *it;
	bool have_ix = false;

	memset(p, 0, sizeof(*p));
	p->path = path;
	p->live = true;
	index_init(&p->prev, INDEX_DISK, DISK_CHUNK);
	p->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0)
		return err_sys(err, "%s", path);
	if (fstat(p->fd, &p->st) < 0) {
		err_sys(err, "fstat %s", path);
		goto fail;
	}
	p->regular = S_ISREG(p->st.st_mode);
	if (marks) {
		/* A copy of the caller's: the plan's to free. */
		if (blk_bitmap_init(&p->bm, marks->size, err) < 0)
			goto fail;
		memcpy(p->bm.bm, marks->bm,
		       blk_bitmap_words(marks->size) * sizeof(uint64_t));
		p->bm.generation = marks->generation;
		p->bm.lost = marks->lost;
		p->new_gen = new_gen;
	}
	if (load_prev(p, r, prev, name, marks != NULL, &it, &have_ix, err) < 0)
		goto fail;
	p->incremental = disk_plan_decide_live(marks ? &p->bm : NULL, &p->st, it,
					       have_ix ? &p->prev : NULL,
					       p->reason, sizeof(p->reason));
	return 0;
fail:
	disk_plan_close(p);
	return -1;
}

int disk_plan_commit(struct disk_plan *p, struct error *err)
{
	struct blk_bitmap b;
	struct stat st;
	int r;

	if (!p->regular || p->live)     /* a VM's: it settles its own */
		return 0;
	if (fstat(p->fd, &st) < 0)
		return err_sys(err, "fstat");
	if (blk_bitmap_init(&b, (uint64_t)st.st_size, err) < 0)
		return -1;
	b.clean = true;
	b.generation = p->new_gen;
	blk_bitmap_identify(&b, &st);
	r = blk_bitmap_save(p->path, &b, err);
	blk_bitmap_free(&b);
	return r;
}

void disk_plan_close(struct disk_plan *p)
{
	blk_bitmap_free(&p->bm);
	index_free(&p->prev);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* A stopped VM's disk in a backup, with its dirty bitmap (IMAGE.vbitmap,
 * devices/block/bitmap_file.h): read only the chunks the bitmap marks and
 * take the others from the previous backup's index, when the bitmap is
 * the truth about the image and follows that very backup (the generation
 * the previous backup recorded); else read everything, and say why.
 *
 * The image is locked (flock, as a VM locks it) from disk_plan_open to
 * disk_plan_close: no VM starts on it meanwhile. After the backup is
 * committed, disk_plan_commit writes a clean bitmap with nothing marked
 * and the new generation that the manifest records; a failed backup
 * never gets there and changes nothing. */
#ifndef VESSEL_BACKUP_DISK_BITMAP_H
#define VESSEL_BACKUP_DISK_BITMAP_H

#include <stdbool.h>
#include <sys/stat.h>

#include "../../devices/block/bitmap_file.h"
#include "index.h"
#include "manifest.h"
#include "repo.h"

struct disk_plan {
	const char *path;       /* the image (the caller's string) */
	int fd;                 /* the image, locked; -1 */
	struct stat st;
	bool regular;           /* a file: it has a bitmap beside it */
	bool live;              /* a running VM's (disk_plan_live) */
	struct blk_bitmap bm;   /* as loaded (bm.bm NULL: none) */
	struct index prev;      /* the previous backup's index of the disk */
	bool incremental;       /* read only bm's marked chunks */
	char reason[256];       /* else why not */
	uint64_t new_gen;       /* what the bitmap is renewed to (0: none) */
};

/* Is the bitmap bm (NULL: none; problem: why it did not load) of the
 * image whose fstat is st good to replace reading, after the previous
 * backup's item prev (NULL: none) with index prev_ix (NULL: none)? If
 * not, why (a sentence). Decides nothing else. */
bool disk_plan_decide(const struct blk_bitmap *bm, const char *problem,
		      const struct stat *st, const struct manifest_item *prev,
		      const struct index *prev_ix, char *why, size_t n);

/* Open and lock the image at path (a string kept until disk_plan_close),
 * load its bitmap, find the disk name (disk0...) in the previous backup
 * prev (NULL: none) and decide. An image in use is an
 * error; a bitmap that is missing or bad is only a reason. */
int disk_plan_open(struct disk_plan *p, struct repo *r, const char *path,
		   const char *name, const struct manifest *prev,
		   struct error *err);
/* The same for a running VM's disk, whose marks (NULL: the VM does not
 * track it) the VM took out at the backup's point in time: they replace
 * reading only if the VM trusted its bitmap when it started (or a backup
 * since settled: marks->lost 0), the image has their size, and they
 * follow prev's item as above. */
bool disk_plan_decide_live(const struct blk_bitmap *marks,
			   const struct stat *st,
			   const struct manifest_item *prev,
			   const struct index *prev_ix, char *why, size_t n);

/* A running VM's disk (its supervisor backs it up through copy-before-
 * write): opened for reading, not locked (the VM holds the lock); marks
 * and new_gen as in struct backup_source (backup.h): decided as
 * disk_plan_decide_live says, against prev as disk_plan_open. */
int disk_plan_live(struct disk_plan *p, struct repo *r, const char *path,
		   const char *name, const struct manifest *prev,
		   const struct blk_bitmap *marks, uint64_t new_gen,
		   struct error *err);
/* The backup is committed: renew the bitmap (clean, nothing marked,
 * generation new_gen); nothing for a running VM's disk (the VM settles
 * its marks itself, vmm/machine/machine.h). */
int disk_plan_commit(struct disk_plan *p, struct error *err);
void disk_plan_close(struct disk_plan *p);

#endif

/* Taking one backup into a repository: a new directory
 * backups/NAME/STAMP, one index per disk or tree, then (after syncfs)
 * the manifest, atomically. Any failure removes the directory; chunks
 * already stored stay (complete, unreferenced until a later backup uses
 * them or prune collects them). */
#ifndef VESSEL_BACKUP_BACKUP_H
#define VESSEL_BACKUP_BACKUP_H

#include <stdbool.h>

#include "../../devices/block/bitmap_file.h"
#include "manifest.h"
#include "progress.h"
#include "repo.h"

struct backup_source {
	enum item_type type;
	const char *path;       /* a disk image, or a rootfs directory */
	const struct disk_view *view;   /* a running VM's disk; or NULL */
	/* A running VM's disk (read through view, or as it is if read-only):
	 * not locked, its dirty bitmap the VM's. marks: the chunks the VM
	 * marked as changed up to the backup's point in time, taken out as
	 * the marks restarted under generation marks_gen (recorded if the
	 * backup commits); NULL: the VM does not track the disk. */
	bool live;
	const struct blk_bitmap *marks;
	uint64_t marks_gen;
};

struct backup_req {
	const char *guest;
	const char *kind;               /* "vm", "container" */
	const char *definition_path;    /* its text goes into the manifest */
	const struct backup_source *src;
	size_t nsrc;
	bool progress;
	/* Instead of the progress line: called as it would be drawn, with
	 * opaque (below). May be NULL. */
	void (*report)(void *opaque, const struct progress *pg);
	/* Around reading the sources (a container's freezer): may be NULL. */
	int (*freeze)(void *opaque, struct error *err);
	int (*thaw)(void *opaque, struct error *err);
	void *opaque;
};

/* Take the backup; *m is its manifest (manifest_free it). The repository
 * must be locked shared. */
int backup_take(struct repo *r, const struct backup_req *req,
		struct manifest *m, struct error *err);

#endif

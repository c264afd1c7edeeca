/* A VM's disk image in a backup: fixed chunks of DISK_CHUNK bytes. Holes
 * (SEEK_DATA/SEEK_HOLE) are never read; a chunk of zeros is never stored
 * (its index entry says so). Restore writes a sparse file. */
#ifndef VESSEL_BACKUP_DISK_H
#define VESSEL_BACKUP_DISK_H

#include "disk_bitmap.h"
#include "index.h"
#include "progress.h"
#include "store.h"

#define DISK_CHUNK (4u << 20)

/* A running VM's disk, seen as it was when its backup began (copy-before-
 * write, devices/block/cbw.h): before reading the chunk at off (len
 * bytes), claim returns 0 (read it from the image now, then call
 * release), 1 (buf holds it: a copy saved before the guest overwrote it)
 * or 2 (it was all zeros), or -1 with err. */
struct disk_view {
	int (*claim)(void *opaque, uint64_t off, uint8_t *buf, size_t len,
		     struct error *err);
	int (*release)(void *opaque, uint64_t off, struct error *err);
	void *opaque;
};

/* Back up the image or block device of plan (open; locked unless it is
 * a running VM's) into ix (made here): every chunk, or only those its
 * bitmap marks when the plan is incremental (the others from the previous
 * backup's index); through view (a running VM's, or NULL). */
int disk_backup(struct store *s, const struct disk_plan *p,
		const struct disk_view *view, struct index *ix,
		struct progress *pg, struct error *err);
/* Write the image of ix into the new file dirfd/name (it must not
 * exist), fsynced. On failure the file is removed. */
int disk_restore(struct store *s, const struct index *ix, int dirfd,
		 const char *name, struct progress *pg, struct error *err);
/* The size of an image or block device. */
int disk_size(int fd, uint64_t *size, struct error *err);

#endif

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

/* Back up the image or block device of plan (open, locked) into ix
 * (made here): every chunk, or only those its bitmap marks when the plan
 * is incremental (the others from the previous backup's index). */
int disk_backup(struct store *s, const struct disk_plan *p, struct index *ix,
		struct progress *pg, struct error *err);
/* Write the image of ix into the new file dirfd/name (it must not
 * exist), fsynced. On failure the file is removed. */
int disk_restore(struct store *s, const struct index *ix, int dirfd,
		 const char *name, struct progress *pg, struct error *err);
/* The size of an image or block device. */
int disk_size(int fd, uint64_t *size, struct error *err);

#endif

/* A container's rootfs directory into an archive stream (tree_format.h),
 * file by file, in name order (the same tree gives the same stream):
 * owners, modes, mtimes, xattrs, hard links, symlinks, FIFOs; device
 * nodes recorded (restore never makes them); sockets skipped. The walk
 * stays on the rootfs's filesystem (a mount point is kept, empty). */
#ifndef VESSEL_BACKUP_TREE_BACKUP_H
#define VESSEL_BACKUP_TREE_BACKUP_H

#include "index.h"
#include "progress.h"
#include "store.h"

struct tree_stats {
	uint64_t files, dirs, links, devices, skipped;
};

/* Archive dir into ix (made here). */
int tree_backup(struct store *s, const char *dir, struct index *ix,
		struct progress *pg, struct tree_stats *ts, struct error *err);

#endif

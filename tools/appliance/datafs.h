/* The data partition's file system: ext4 labelled "vessel-data", made by
 * mkfs.ext4 -d from a staging directory, with a fixed UUID and hash seed,
 * E2FSPROGS_FAKE_TIME, and every inode's times and owner then fixed by
 * debugfs (mkfs.ext4 -d copies ctime and owners from the staging files):
 * reproducible. */
#ifndef VESSEL_DATAFS_H
#define VESSEL_DATAFS_H

#include <stdint.h>

#include "../base/error.h"

#define DATAFS_LABEL "vessel-data"

/* Make out (size bytes) holding the tree at staging. */
int datafs_build(const char *staging, const char *out, uint64_t size,
		 const char *uuid, int64_t fs_time, struct error *err);

#endif

/* An archive stream (tree_format.h) back into a directory tree. The
 * stream is hostile: every parent directory is opened with openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so no entry lands outside the
 * target through a symlink or "..", and nothing is created twice. Owners,
 * modes (with set-id bits), mtimes and xattrs are set; device nodes are
 * never created (as for tarball images: the container gets its own /dev):
 * counted, and those outside dev/ named in one warning. */
#ifndef VESSEL_BACKUP_TREE_RESTORE_H
#define VESSEL_BACKUP_TREE_RESTORE_H

#include <stdint.h>

#include "progress.h"
#include "stream.h"

struct tree_restore_stats {
	uint64_t entries, devices_skipped, xattrs_failed;
	char first_device[128];         /* the first outside dev/ */
};

/* Restore src into the empty directory rootfd. */
int tree_restore(struct byte_src *src, int rootfd, struct progress *pg,
		 struct tree_restore_stats *rs, struct error *err);

#endif

/* Safe path resolution inside a container's rootfs.
 *
 * The rootfs belongs to the container and may hold symlinks such as
 * /proc -> /etc; every path inside it is resolved with openat2's
 * RESOLVE_IN_ROOT so it cannot lead outside. Mounts then go onto the
 * returned O_PATH fd through /proc/self/fd/N. */
#ifndef VESSEL_PATHRES_H
#define VESSEL_PATHRES_H

#include "../tools/base/error.h"

enum mkpath {
	MKPATH_NONE,		/* must exist */
	MKPATH_DIR,		/* create missing directories */
	MKPATH_FILE,		/* ... and the last one as an empty file */
};

/* Open path (leading '/' ignored) inside the directory rootfd, creating
 * what is missing as how says. Returns an O_PATH|O_CLOEXEC fd, or -1. */
int path_open_in_root(int rootfd, const char *path, enum mkpath how,
		      struct error *err);
/* "/proc/self/fd/N" for fd, in buf. */
const char *path_fd(int fd, char *buf, size_t len);

#endif

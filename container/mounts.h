/* Small mount helpers shared by rootfs.c, devfs.c and masks.c. */
#ifndef VESSEL_MOUNTS_H
#define VESSEL_MOUNTS_H

#include "pathres.h"

/* mount(src, <target inside rootfd>, ...), target resolved safely and
 * created as how says. */
int mount_in(int rootfd, const char *target, enum mkpath how,
	     const char *src, const char *fstype, unsigned long flags,
	     const char *data, struct error *err);
/* Make the mount at path read-only, keeping its nosuid/nodev/noexec/atime
 * flags (which a user namespace may not drop). */
int remount_ro(const char *path, struct error *err);

#endif

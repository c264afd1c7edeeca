/* Small mount helpers shared by rootfs.c, devfs.c and masks.c. */
#ifndef VESSEL_MOUNTS_H
#define VESSEL_MOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "pathres.h"

/* mount(src, <target inside rootfd>, ...), target resolved safely and
 * created as how says. */
int mount_in(int rootfd, const char *target, enum mkpath how,
	     const char *src, const char *fstype, unsigned long flags,
	     const char *data, struct error *err);
/* Make the mount at path read-only, keeping its nosuid/nodev/noexec/atime
 * flags (which a user namespace may not drop). */
int remount_ro(const char *path, struct error *err);
/* mount_setattr(2): set MOUNT_ATTR_* attrs on the mount fd is the root
 * of (and, recursive, on every mount below it). what names it in
 * errors; a kernel without mount_setattr (before 5.12) is an error. */
int mount_attr_set(int fd, bool recursive, uint64_t attrs, const char *what,
		   struct error *err);

#endif

/* The container's filesystem view, built in its own mount namespace:
 *   - propagation made private for the whole tree, so nothing leaks back;
 *   - the rootfs bind-mounted onto itself, then /proc, /sys (read-only,
 *     with cgroup2 at /sys/fs/cgroup when the container has a cgroup2
 *     directory: read-only, or writable when delegated, see cgroup.h),
 *     /dev (see devfs.h), /run and /run/lock (tmpfs) and the configured
 *     bind mounts;
 *   - pivot_root into it, the old root lazily detached;
 *   - masked and read-only paths (see masks.h);
 *   - the root remounted read-only with readonly: true.
 * Mount points missing in the rootfs are created in it (as runc does). */
#ifndef VESSEL_ROOTFS_H
#define VESSEL_ROOTFS_H

#include <stdbool.h>

#include "../tools/config.h"
#include "../tools/error.h"

struct rootfs_spec {
	const char *rootfs;			/* host directory */
	const struct container_config *c;
	const char *console;			/* pty slave path, or NULL */
	bool cgroup2;				/* mount cgroup2 */
	bool cgroup_rw;				/* ... writable */
};

/* Child, in its new mount namespace. Leaves the cwd at the new /. */
int rootfs_setup(const struct rootfs_spec *s, struct error *err);

#endif

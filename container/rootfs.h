/* The container's filesystem view, in two steps.
 *
 * rootfs_prepare(), in a mount namespace owned by the host's user
 * namespace (the child's own without userns: true; with it, a helper's
 * that the child's namespaces are then cloned from, namespaces.h):
 *   - propagation made private for the whole tree, so nothing leaks back;
 *   - the rootfs bind-mounted onto itself, nodev and nosuid recursively;
 *   - the configured bind mounts (recursive), nodev and nosuid, and with
 *     readonly: true read-only down to every submount (mount_setattr
 *     with AT_RECURSIVE);
 *   - with readonly: true the root mount read-only.
 * A mount namespace copied into a less privileged user namespace has
 * these flags locked by the kernel: the container's root, even with
 * SYS_ADMIN in its own user namespace, cannot remount them read-write,
 * dev or suid, nor unmount them to see what is below.
 *
 * rootfs_setup(), in the child's mount namespace:
 *   - propagation private, the prepared rootfs bind-mounted again, then
 *     /proc, /sys (read-only,
 *     with cgroup2 at /sys/fs/cgroup when the container has a cgroup2
 *     directory: read-only, or writable when delegated, see cgroup.h),
 *     /dev (see devfs.h), /run and /run/lock (tmpfs);
 *   - pivot_root into it, the old root lazily detached;
 *   - masked and read-only paths (see masks.h).
 * Mount points missing in the rootfs are created in it (as runc does). */
#ifndef VESSEL_ROOTFS_H
#define VESSEL_ROOTFS_H

#include <stdbool.h>

#include "../tools/base/error.h"
#include "ct_config.h"
#include "spec.h"

/* With an OCI spec (spec->oci) the steps differ: rootfs_prepare is not
 * used; rootfs_setup binds the rootfs once (nodev), mounts the spec's
 * mounts in order (oci_mounts.h) instead of vessel's /proc, /sys, /dev and /run,
 * makes the device nodes if the spec put a tmpfs on /dev, pivots, writes
 * the sysctls, applies the spec's masked and read-only paths, and makes
 * the root read-only last (root.readonly). */
struct rootfs_spec {
	const char *rootfs;			/* host directory */
	const struct container_config *c;
	const struct ct_spec *spec;
	const char *console;			/* pty slave path, or NULL */
	bool cgroup2;				/* mount cgroup2 */
	bool cgroup_rw;				/* ... writable */
	/* Called, if set, with the mounts made, just before pivot_root
	 * (the OCI createContainer hooks, handle.c). */
	int (*before_pivot)(void *arg, struct error *err);
	void *arg;
};

int rootfs_prepare(const struct rootfs_spec *s, struct error *err);
/* Child, in its new mount namespace. Leaves the cwd at the new /. */
int rootfs_setup(const struct rootfs_spec *s, struct error *err);

#endif

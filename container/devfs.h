/* The container's /dev: a small tmpfs with the usual device nodes
 * (null zero full random urandom tty: made with mknod where allowed,
 * else bind-mounted from the host, which also works inside a user
 * namespace where mknod does not), a private
 * devpts with /dev/ptmx, /dev/shm, /dev/mqueue, the /proc/self/fd
 * symlinks, and /dev/console: the container's pty (pty.h), if any. */
#ifndef VESSEL_DEVFS_H
#define VESSEL_DEVFS_H

#include "../tools/base/error.h"

/* Before pivot_root: build rootfs/dev. console is the host path of the
 * pty slave to show as /dev/console, or NULL. */
int devfs_setup(int rootfd, const char *console, struct error *err);
/* Only the nodes, the symlinks and the console, in an open /dev (an OCI
 * spec mounts /dev and its submounts itself). */
int devfs_nodes(int devfd, const char *console, struct error *err);

#endif

/* rm -rf that cannot be led outside the tree: every step is relative to a
 * directory fd (openat/unlinkat with O_NOFOLLOW), symlinks are removed,
 * never followed, it stays on the tree's filesystem (a mount point inside
 * is an error), and climbing back up checks that ".." is still the
 * directory it came from. At most three fds are open at a time, whatever
 * the depth. Callers remove a container's tree only once its cgroup is
 * empty (ct_cleanup); even if something moved entries around meanwhile,
 * the worst outcome is an error, never a removal outside. */
#ifndef VESSEL_RMTREE_H
#define VESSEL_RMTREE_H

#include "../tools/base/error.h"

/* Remove name (a directory tree, a file or a symlink) in the directory
 * dirfd. 0 if it is gone afterwards (or was already). */
int rmtree_at(int dirfd, const char *name, struct error *err);
/* The same for a path; its parent directory is resolved normally. */
int rmtree(const char *path, struct error *err);

#endif

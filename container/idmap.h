/* User namespace id mapping (userns: true).
 *
 * Container uids and gids 0..65535 map to host ids 100000..165535, the
 * same fixed range for every container (like LXC's default). The parent
 * writes the maps while the child waits; the rootfs must then be owned by
 * the mapped ids, e.g. `chown -R 100000:100000 ROOTFS` for a tree owned
 * by root, or shifted by 100000 id by id. Tarball rootfs are shifted
 * automatically while unpacking. */
#ifndef VESSEL_IDMAP_H
#define VESSEL_IDMAP_H

#include <stdbool.h>
#include <sys/types.h>

#include "../tools/base/error.h"
#include "spec.h"

#define IDMAP_HOST_BASE 100000u
#define IDMAP_SIZE 65536u

/* Parent: write uid_map and gid_map of pid. */
int idmap_write(pid_t pid, struct error *err);
/* The maps of an OCI spec (linux.uidMappings, gidMappings; at most 5
 * lines each, the kernel's limit, checked by the parser). */
int idmap_write_spec(pid_t pid, const struct ct_spec *s, struct error *err);
/* Preflight: the rootfs directory must be owned by a mapped id. */
int idmap_check_rootfs(const char *rootfs, struct error *err);
/* The container's root (host uid and gid IDMAP_HOST_BASE) must be able
 * to walk down to the rootfs to bind-mount it: every directory above it
 * searchable by others, or owned by a mapped uid, or group-searchable by
 * a mapped gid. */
int idmap_check_reachable(const char *rootfs, struct error *err);
/* Child, after the maps are written: become uid/gid 0 of the namespace. */
int idmap_become_root(struct error *err);

#endif

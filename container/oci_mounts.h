/* The mounts of an OCI spec, in order, inside the bound rootfs (before
 * pivot_root). Every target is resolved inside the rootfs (pathres.h)
 * and created if missing (a directory, or an empty file for a bind of a
 * file). A bind ("bind"/"rbind" in options, or type "bind") is made as a
 * detached tree (open_tree) and given its flags with mount_setattr
 * before it is moved into place; other types are mount(2) with the
 * flags and the remaining options as data. Propagation options are
 * applied after. type "cgroup" on a cgroup v1 host becomes an empty
 * read-only tmpfs (vessel does not bind the v1 hierarchies in). If a
 * tmpfs went on /dev, the usual device nodes, symlinks and the console
 * are made in it (devfs.h).
 *
 * oci_mount_options() turns an options array into flags and data (for
 * the parser, oci_spec.h). */
#ifndef VESSEL_OCI_MOUNTS_H
#define VESSEL_OCI_MOUNTS_H

#include "../tools/base/error.h"
#include "spec.h"

int oci_mounts_apply(int rootfd, const struct ct_spec *s, const char *console,
		     struct error *err);
/* Fills m->flags, propagation, bind, rec and data (heap) from opts. */
int oci_mount_options(char **opts, size_t n, struct ct_fsmount *m,
		      const char *where, struct error *err);

#endif

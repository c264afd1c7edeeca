/* The namespaces a container gets.
 *
 * Always new mount, pid, uts, ipc and network namespaces (with no nets
 * configured the container only has lo), plus a user namespace when
 * userns: true. The cgroup namespace is entered by the child itself,
 * after the parent has moved it into its cgroup, so that the container's
 * cgroup becomes its cgroup root. */
#ifndef VESSEL_NAMESPACES_H
#define VESSEL_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "../tools/base/error.h"

/* Work done before the clone, in the mount namespace the child's is
 * copied from. */
struct ns_prepare {
	int (*fn)(void *arg, struct error *err);
	void *arg;
};

/* fork() into the new namespaces nsflags (CLONE_NEW*; vessel's own
 * containers: mount, pid, uts, ipc, net, and user with userns: true;
 * CLONE_NEWCGROUP is ignored here, see ns_enter_cgroupns): returns 0 in the child (PID 1 of its
 * pid namespace), the child's pid in the parent, or -1.
 *
 * With prep, a short-lived helper process makes a new mount namespace
 * (owned by the host's user namespace), runs prep->fn there and clones
 * the child from it with CLONE_PARENT, so that the child is still
 * vessel's own; the helper reports the child's pid (or prep's error) and
 * exits. With userns the child's mount namespace is then a copy into a
 * less privileged user namespace, in which the kernel locks every mount
 * prep made: their read-only, nodev, nosuid and noexec flags cannot be
 * cleared and they cannot be unmounted alone (mount_namespaces(7)). */
pid_t ns_clone(unsigned long nsflags, const struct ns_prepare *prep,
	       struct error *err);
/* Child: join the namespace at path (an OCI spec's namespaces[].path). */
int ns_join(const char *path, int flag, struct error *err);
/* Child: become the root of a new cgroup namespace. */
int ns_enter_cgroupns(struct error *err);
int ns_set_hostname(const char *hostname, struct error *err);

#endif

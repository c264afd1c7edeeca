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

#include "../tools/error.h"

/* fork() into the new namespaces: returns 0 in the child (PID 1 of its
 * pid namespace), the child's pid in the parent, or -1. */
pid_t ns_clone(bool userns, struct error *err);
/* Child: become the root of a new cgroup namespace. */
int ns_enter_cgroupns(struct error *err);
int ns_set_hostname(const char *hostname, struct error *err);

#endif

/* Pausing a container with the freezer cgroup.
 *
 * cgroup v2: the container's own cgroup (…/vessel/NAME, see
 * container/cgroup.h) has cgroup.freeze. cgroup v1: vessel's container
 * code does not use the freezer hierarchy, so pausing creates
 * <freezer mount>/<the supervisor's freezer cgroup>/vessel/NAME, moves
 * every process of the container's pid namespace into it and sets
 * freezer.state; freezer_remove() deletes it once the container is gone.
 * Either way the call returns when the kernel reports the processes
 * frozen (or thawed), or fails after a few seconds. */
#ifndef VESSEL_FREEZER_H
#define VESSEL_FREEZER_H

#include <stdbool.h>
#include <sys/types.h>

#include "../tools/base/error.h"

int freezer_set(const char *name, pid_t pid1, bool frozen, struct error *err);
void freezer_remove(const char *name);
/* cgroup v2: freeze or thaw the cgroup dir (and everything below). */
int freezer_set_v2(const char *dir, bool frozen, struct error *err);
/* Is the container frozen: v2dir's cgroup.events under v2, else the v1
 * freezer cgroup of name (as freezer_set makes it)? */
bool freezer_frozen(const char *name, const char *v2dir);

#endif

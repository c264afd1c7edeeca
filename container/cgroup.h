/* The container's cgroup: one interface over cgroup v2 and v1.
 *
 * cgroup v2 is used when the unified hierarchy offers at least one of the
 * controllers vessel uses (cpu, memory, pids); otherwise the v1
 * hierarchies. Where the cgroup lives:
 *   v2: <cgroup2 mount>/vessel/<name>        (the root: v2 forbids
 *       processes in a cgroup whose controllers are delegated further)
 *   v1: <hierarchy mount>/<vessel's own cgroup>/vessel/<name>, in each of
 *       the memory, pids, cpu, cpuacct and devices hierarchies that are
 *       mounted (devices must be: the device cgroup, devcgroup.h; under
 *       v2 that is a BPF program on the one directory).
 * A requested limit whose controller is missing is an error before
 * anything starts. A cgroup of the same name that still has processes
 * (under v2: anywhere below it) means the container is already running
 * (error); an empty one is a leftover of a killed vessel and is removed.
 *
 * The container sees its cgroup2 directory (the v2 one, or under v1 with
 * userns: true the one made in the hybrid layout's cgroup2 hierarchy if
 * it is mounted) as the root of its cgroup namespace, mounted at
 * /sys/fs/cgroup. With userns: true it is delegated to the container's
 * root as systemd delegates (the directory, cgroup.procs,
 * cgroup.subtree_control and cgroup.threads chowned to it), so an init
 * inside can make its own tree there; the limit files stay the host's.
 * Removal takes the whole tree, deepest first. */
#ifndef VESSEL_CGROUP_H
#define VESSEL_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../tools/base/error.h"
#include "ct_config.h"

struct cgroup;

/* Create the cgroup for container name and apply ct's limits. */
int cgroup_create(const char *name, const struct container_config *ct,
		  struct cgroup **cgp, struct error *err);
/* The same at an absolute path in each hierarchy (an OCI cgroupsPath,
 * "/machine/ID"; no "..", at most CG_PATH_MAX/2 bytes). */
int cgroup_create_at(const char *name, const char *path,
		     const struct container_config *ct, struct cgroup **cgp,
		     struct error *err);
int cgroup_attach(struct cgroup *cg, pid_t pid, struct error *err);
/* The directories made, one per hierarchy (for the state file), and a
 * cgroup rebuilt from them (cgroup_destroy, signalling, freezing from
 * another process). */
size_t cgroup_dirs(const struct cgroup *cg, const char *const **dirs);
int cgroup_from_dirs(char *const *dirs, size_t n, bool v2, int unified,
		     struct cgroup **cgp, struct error *err);
/* Memory+swap for an OCI spec (linux.resources.memory.swap): v1
 * memory.memsw.limit_in_bytes (skipped without swap accounting), v2
 * memory.swap.max (swap - memory); -1: unlimited. */
int cgroup_set_swap(struct cgroup *cg, uint64_t memory, int64_t swap,
		    struct error *err);
/* cpu shares of an OCI spec (linux.resources.cpu.shares, 2..262144): v1
 * cpu.shares, v2 cpu.weight (1..10000, converted as runc does). */
int cgroup_set_cpu_shares(struct cgroup *cg, uint64_t shares,
			  struct error *err);
/* New limits for a running container (`vessel-runc update`): each of
 * memory (with memory+swap as swap says), cpus and pids that is set in c
 * (non-zero) is written where the cgroup has its file. */
int cgroup_update(struct cgroup *cg, const struct container_config *c,
		  int64_t swap, struct error *err);
/* Send sig to every process in the cgroup. */
int cgroup_signal(const struct cgroup *cg, int sig, struct error *err);
/* The pids in the cgroup (any hierarchy's directory), at most max. */
size_t cgroup_pids(const struct cgroup *cg, pid_t *pids, size_t max);
bool cgroup_is_v2(const struct cgroup *cg);
/* The cgroup2 directory for the container's cgroup namespace, or NULL. */
const char *cgroup_unified_dir(const struct cgroup *cg);
/* Hand that directory to uid:gid (see above); nothing without one. */
int cgroup_delegate(struct cgroup *cg, uid_t uid, gid_t gid,
		    struct error *err);
/* Kill whatever is left inside, then remove the directories (with any
 * cgroups the container made below them), retrying
 * while the kernel still reports them busy (up to about 10 seconds). */
int cgroup_destroy(struct cgroup *cg, struct error *err);
void cgroup_free(struct cgroup *cg);

#endif

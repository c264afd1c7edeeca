/* cgroup v1: one directory per hierarchy (memory, pids, cpu, cpuacct,
 * devices: the device cgroup, devcgroup.h, which must be mounted),
 * each <mount>/<vessel's own cgroup there>/vessel/<name>; with userns:
 * true also one in the cgroup2 hierarchy of the hybrid layout, if it is
 * mounted, for the container's own cgroup2 mount (cgroup.h). */
#include "cgroup_impl.h"
#include "devcgroup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const controllers[] = { "memory", "pids", "cpu",
					    "cpuacct", "devices" };

static const struct cg_mount *v1_mount(const struct cg_mount *m, size_t n,
				       const char *ctl)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!m[i].v2 && cg_list_has(m[i].opts, ctl))
			return &m[i];
	return NULL;
}

/* Our own cgroup in the hierarchy with controller ctl, or in the cgroup2
 * one for NULL, from /proc/self/cgroup ("4:memory:/some/path",
 * "0::/path"). */
static int own_path(const char *ctl, char *buf, size_t len)
{
	char *line = NULL, *list, *path;
	size_t n = 0;
	int ret = -1;
	FILE *f;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	while (ret < 0 && getline(&line, &n, f) > 0) {
		list = strchr(line, ':');
		path = list ? strchr(list + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (ctl ? cg_list_has(list + 1, ctl) : !list[1]) {
			snprintf(buf, len, "%s", path);
			ret = 0;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

static bool wanted(const struct container_config *ct, const char *ctl)
{
	if (!strcmp(ctl, "cpu"))
		return ct->cpus > 0;
	if (!strcmp(ctl, "memory"))
		return ct->memory > 0;
	if (!strcmp(ctl, "pids"))
		return ct->pids > 0;
	return false;
}

static int write_limits(const char *dir, const char *ctl,
			const struct container_config *ct, struct error *err)
{
	char val[64];

	if (!strcmp(ctl, "memory") && ct->memory) {
		snprintf(val, sizeof(val), "%" PRIu64, ct->memory);
		if (cg_write(dir, "memory.limit_in_bytes", val, err) < 0)
			return -1;
		/* Memory+swap too, so the limit is not dodged by swapping;
		 * the file only exists with swap accounting. */
		if (cg_write(dir, "memory.memsw.limit_in_bytes", val, err) < 0 &&
		    err->errnum != ENOENT)
			return -1;
	}
	if (!strcmp(ctl, "cpu") && ct->cpus > 0) {
		long long quota = (long long)(ct->cpus * 100000.0 + 0.5);

		if (quota < 1000)
			quota = 1000;
		snprintf(val, sizeof(val), "%lld", quota);
		if (cg_write(dir, "cpu.cfs_period_us", "100000", err) < 0 ||
		    cg_write(dir, "cpu.cfs_quota_us", val, err) < 0)
			return -1;
	}
	if (!strcmp(ctl, "devices"))
		return devcg_v1_apply(dir, err);
	if (!strcmp(ctl, "pids") && ct->pids > 0) {
		snprintf(val, sizeof(val), "%" PRId64, ct->pids);
		if (cg_write(dir, "pids.max", val, err) < 0)
			return -1;
	}
	return 0;
}

static bool seen(const struct cg_mount **used, size_t n,
		 const struct cg_mount *m)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (used[i] == m)
			return true;
	return false;
}

/* <mount>/<our own cgroup in it>/vessel/<name>, for the hierarchy of
 * controller ctl (NULL: cgroup2). */
static int make_leaf_in(struct cgroup *cg, const struct cg_mount *m,
			const char *ctl, const char *name, const char *path,
			struct error *err)
{
	char own[2048], base[4096];
	const char *rel, *leaf;

	if (path) {
		if (cg_split_path(m->dir, path, base, sizeof(base), &leaf,
				  err) < 0)
			return -1;
		return cg_make_leaf(cg, base, leaf, err);
	}
	if (own_path(ctl, own, sizeof(own)) < 0)
		snprintf(own, sizeof(own), "/");
	/* Relative to what this mount shows of the hierarchy. */
	rel = own;
	if (strcmp(m->root, "/") && !strncmp(own, m->root, strlen(m->root)))
		rel = own + strlen(m->root);
	snprintf(base, sizeof(base), "%s%s%s/" CG_VESSEL_DIR, m->dir,
		 rel[0] == '/' ? "" : "/", strcmp(rel, "/") ? rel : "");
	return cg_make_leaf(cg, base, name, err);
}

/* A user namespace container may run its own init, which wants a cgroup2
 * tree of its own (systemd). The hybrid layout's cgroup2 hierarchy has no
 * controllers (v1 has them) but can still be delegated. Best effort: a
 * container that does not need it still runs without. */
static void unified_leaf(struct cgroup *cg, const struct cg_mount *mounts,
			 size_t n, const char *name)
{
	const struct cg_mount *m = cg_v2_mount(mounts, n);
	struct error ignored;

	if (m && make_leaf_in(cg, m, NULL, name, NULL, &ignored) == 0)
		cg->unified = (int)cg->ndirs - 1;
}

int cg_v1_create(struct cgroup *cg, const struct cg_mount *mounts, size_t n,
		 const char *name, const char *path,
		 const struct container_config *ct, struct error *err)
{
	const size_t nctl = sizeof(controllers) / sizeof(controllers[0]);
	const struct cg_mount *used[sizeof(controllers) / sizeof(controllers[0])];
	const struct cg_mount *m;
	const char *dir;
	size_t i, j, nused = 0;

	for (i = 0; i < nctl; i++)
		if (wanted(ct, controllers[i]) &&
		    !v1_mount(mounts, n, controllers[i]))
			return err_set(err, "the %s limit needs the '%s' cgroup "
				       "controller, but it is not mounted (no "
				       "cgroup v2 with controllers, and no v1 "
				       "hierarchy with '%s' in "
				       "/proc/self/mountinfo)",
				       !strcmp(controllers[i], "cpu") ? "cpus" :
				       controllers[i], controllers[i],
				       controllers[i]);
	if (!v1_mount(mounts, n, "devices"))
		return err_set(err, "cgroup v1: the 'devices' controller is "
			       "not mounted (no v1 hierarchy with 'devices' in "
			       "/proc/self/mountinfo); vessel needs it for the "
			       "container's device cgroup");
	for (i = 0; i < nctl; i++) {
		m = v1_mount(mounts, n, controllers[i]);
		if (!m || seen(used, nused, m))
			continue;
		used[nused++] = m;
		if (make_leaf_in(cg, m, controllers[i], name, path, err) < 0)
			return err_prefix(err, "cgroup v1");
		dir = cg->dirs[cg->ndirs - 1];
		/* Every controller of this hierarchy (cpu,cpuacct). */
		for (j = 0; j < nctl; j++)
			if (cg_list_has(m->opts, controllers[j]) &&
			    write_limits(dir, controllers[j], ct, err) < 0)
				return err_prefix(err, "cgroup v1");
	}
	if (ct->userns)
		unified_leaf(cg, mounts, n, name);
	return 0;
}

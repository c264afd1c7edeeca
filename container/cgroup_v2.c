/* cgroup v2: one directory, <mount>/vessel/<name>, with the controllers
 * enabled on the way down from the root, and the BPF device program
 * attached (devcgroup.h). */
#include "cgroup_impl.h"
#include "devcgroup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const controllers[] = { "cpu", "memory", "pids" };

const struct cg_mount *cg_v2_mount(const struct cg_mount *m, size_t n)
{
	const struct cg_mount *found = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!m[i].v2)
			continue;
		if (!strcmp(m[i].dir, "/sys/fs/cgroup"))
			return &m[i];
		if (!found)
			found = &m[i];
	}
	return found;
}

static int read_controllers(const struct cg_mount *m, char *buf, size_t len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/cgroup.controllers", m->dir);
	return cg_read(path, buf, len);
}

bool cg_v2_usable(const struct cg_mount *mounts, size_t n)
{
	const struct cg_mount *m = cg_v2_mount(mounts, n);
	char avail[512];
	size_t i;

	if (!m || read_controllers(m, avail, sizeof(avail)) < 0)
		return false;
	for (i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
		if (cg_list_has(avail, controllers[i]))
			return true;
	return false;
}

static bool wanted(const struct container_config *ct, const char *ctl)
{
	if (!strcmp(ctl, "cpu"))
		return ct->cpus > 0;
	if (!strcmp(ctl, "memory"))
		return ct->memory > 0;
	return ct->pids > 0;
}

/* Enable every available controller for the children of dir; failing
 * is only an error for a controller a limit needs. */
static int delegate(const char *dir, const char *avail,
		    const struct container_config *ct, struct error *err)
{
	char val[32], path[4096], on[512] = "";
	size_t i;

	/* Only what is not enabled yet: the parents are shared, and
	 * usually done by the first container. */
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (cg_read(path, on, sizeof(on)) < 0)
		on[0] = '\0';
	for (i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
		if (!cg_list_has(avail, controllers[i]) ||
		    cg_list_has(on, controllers[i]))
			continue;
		snprintf(val, sizeof(val), "+%s", controllers[i]);
		if (cg_write(dir, "cgroup.subtree_control", val, err) < 0 &&
		    wanted(ct, controllers[i])) {
			if (err->errnum == EBUSY)
				err_prefix(err, "cgroup v2 cannot delegate "
					   "controllers from a cgroup that "
					   "has processes of its own");
			return -1;
		}
	}
	return 0;
}

static int write_limits(const char *dir, const struct container_config *ct,
			struct error *err)
{
	char val[64];

	if (ct->memory) {
		snprintf(val, sizeof(val), "%" PRIu64, ct->memory);
		if (cg_write(dir, "memory.max", val, err) < 0)
			return -1;
		/* No swapping around the limit; absent without swap. */
		if (cg_write(dir, "memory.swap.max", "0", err) < 0 &&
		    err->errnum != ENOENT)
			return -1;
	}
	if (ct->cpus > 0) {
		long long quota = (long long)(ct->cpus * 100000.0 + 0.5);

		if (quota < 1000)
			quota = 1000;
		snprintf(val, sizeof(val), "%lld 100000", quota);
		if (cg_write(dir, "cpu.max", val, err) < 0)
			return -1;
	}
	if (ct->pids > 0) {
		snprintf(val, sizeof(val), "%" PRId64, ct->pids);
		if (cg_write(dir, "pids.max", val, err) < 0)
			return -1;
	}
	return 0;
}

/* Every cgroup from the mount down to base delegates its controllers. */
static int delegate_down(const char *mnt, const char *base,
			 const char *avail, const struct container_config *ct,
			 struct error *err)
{
	char dir[4096];
	size_t ml = strlen(mnt);
	const char *p = base + ml;

	if (delegate(mnt, avail, ct, err) < 0)
		return -1;
	while (*p) {
		p = strchr(p + 1, '/');
		if (!p)
			p = base + strlen(base);
		snprintf(dir, sizeof(dir), "%.*s", (int)(p - base), base);
		if (cg_mkdir_p(dir, err) < 0 || delegate(dir, avail, ct, err) < 0)
			return -1;
	}
	return 0;
}

int cg_v2_create(struct cgroup *cg, const struct cg_mount *mounts, size_t n,
		 const char *name, const char *path,
		 const struct container_config *ct, struct error *err)
{
	const struct cg_mount *m = cg_v2_mount(mounts, n);
	char avail[512], base[4096];
	const char *leaf = name;
	size_t i;

	if (read_controllers(m, avail, sizeof(avail)) < 0)
		return err_sys(err, "reading %s/cgroup.controllers", m->dir);
	for (i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
		if (wanted(ct, controllers[i]) &&
		    !cg_list_has(avail, controllers[i]))
			return err_set(err, "the %s limit needs the '%s' "
				       "cgroup controller, but cgroup v2 at "
				       "%s does not offer it (cgroup."
				       "controllers: %s)",
				       !strcmp(controllers[i], "cpu") ? "cpus" :
				       controllers[i], controllers[i], m->dir,
				       avail[0] ? strtok(avail, "\n") :
				       "empty");
	if (!path)
		snprintf(base, sizeof(base), "%s/" CG_VESSEL_DIR, m->dir);
	if ((path && cg_split_path(m->dir, path, base, sizeof(base), &leaf,
				   err) < 0) ||
	    delegate_down(m->dir, base, avail, ct, err) < 0 ||
	    cg_make_leaf(cg, base, leaf, err) < 0 ||
	    write_limits(cg->dirs[0], ct, err) < 0 ||
	    devcg_v2_apply(cg->dirs[0], err) < 0)
		return err_prefix(err, "cgroup v2");
	cg->unified = 0;
	return 0;
}

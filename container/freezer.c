/* Freezing and thawing a container's processes (cgroup v2 or v1). */
#include "freezer.h"
#include "../tools/base/clock.h"
#include "cgroup_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FREEZE_WAIT_MS 5000

/* pid's cgroup path: in the v2 hierarchy (ctrl NULL) or the v1 one that
 * has controller ctrl. */
static int proc_cgroup(pid_t pid, const char *ctrl, char *out, size_t len)
{
	char path[64], line[CG_PATH_MAX], *c1, *c2;
	int ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (ret < 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		c1 = strchr(line, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = '\0';
		*c2 = '\0';
		if (ctrl ? !cg_list_has(c1 + 1, ctrl) :
		    strcmp(line, "0") || c1[1] != '\0')
			continue;
		if ((size_t)snprintf(out, len, "%s", c2 + 1) < len)
			ret = 0;
	}
	fclose(f);
	return ret;
}

/* The mount point of cgroup2 (ctrl NULL) or of the v1 hierarchy with
 * controller ctrl. */
static int cgroup_mount(const char *ctrl, char *out, size_t len)
{
	const struct cg_mount *m = NULL;
	struct cg_mount *mounts;
	struct error ignored;
	size_t n, i;
	int ret = -1;

	if (cg_mounts(&mounts, &n, &ignored) < 0)
		return -1;
	if (!ctrl)
		m = cg_v2_mount(mounts, n);
	for (i = 0; ctrl && !m && i < n; i++)
		if (!mounts[i].v2 && cg_list_has(mounts[i].opts, ctrl))
			m = &mounts[i];
	if (m && (size_t)snprintf(out, len, "%s", m->dir) < len)
		ret = 0;
	cg_mounts_free(mounts, n);
	return ret;
}

/* The container's own v2 cgroup, …/vessel/NAME, if it has cgroup.freeze.
 * PID 1 may sit below it: an init such as systemd moves itself into
 * init.scope; freezing …/vessel/NAME freezes the whole subtree. */
static int v2_dir(const char *name, pid_t pid1, char *dir, size_t len)
{
	char cg[CG_PATH_MAX], mnt[CG_PATH_MAX], suffix[128], file[CG_PATH_MAX];
	size_t sn;
	char *p;

	if ((size_t)snprintf(suffix, sizeof(suffix), "/vessel/%s", name) >=
	    sizeof(suffix) || proc_cgroup(pid1, NULL, cg, sizeof(cg)) < 0 ||
	    cgroup_mount(NULL, mnt, sizeof(mnt)) < 0)
		return -1;
	sn = strlen(suffix);
	for (p = cg; (p = strstr(p, suffix)); p++)
		if (p[sn] == '\0' || p[sn] == '/')
			break;
	if (!p)
		return -1;
	p[sn] = '\0';
	if ((size_t)snprintf(dir, len, "%s%s", mnt, cg) >= len ||
	    (size_t)snprintf(file, sizeof(file), "%s/cgroup.freeze", dir) >=
	    sizeof(file))
		return -1;
	return access(file, W_OK);
}

/* <freezer mount>/<our freezer cgroup>/vessel/NAME */
static int v1_dir(const char *name, char *dir, size_t len, struct error *err)
{
	char cg[CG_PATH_MAX], mnt[CG_PATH_MAX];

	if (cgroup_mount("freezer", mnt, sizeof(mnt)) < 0 ||
	    proc_cgroup(getpid(), "freezer", cg, sizeof(cg)) < 0)
		return err_set(err, "pausing a container needs the freezer "
			       "cgroup (cgroup v2 with the container in it, or "
			       "a mounted v1 freezer hierarchy)");
	if ((size_t)snprintf(dir, len, "%s%s/vessel/%s", mnt,
			     strcmp(cg, "/") ? cg : "", name) >= len)
		return err_set(err, "freezer cgroup path too long");
	return 0;
}

/* Move every process of pid1's pid namespace into the v1 cgroup dir. */
static int move_all(const char *dir, pid_t pid1, struct error *err)
{
	char path[64], ns[64], other[64], val[32];
	struct dirent *de;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid1);
	n = readlink(path, ns, sizeof(ns) - 1);
	if (n < 0)
		return err_sys(err, "%s", path);
	ns[n] = '\0';
	d = opendir("/proc");
	if (!d)
		return err_sys(err, "/proc");
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/ns/pid", de->d_name);
		n = readlink(path, other, sizeof(other) - 1);
		if (n < 0)
			continue;
		other[n] = '\0';
		if (strcmp(ns, other))
			continue;
		snprintf(val, sizeof(val), "%.16s", de->d_name);
		/* It may have exited meanwhile. */
		cg_write(dir, "cgroup.procs", val, &(struct error){ 0 });
	}
	closedir(d);
	return 0;
}

/* Wait until dir/file contains want. */
static int wait_for(const char *dir, const char *file, const char *want,
		    struct error *err)
{
	long long until = now_ms() + FREEZE_WAIT_MS;
	char path[CG_PATH_MAX], buf[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	for (;;) {
		if (cg_read(path, buf, sizeof(buf)) == 0 && strstr(buf, want))
			return 0;
		if (now_ms() > until)
			return err_set(err, "%s did not reach '%s' within %d ms",
				       path, want, FREEZE_WAIT_MS);
		usleep(10000);
	}
}

int freezer_set_v2(const char *dir, bool frozen, struct error *err)
{
	if (cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return -1;
	return wait_for(dir, "cgroup.events", frozen ? "frozen 1" : "frozen 0",
			err);
}

bool freezer_frozen(const char *name, const char *v2dir)
{
	char dir[CG_PATH_MAX], path[CG_PATH_MAX + 32], buf[256];
	struct error ignored;

	if (v2dir) {
		snprintf(path, sizeof(path), "%s/cgroup.events", v2dir);
		return cg_read(path, buf, sizeof(buf)) == 0 &&
		       strstr(buf, "frozen 1");
	}
	if (v1_dir(name, dir, sizeof(dir), &ignored) < 0)
		return false;
	snprintf(path, sizeof(path), "%s/freezer.state", dir);
	return cg_read(path, buf, sizeof(buf)) == 0 && strstr(buf, "FROZEN");
}

int freezer_set(const char *name, pid_t pid1, bool frozen, struct error *err)
{
	char dir[CG_PATH_MAX];

	if (v2_dir(name, pid1, dir, sizeof(dir)) == 0)
		return freezer_set_v2(dir, frozen, err);
	if (v1_dir(name, dir, sizeof(dir), err) < 0)
		return -1;
	if (!frozen) {
		if (access(dir, F_OK) < 0)
			return 0;       /* never frozen */
		if (cg_write(dir, "freezer.state", "THAWED", err) < 0)
			return -1;
		return wait_for(dir, "freezer.state", "THAWED", err);
	}
	if (cg_mkdir_p(dir, err) < 0 || move_all(dir, pid1, err) < 0 ||
	    cg_write(dir, "freezer.state", "FROZEN", err) < 0 ||
	    wait_for(dir, "freezer.state", "FROZEN", err) < 0)
		return -1;
	/* Anything forked while we moved the others; frozen on arrival. */
	return move_all(dir, pid1, err);
}

void freezer_remove(const char *name)
{
	char dir[CG_PATH_MAX];
	struct error ignored;

	if (v1_dir(name, dir, sizeof(dir), &ignored) == 0)
		rmdir(dir);
}

/* cgroup: choosing v1 or v2, and what both share (files, leaves,
 * killing and removing). */
#include "cgroup.h"
#include "cgroup_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* Fill m from one mountinfo line if it is a cgroup mount; 1 if so. */
static int parse_mountinfo(char *line, struct cg_mount *m)
{
	char *fields[6], *sep, *fstype, *super, *save = NULL;
	int i;

	sep = strstr(line, " - ");
	if (!sep)
		return 0;
	*sep = '\0';
	fields[0] = strtok_r(line, " ", &save);
	for (i = 1; i < 6 && fields[i - 1]; i++)
		fields[i] = strtok_r(NULL, " ", &save);
	if (i < 6 || !fields[5])
		return 0;
	save = NULL;
	fstype = strtok_r(sep + 3, " ", &save);
	if (!fstype || !strtok_r(NULL, " ", &save))
		return 0;
	super = strtok_r(NULL, " \n", &save);
	if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2"))
		return 0;
	unescape(fields[3]);
	unescape(fields[4]);
	m->v2 = !strcmp(fstype, "cgroup2");
	m->root = strdup(fields[3]);
	m->dir = strdup(fields[4]);
	m->opts = strdup(super ? super : "");
	return 1;
}

int cg_mounts(struct cg_mount **mounts, size_t *n, struct error *err)
{
	struct cg_mount *v = NULL, m, *nv;
	size_t cnt = 0, cap = 0;
	char *line = NULL;
	size_t len = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return err_sys(err, "reading /proc/self/mountinfo");
	while (getline(&line, &len, f) > 0) {
		memset(&m, 0, sizeof(m));
		if (!parse_mountinfo(line, &m))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		if (!m.root || !m.dir || !m.opts) {
			free(m.root);
			free(m.dir);
			free(m.opts);
			break;
		}
		v[cnt++] = m;
	}
	free(line);
	fclose(f);
	*mounts = v;
	*n = cnt;
	return 0;
}

void cg_mounts_free(struct cg_mount *mounts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(mounts[i].dir);
		free(mounts[i].root);
		free(mounts[i].opts);
	}
	free(mounts);
}

bool cg_list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p) {
		size_t l = strcspn(p, ", \n");

		if (l == wl && !strncmp(p, word, wl))
			return true;
		p += l;
		p += strspn(p, ", \n");
	}
	return false;
}

int cg_write(const char *dir, const char *file, const char *val,
	     struct error *err)
{
	char path[CG_PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path))
		return err_set(err, "cgroup path too long: %s", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "opening %s", path);
	n = write(fd, val, strlen(val));
	if (n < 0) {
		err_sys(err, "writing '%s' to %s", val, path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int cg_read(const char *path, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += n;
	buf[off] = '\0';
	close(fd);
	return 0;
}

int cg_mkdir_p(const char *dir, struct error *err)
{
	char path[CG_PATH_MAX];
	char *p;

	/* Mostly there already, or only the last one missing. */
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return err_sys(err, "creating cgroup %s", path);
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return err_sys(err, "creating cgroup %s", path);
	return 0;
}

/* Does the cgroup at dir, or under v2 any cgroup below it, contain a
 * process? */
static bool has_procs(const char *dir)
{
	char path[CG_PATH_MAX], buf[256];

	if (snprintf(path, sizeof(path), "%s/cgroup.events", dir) <
	    (int)sizeof(path) && cg_read(path, buf, sizeof(buf)) == 0)
		return strstr(buf, "populated 1") != NULL;
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >=
	    (int)sizeof(path) || cg_read(path, buf, sizeof(buf)) < 0)
		return false;
	return buf[0] != '\0';
}

/* rmdir the cgroup at path after every cgroup below it, deepest first (a
 * container's own init makes children in its delegated cgroup). path is
 * a CG_PATH_MAX buffer, extended while descending and restored; errno is
 * that of the last rmdir. */
static int rmdir_tree(char *path)
{
	size_t n = strlen(path);
	struct dirent *d;
	DIR *dir;

	/* No cgroup below: no need to list the control files. */
	if (rmdir(path) == 0)
		return 0;
	if (errno != EBUSY && errno != ENOTEMPTY)
		return -1;
	dir = opendir(path);
	if (dir) {
		while ((d = readdir(dir))) {
			if (d->d_type != DT_DIR || !strcmp(d->d_name, ".") ||
			    !strcmp(d->d_name, ".."))
				continue;
			if (snprintf(path + n, CG_PATH_MAX - n, "/%s",
				     d->d_name) < (int)(CG_PATH_MAX - n))
				rmdir_tree(path);
			path[n] = '\0';
		}
		closedir(dir);
	}
	return rmdir(path);
}

static int rmdir_cgroup(const char *dir)
{
	char path[CG_PATH_MAX];

	snprintf(path, sizeof(path), "%s", dir);
	return rmdir_tree(path);
}

int cg_make_leaf(struct cgroup *cg, const char *base, const char *name,
		 struct error *err)
{
	char dir[CG_PATH_MAX];
	int tries = 5;

	if (cg->ndirs == CG_MAX_DIRS)
		return err_set(err, "too many cgroup hierarchies");
	if (snprintf(dir, sizeof(dir), "%s/%s", base, name) >=
	    (int)sizeof(dir))
		return err_set(err, "cgroup path too long: %s", base);
	if (access(dir, F_OK) == 0) {
		if (has_procs(dir))
			return err_set(err, "a container named '%s' is "
				       "already running (its cgroup %s has "
				       "processes)", name, dir);
		/* Left behind by a vessel that was killed: reuse the name. */
		if (rmdir_cgroup(dir) < 0)
			return err_sys(err, "removing the stale cgroup %s",
				       dir);
	}
	/* base may vanish under us: an exiting vessel removes it when it
	 * is empty. */
	for (;;) {
		if (cg_mkdir_p(base, err) < 0)
			return -1;
		if (mkdir(dir, 0755) == 0)
			break;
		if (errno != ENOENT || !--tries)
			return err_sys(err, "creating cgroup %s", dir);
	}
	cg->dirs[cg->ndirs] = strdup(dir);
	if (!cg->dirs[cg->ndirs]) {
		rmdir(dir);
		return err_set(err, "out of memory");
	}
	cg->ndirs++;
	return 0;
}

int cg_split_path(const char *dir, const char *path, char *base,
		  size_t len, const char **leaf, struct error *err)
{
	const char *slash = strrchr(path, '/');

	if (!slash || !slash[1])
		return err_set(err, "cgroup path '%s' has no last component",
			       path);
	if ((size_t)snprintf(base, len, "%s%.*s", dir, (int)(slash - path),
			     path) >= len)
		return err_set(err, "cgroup path too long: %s", path);
	*leaf = slash + 1;
	return 0;
}

int cgroup_create(const char *name, const struct container_config *ct,
		  struct cgroup **cgp, struct error *err)
{
	return cgroup_create_at(name, NULL, ct, cgp, err);
}

int cgroup_create_at(const char *name, const char *path,
		     const struct container_config *ct, struct cgroup **cgp,
		     struct error *err)
{
	struct cg_mount *mounts;
	struct cgroup *cg;
	size_t n;
	int ret;

	if (cg_mounts(&mounts, &n, err) < 0)
		return -1;
	cg = calloc(1, sizeof(*cg));
	if (!cg) {
		cg_mounts_free(mounts, n);
		return err_set(err, "out of memory");
	}
	cg->unified = -1;
	cg->v2 = cg_v2_usable(mounts, n);
	if (cg->v2)
		ret = cg_v2_create(cg, mounts, n, name, path, ct, err);
	else
		ret = cg_v1_create(cg, mounts, n, name, path, ct, err);
	cg_mounts_free(mounts, n);
	if (ret < 0) {
		struct error ignored;

		cgroup_destroy(cg, &ignored);
		cgroup_free(cg);
		return -1;
	}
	*cgp = cg;
	return 0;
}

int cgroup_attach(struct cgroup *cg, pid_t pid, struct error *err)
{
	char val[32];
	size_t i;

	snprintf(val, sizeof(val), "%d", (int)pid);
	for (i = 0; i < cg->ndirs; i++)
		if (cg_write(cg->dirs[i], "cgroup.procs", val, err) < 0)
			return err_prefix(err, "moving the container into its "
					  "cgroup");
	return 0;
}

size_t cgroup_dirs(const struct cgroup *cg, const char *const **dirs)
{
	*dirs = (const char *const *)cg->dirs;
	return cg->ndirs;
}

int cgroup_from_dirs(char *const *dirs, size_t n, bool v2, int unified,
		     struct cgroup **cgp, struct error *err)
{
	struct cgroup *cg;
	size_t i;

	if (n > CG_MAX_DIRS || unified >= (int)n)
		return err_input(err, "too many cgroup directories");
	cg = calloc(1, sizeof(*cg));
	if (!cg)
		return err_set(err, "out of memory");
	cg->v2 = v2;
	cg->unified = unified;
	for (i = 0; i < n; i++) {
		cg->dirs[i] = strdup(dirs[i]);
		if (!cg->dirs[i]) {
			cgroup_free(cg);
			return err_set(err, "out of memory");
		}
		cg->ndirs = i + 1;
	}
	*cgp = cg;
	return 0;
}

int cgroup_set_swap(struct cgroup *cg, uint64_t memory, int64_t swap,
		    struct error *err)
{
	char val[32], path[CG_PATH_MAX];
	size_t i;

	if (cg->v2) {
		if (swap < 0)
			snprintf(val, sizeof(val), "max");
		else
			snprintf(val, sizeof(val), "%llu", (unsigned long long)
				 ((uint64_t)swap > memory ? swap - memory : 0));
		return cg_write(cg->dirs[0], "memory.swap.max", val, err);
	}
	snprintf(val, sizeof(val), "%lld", (long long)swap);
	for (i = 0; i < cg->ndirs; i++) {
		snprintf(path, sizeof(path), "%s/memory.memsw.limit_in_bytes",
			 cg->dirs[i]);
		if (access(path, F_OK) == 0)
			return cg_write(cg->dirs[i],
					"memory.memsw.limit_in_bytes", val,
					err);
	}
	return 0;
}

int cgroup_set_cpu_shares(struct cgroup *cg, uint64_t shares,
			  struct error *err)
{
	char val[32], path[CG_PATH_MAX];
	size_t i;

	if (cg->v2) {
		snprintf(val, sizeof(val), "%llu", (unsigned long long)
			 (1 + ((shares - 2) * 9999) / 262142));
		return cg_write(cg->dirs[0], "cpu.weight", val, err);
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)shares);
	for (i = 0; i < cg->ndirs; i++) {
		snprintf(path, sizeof(path), "%s/cpu.shares", cg->dirs[i]);
		if (access(path, F_OK) == 0)
			return cg_write(cg->dirs[i], "cpu.shares", val, err);
	}
	return err_set(err, "linux.resources.cpu.shares: no cpu controller "
		       "in the container's cgroup");
}

/* Write file in the first directory that has it; 1 if none has. */
static int write_any(struct cgroup *cg, const char *file, const char *val,
		     struct error *err)
{
	char path[CG_PATH_MAX];
	size_t i;

	for (i = 0; i < cg->ndirs; i++) {
		snprintf(path, sizeof(path), "%s/%s", cg->dirs[i], file);
		if (access(path, F_OK) == 0)
			return cg_write(cg->dirs[i], file, val, err);
	}
	return 1;
}

int cgroup_update(struct cgroup *cg, const struct container_config *c,
		  int64_t swap, struct error *err)
{
	char mem[32], sw[32], val[64];
	long long quota;
	int r = 0;

	if (c->memory) {
		snprintf(mem, sizeof(mem), "%llu", (unsigned long long)c->memory);
		if (cg->v2) {
			r = write_any(cg, "memory.max", mem, err);
			if (r == 0 && swap) {
				snprintf(sw, sizeof(sw), "%lld", swap < 0 ? -1LL :
					 (long long)((uint64_t)swap > c->memory ?
						     (uint64_t)swap - c->memory : 0));
				r = write_any(cg, "memory.swap.max",
					      swap < 0 ? "max" : sw, err);
			}
		} else {
			snprintf(sw, sizeof(sw), "%lld", swap ? (long long)swap :
				 (long long)c->memory);
			/* memsw may not go below memory: raise it first,
			 * lower it last. */
			if (write_any(cg, "memory.memsw.limit_in_bytes", sw,
				      err) < 0)
				r = write_any(cg, "memory.limit_in_bytes", mem,
					      err) < 0 ||
				    write_any(cg, "memory.memsw.limit_in_bytes",
					      sw, err) < 0 ? -1 : 0;
			else
				r = write_any(cg, "memory.limit_in_bytes", mem,
					      err);
		}
		if (r)
			return r < 0 ? -1 : err_set(err, "no memory controller");
	}
	if (c->pids > 0) {
		snprintf(val, sizeof(val), "%lld", (long long)c->pids);
		if ((r = write_any(cg, "pids.max", val, err)))
			return r < 0 ? -1 : err_set(err, "no pids controller");
	}
	if (c->cpus > 0) {
		quota = (long long)(c->cpus * 100000.0 + 0.5);
		if (quota < 1000)
			quota = 1000;
		snprintf(val, sizeof(val), "%lld 100000", quota);
		if (cg->v2)
			r = write_any(cg, "cpu.max", val, err);
		else if (!(r = write_any(cg, "cpu.cfs_period_us", "100000", err))) {
			snprintf(val, sizeof(val), "%lld", quota);
			r = write_any(cg, "cpu.cfs_quota_us", val, err);
		}
		if (r)
			return r < 0 ? -1 : err_set(err, "no cpu controller");
	}
	return 0;
}

size_t cgroup_pids(const struct cgroup *cg, pid_t *pids, size_t max)
{
	char path[CG_PATH_MAX];
	size_t n = 0;
	FILE *f;
	int pid;

	if (!cg->ndirs || !cg->dirs[0] ||
	    snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dirs[0]) >=
	    (int)sizeof(path))
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		if (pid > 0)
			pids[n++] = pid;
	fclose(f);
	return n;
}

int cgroup_signal(const struct cgroup *cg, int sig, struct error *err)
{
	pid_t pids[4096];
	size_t i, n;

	n = cgroup_pids(cg, pids, sizeof(pids) / sizeof(pids[0]));
	for (i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return err_sys(err, "kill %d", (int)pids[i]);
	return 0;
}

bool cgroup_is_v2(const struct cgroup *cg)
{
	return cg->v2;
}

const char *cgroup_unified_dir(const struct cgroup *cg)
{
	return cg && cg->unified >= 0 ? cg->dirs[cg->unified] : NULL;
}

int cgroup_delegate(struct cgroup *cg, uid_t uid, gid_t gid,
		    struct error *err)
{
	static const char *const files[] = {
		"", "/cgroup.procs", "/cgroup.subtree_control",
		"/cgroup.threads",
	};
	const char *dir = cgroup_unified_dir(cg);
	char path[CG_PATH_MAX];
	size_t i;

	for (i = 0; dir && i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		/* cgroup.threads is missing before Linux 4.14. */
		if (chown(path, uid, gid) < 0 && !(i && errno == ENOENT))
			return err_sys(err, "delegating the cgroup to the "
				       "container's root: chown %u:%u %s",
				       (unsigned)uid, (unsigned)gid, path);
	}
	return 0;
}

static void kill_procs(const char *dir)
{
	char path[CG_PATH_MAX];
	FILE *f;
	int pid;

	if (snprintf(path, sizeof(path), "%s/cgroup.kill", dir) >=
	    (int)sizeof(path))
		return;
	if (access(path, W_OK) == 0) {
		struct error ignored;

		cg_write(dir, "cgroup.kill", "1", &ignored);
	}
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >=
	    (int)sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid > 0)
			kill(pid, SIGKILL);
	fclose(f);
}

/* The shared <...>/vessel directory, if no other container uses it.
 * Another parent (an OCI cgroupsPath's, such as containerd's /default or
 * podman's) is its caller's: left for the next container, as runc and
 * crun leave it, not removed and made again each time. */
static void remove_parent(char *dir)
{
	char *slash = strrchr(dir, '/'), *prev;

	if (!slash)
		return;
	*slash = '\0';
	prev = strrchr(dir, '/');
	if (prev && !strcmp(prev + 1, CG_VESSEL_DIR))
		rmdir(dir);
	*slash = '/';
}

/* rmdir the cgroup at dir: 0, or -1 with errno. An empty one (the
 * container's processes gone, as usual by delete) goes at once; the
 * kernel refuses a populated one (EBUSY): its processes are killed
 * first, and it is tried again. */
static int remove_cgroup(const char *dir)
{
	if (rmdir_cgroup(dir) == 0)
		return 0;
	if (errno != EBUSY)
		return -1;
	kill_procs(dir);
	return rmdir_cgroup(dir);
}

int cgroup_destroy(struct cgroup *cg, struct error *err)
{
	const struct timespec step = { 0, 20 * 1000 * 1000 };
	int tries = 500;	/* 10 s */
	size_t i, left;

	if (!cg)
		return 0;
	for (;;) {
		left = 0;
		for (i = 0; i < cg->ndirs; i++) {
			if (!cg->dirs[i])
				continue;
			if (remove_cgroup(cg->dirs[i]) == 0 || errno == ENOENT) {
				remove_parent(cg->dirs[i]);
				free(cg->dirs[i]);
				cg->dirs[i] = NULL;
				continue;
			}
			if (errno != EBUSY || tries == 0)
				return err_sys(err, "removing cgroup %s",
					       cg->dirs[i]);
			left++;
		}
		if (!left)
			return 0;
		tries--;
		nanosleep(&step, NULL);
	}
}

void cgroup_free(struct cgroup *cg)
{
	size_t i;

	if (!cg)
		return;
	for (i = 0; i < cg->ndirs; i++)
		free(cg->dirs[i]);
	free(cg);
}

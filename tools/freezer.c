/* Freezing and thawing a container's processes (cgroup v2 or v1). */
#include "freezer.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define FREEZE_WAIT_MS 5000
#define PATH_LEN 1024                   /* a cgroup path, a mount point */
#define DIR_LEN  (2 * PATH_LEN + 128)   /* mount + cgroup + vessel/NAME */
#define FILE_LEN (DIR_LEN + 32)

static int write_str(const char *path, const char *val, struct error *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

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

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0' ||
						    isspace((unsigned char)p[n])))
			return true;
	return false;
}

/* pid's cgroup path: in the v2 hierarchy (ctrl NULL) or the v1 one that
 * has controller ctrl. */
static int proc_cgroup(pid_t pid, const char *ctrl, char *out, size_t len)
{
	char path[64], line[PATH_LEN + 128], *c1, *c2;
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
		if (ctrl ? !has_word(c1 + 1, ctrl) :
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
	char line[PATH_LEN * 2], mnt[PATH_LEN], fstype[32], opts[512], *sep;
	int ret = -1;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -1;
	while (ret < 0 && fgets(line, sizeof(line), f)) {
		sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s %*s %511s", fstype, opts) != 2)
			continue;
		if (ctrl ? strcmp(fstype, "cgroup") || !has_word(opts, ctrl) :
		    strcmp(fstype, "cgroup2") != 0)
			continue;
		if ((size_t)snprintf(out, len, "%s", mnt) < len)
			ret = 0;
	}
	fclose(f);
	return ret;
}

/* The container's own v2 cgroup, if it has one with cgroup.freeze. */
static int v2_dir(const char *name, pid_t pid1, char *dir, size_t len)
{
	char cg[PATH_LEN], mnt[PATH_LEN], suffix[128], file[FILE_LEN];
	size_t n, sn;

	snprintf(suffix, sizeof(suffix), "/vessel/%s", name);
	sn = strlen(suffix);
	if (proc_cgroup(pid1, NULL, cg, sizeof(cg)) < 0 ||
	    (n = strlen(cg)) < sn || strcmp(cg + n - sn, suffix) ||
	    cgroup_mount(NULL, mnt, sizeof(mnt)) < 0)
		return -1;
	if ((size_t)snprintf(dir, len, "%s%s", mnt, cg) >= len)
		return -1;
	snprintf(file, sizeof(file), "%s/cgroup.freeze", dir);
	return access(file, W_OK);
}

/* <freezer mount>/<our freezer cgroup>/vessel/NAME */
static int v1_dir(const char *name, char *dir, size_t len, struct error *err)
{
	char cg[PATH_LEN], mnt[PATH_LEN];

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

static int mkdir_2(const char *dir, struct error *err)
{
	char parent[DIR_LEN];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	if ((mkdir(parent, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0755) < 0 && errno != EEXIST))
		return err_sys(err, "creating %s", dir);
	return 0;
}

/* Move every process of pid1's pid namespace into the v1 cgroup dir. */
static int move_all(const char *dir, pid_t pid1, struct error *err)
{
	char path[FILE_LEN], ns[64], other[64], val[32];
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
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	while ((de = readdir(d))) {
		char link[64];

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(link, sizeof(link), "/proc/%.16s/ns/pid", de->d_name);
		n = readlink(link, other, sizeof(other) - 1);
		if (n < 0)
			continue;
		other[n] = '\0';
		if (strcmp(ns, other))
			continue;
		snprintf(val, sizeof(val), "%.16s", de->d_name);
		write_str(path, val, &(struct error){ 0 });     /* it may exit */
	}
	closedir(d);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait until file contains want. */
static int wait_for(const char *file, const char *want, struct error *err)
{
	long long until = now_ms() + FREEZE_WAIT_MS;
	char buf[256];

	for (;;) {
		if (read_str(file, buf, sizeof(buf)) == 0 && strstr(buf, want))
			return 0;
		if (now_ms() > until)
			return err_set(err, "%s did not reach '%s' within %d ms",
				       file, want, FREEZE_WAIT_MS);
		usleep(10000);
	}
}

int freezer_set(const char *name, pid_t pid1, bool frozen, struct error *err)
{
	char dir[DIR_LEN], file[FILE_LEN];

	if (v2_dir(name, pid1, dir, sizeof(dir)) == 0) {
		snprintf(file, sizeof(file), "%s/cgroup.freeze", dir);
		if (write_str(file, frozen ? "1" : "0", err) < 0)
			return -1;
		snprintf(file, sizeof(file), "%s/cgroup.events", dir);
		return wait_for(file, frozen ? "frozen 1" : "frozen 0", err);
	}
	if (v1_dir(name, dir, sizeof(dir), err) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/freezer.state", dir);
	if (!frozen) {
		if (access(dir, F_OK) < 0)
			return 0;       /* never frozen */
		if (write_str(file, "THAWED", err) < 0)
			return -1;
		return wait_for(file, "THAWED", err);
	}
	if (mkdir_2(dir, err) < 0 || move_all(dir, pid1, err) < 0 ||
	    write_str(file, "FROZEN", err) < 0 ||
	    wait_for(file, "FROZEN", err) < 0)
		return -1;
	/* Anything forked while we moved the others; frozen on arrival. */
	return move_all(dir, pid1, err);
}

void freezer_remove(const char *name)
{
	char dir[DIR_LEN];
	struct error ignored;

	if (v1_dir(name, dir, sizeof(dir), &ignored) == 0)
		rmdir(dir);
}

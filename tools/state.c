/* The run directory: paths, liveness by flock(), claiming and removing. */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

/* mkdir -p, the last component with mode 0700. */
static int mkdir_p(const char *path, struct error *err)
{
	char buf[STATE_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return err_set(err, "run directory '%s': path too long", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return err_sys(err, "creating %s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return err_sys(err, "creating %s", buf);
	return 0;
}

/* The run directory's path, created if missing. */
static int run_dir_path(char *buf, size_t len, struct error *err)
{
	const char *env = getenv("VESSEL_RUN_DIR");
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else if (geteuid() == 0) {
		n = snprintf(buf, len, "/run/vessel");
	} else {
		env = getenv("XDG_RUNTIME_DIR");
		if (!env || !*env)
			return err_set(err, "XDG_RUNTIME_DIR is not set: cannot "
				       "place the run directory (set it, or "
				       "VESSEL_RUN_DIR, or run as root)");
		n = snprintf(buf, len, "%s/vessel", env);
	}
	if (n < 0 || (size_t)n >= len)
		return err_set(err, "run directory: path too long");
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return mkdir_p(buf, err);
}

/* The run directory, opened: a directory (not a symlink to one), the
 * caller's, mode 0700. Anything else could let another user plant
 * entries that root's `vessel stop` or `ps` would then act on. */
static int run_dir_open(char *buf, size_t len, struct error *err)
{
	struct stat st;
	int fd;

	if (run_dir_path(buf, len, err) < 0)
		return -1;
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return err_set(err, "run directory %s is not a "
				       "directory (a symlink?): refusing it",
				       buf);
		return err_sys(err, "run directory %s", buf);
	}
	if (fstat(fd, &st) < 0) {
		err_sys(err, "run directory %s", buf);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0700) {
		if (st.st_uid != geteuid())
			err_set(err, "run directory %s belongs to uid %u, not "
				"to you (uid %u): refusing it (set "
				"VESSEL_RUN_DIR to a directory of yours)", buf,
				(unsigned)st.st_uid, (unsigned)geteuid());
		else
			err_set(err, "run directory %s has mode %04o: refusing "
				"it, it must be 0700 (chmod 700 %s)", buf,
				(unsigned)(st.st_mode & 07777), buf);
		close(fd);
		return -1;
	}
	return fd;
}

int state_run_dir(char *buf, size_t len, struct error *err)
{
	int fd = run_dir_open(buf, len, err);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* RUN/NAME, if present, must be a directory: never a symlink leading
 * elsewhere. 0 if it is one or absent. */
static int check_guest_dir(int rfd, const char *dir, const char *name,
			   struct error *err)
{
	struct stat st;

	if (fstatat(rfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(err, "%s/%s", dir, name);
	if (!S_ISDIR(st.st_mode))
		return err_set(err, "%s/%s is not a directory (%s): refusing "
			       "to use it; remove it", dir, name,
			       S_ISLNK(st.st_mode) ? "a symlink" : "a file");
	return 0;
}

int state_path(char *buf, size_t len, const char *name, const char *file,
	       struct error *err)
{
	char dir[STATE_PATH_MAX];
	int n, rfd = run_dir_open(dir, sizeof(dir), err);

	if (rfd < 0)
		return -1;
	if (name[0] != '.' && check_guest_dir(rfd, dir, name, err) < 0) {
		close(rfd);
		return -1;
	}
	close(rfd);
	if (file)
		n = snprintf(buf, len, "%s/%s/%s", dir, name, file);
	else
		n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len)
		return err_set(err, "%s/%s: path too long", dir, name);
	return 0;
}

/* Serialise probing and claiming: an exclusive lock on RUN/.lock. */
static int lock_run_dir(struct error *err)
{
	char path[STATE_PATH_MAX];
	int fd, rfd = run_dir_open(path, sizeof(path), err);

	if (rfd < 0)
		return -1;
	fd = openat(rfd, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	close(rfd);
	if (fd < 0)
		return err_sys(err, "opening %s/.lock", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err_sys(err, "locking %s", path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

int state_last_log(char *buf, size_t len, const char *name,
		   struct error *err)
{
	char dir[STATE_PATH_MAX];

	if (state_run_dir(dir, sizeof(dir), err) < 0)
		return -1;
	if ((size_t)snprintf(buf, len, "%s/%s%s", dir, name,
			     STATE_LAST_LOG_SUFFIX) >= len)
		return err_set(err, "run directory path too long");
	return 0;
}

void state_remove(const char *name)
{
	char dir[STATE_PATH_MAX], last[STATE_PATH_MAX];
	struct error ignored;
	struct dirent *de;
	int rfd, gfd;
	DIR *d;

	rfd = run_dir_open(dir, sizeof(dir), &ignored);
	if (rfd < 0)
		return;
	/* Only a real directory: a symlink there is never followed. */
	gfd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		     O_CLOEXEC);
	if (gfd < 0 || !(d = fdopendir(gfd))) {
		if (gfd >= 0)
			close(gfd);
		close(rfd);
		return;
	}
	if ((size_t)snprintf(last, sizeof(last), "%s%s", name,
			     STATE_LAST_LOG_SUFFIX) < sizeof(last))
		renameat(gfd, STATE_LOG, rfd, last); /* none: nothing kept */
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		unlinkat(gfd, de->d_name, 0);
	}
	closedir(d);
	unlinkat(rfd, name, AT_REMOVEDIR);
	close(rfd);
}

/* With RUN/.lock held. */
static int probe_locked(const char *name, struct error *err)
{
	char dir[STATE_PATH_MAX];
	struct stat st;
	int rfd, gfd, fd;

	rfd = run_dir_open(dir, sizeof(dir), err);
	if (rfd < 0)
		return -1;
	if (fstatat(rfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		close(rfd);
		if (errno == ENOENT)
			return STATE_ABSENT;
		return err_sys(err, "%s/%s", dir, name);
	}
	if (check_guest_dir(rfd, dir, name, err) < 0) {
		close(rfd);
		return -1;
	}
	gfd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		     O_CLOEXEC);
	close(rfd);
	if (gfd < 0)
		return err_sys(err, "%s/%s", dir, name);
	fd = openat(gfd, STATE_LOCK, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	close(gfd);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK)
			return STATE_LIVE;
		errno = e;
		return err_sys(err, "locking %s/%s/%s", dir, name, STATE_LOCK);
	}
	/* No lock file (never completed) or a free lock: a dead supervisor. */
	state_remove(name);
	if (fd >= 0)
		close(fd);
	return STATE_STALE;
}

int state_probe(const char *name, struct error *err)
{
	int lfd = lock_run_dir(err), r;

	if (lfd < 0)
		return -1;
	r = probe_locked(name, err);
	close(lfd);
	return r;
}

static int claim_locked(const char *name, int *lock_fd, struct error *err)
{
	char path[STATE_PATH_MAX];
	int r = probe_locked(name, err), fd;

	if (r < 0)
		return -1;
	if (r == STATE_LIVE)
		return err_set(err, "%s is already running (see `vessel ps`)",
			       name);
	if (state_path(path, sizeof(path), name, NULL, err) < 0)
		return -1;
	if (mkdir(path, 0700) < 0)
		return err_sys(err, "creating %s", path);
	if (state_path(path, sizeof(path), name, STATE_LOCK, err) < 0)
		goto fail;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(err, "creating %s", path);
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err_sys(err, "locking %s", path);
		close(fd);
		goto fail;
	}
	*lock_fd = fd;
	return 0;
fail:
	state_remove(name);
	return -1;
}

int state_claim(const char *name, int *lock_fd, struct error *err)
{
	int lfd = lock_run_dir(err), r;

	if (lfd < 0)
		return -1;
	r = claim_locked(name, lock_fd, err);
	close(lfd);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void state_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int state_list(char ***names, size_t *n, struct error *err)
{
	char dir[STATE_PATH_MAX], **v = NULL, **nv;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int rfd;
	DIR *d;

	rfd = run_dir_open(dir, sizeof(dir), err);
	if (rfd < 0)
		return -1;
	d = fdopendir(rfd);
	if (!d) {
		close(rfd);
		return err_sys(err, "reading %s", dir);
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_DIR && (de->d_type != DT_UNKNOWN ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode)))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
		}
		v[cnt] = strdup(de->d_name);
		if (!v[cnt])
			goto oom;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
oom:
	closedir(d);
	state_list_free(v, cnt);
	return err_set(err, "out of memory");
}

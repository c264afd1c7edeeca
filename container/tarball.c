#include "tarball.h"
#include "pathres.h"
#include "rmtree.h"
#include "tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

bool tarball_is_archive(const char *rootfs)
{
	struct stat st;

	return stat(rootfs, &st) == 0 && S_ISREG(st.st_mode);
}

/* "./a/b/" -> "a/b"; NULL if a component is "..". */
static char *clean_path(const char *p)
{
	char *out = malloc(strlen(p) + 1), *o = out;
	const char *c = p;
	size_t len;

	if (!out)
		return NULL;
	while (*c) {
		while (*c == '/')
			c++;
		len = strcspn(c, "/");
		if (!len)
			break;
		if (len == 2 && !strncmp(c, "..", 2)) {
			free(out);
			return NULL;
		}
		if (!(len == 1 && *c == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, c, len);
			o += len;
		}
		c += len;
	}
	*o = '\0';
	return out;
}

struct unpack {
	const char *archive, *dir;
	int rootfd;
	unsigned shift;
};

static unsigned shifted(const struct unpack *u, unsigned id)
{
	if (!u->shift)
		return id;
	return u->shift + (id < 65536 ? id : 65534);
}

/* Open directory p (clean, relative), creating what is missing like tar
 * does, owned by the (shifted) root. */
static int open_dir(const struct unpack *u, char *p, struct error *err)
{
	char *slash;
	const char *base;
	int fd, pfd;

	fd = path_open_in_root(u->rootfd, p, MKPATH_NONE, err);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	slash = strrchr(p, '/');
	if (slash)
		*slash = '\0';
	pfd = slash ? open_dir(u, p, err) :
		      path_open_in_root(u->rootfd, "", MKPATH_NONE, err);
	if (slash)
		*slash = '/';
	if (pfd < 0)
		return -1;
	base = slash ? slash + 1 : p;
	if ((mkdirat(pfd, base, 0755) < 0 && errno != EEXIST) ||
	    fchownat(pfd, base, u->shift, u->shift, AT_SYMLINK_NOFOLLOW) < 0) {
		err_sys(err, "creating directory %s", p);
		close(pfd);
		return -1;
	}
	close(pfd);
	return path_open_in_root(u->rootfd, p, MKPATH_NONE, err);
}

/* Parent directory fd and base name of clean path p. */
static int parent_of(const struct unpack *u, char *p, const char **base,
		     struct error *err)
{
	char *slash = strrchr(p, '/');
	int fd;

	if (!slash) {
		*base = p;
		return path_open_in_root(u->rootfd, "", MKPATH_NONE, err);
	}
	*slash = '\0';
	fd = open_dir(u, p, err);
	*slash = '/';
	*base = slash + 1;
	return fd;
}

static int write_file(struct tar_reader *t, int pfd, const char *base,
		      const struct tar_entry *e, struct error *err)
{
	char buf[64 * 1024];
	ssize_t n;
	int fd;

	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, "creating %s", e->path);
	while ((n = tar_read(t, buf, sizeof(buf), err)) > 0) {
		if (write(fd, buf, n) != n) {
			err_sys(err, "writing %s", e->path);
			n = -1;
			break;
		}
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

static int make_entry(struct tar_reader *t, const struct unpack *u, int pfd,
		      const char *base, const struct tar_entry *e,
		      struct error *err)
{
	struct stat st;
	char *target;
	const char *tbase;
	int tfd, ret;

	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (e->type == '5' && S_ISDIR(st.st_mode))
			return 0;
		if (unlinkat(pfd, base, S_ISDIR(st.st_mode) ?
			     AT_REMOVEDIR : 0) < 0)
			return err_sys(err, "replacing %s", e->path);
	}
	switch (e->type) {
	case '0':
		return write_file(t, pfd, base, e, err);
	case '5':
		if (mkdirat(pfd, base, 0700) < 0)
			return err_sys(err, "creating directory %s", e->path);
		return 0;
	case '2':
		if (symlinkat(e->link, pfd, base) < 0)
			return err_sys(err, "creating symlink %s", e->path);
		return 0;
	case '1':
		target = clean_path(e->link);
		if (!target || !*target) {
			free(target);
			return err_set(err, "hard link %s -> %s leaves the "
				       "archive", e->path, e->link);
		}
		tfd = parent_of(u, target, &tbase, err);
		ret = tfd;
		if (tfd >= 0) {
			ret = linkat(tfd, tbase, pfd, base, 0);
			if (ret < 0)
				err_sys(err, "hard link %s -> %s", e->path,
					e->link);
			close(tfd);
		}
		free(target);
		return ret < 0 ? -1 : 0;
	default:	/* '3', '4', '6' */
		if (mknodat(pfd, base, e->mode | (e->type == '3' ? S_IFCHR :
			    e->type == '4' ? S_IFBLK : S_IFIFO),
			    makedev(e->major, e->minor)) < 0)
			return 1;	/* e.g. no CAP_MKNOD; /dev is a tmpfs */
		return 0;
	}
}

static int set_meta(const struct unpack *u, int pfd, const char *base,
		    const struct tar_entry *e, struct error *err)
{
	struct timespec ts[2] = { { e->mtime, 0 }, { e->mtime, 0 } };

	if (fchownat(pfd, base, shifted(u, e->uid), shifted(u, e->gid),
		     AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, "chown %s", e->path);
	/* After chown, which clears set-id bits. */
	if (e->type != '2' && fchmodat(pfd, base, e->mode, 0) < 0)
		return err_sys(err, "chmod %s", e->path);
	utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int root_meta(const struct unpack *u, const struct tar_entry *e,
		     struct error *err)
{
	if (chown(u->dir, shifted(u, e->uid), shifted(u, e->gid)) < 0 ||
	    chmod(u->dir, e->mode) < 0)
		return err_sys(err, "setting the owner of %s", u->dir);
	return 0;
}

static int entry(struct tar_reader *t, const struct unpack *u,
		 const struct tar_entry *e, struct error *err)
{
	const char *base;
	char *p = clean_path(e->path);
	int pfd, ret;

	if (!p)
		return err_set(err, "unsafe path '%s' (with ..)", e->path);
	if (!*p) {
		free(p);
		return e->type == '5' ? root_meta(u, e, err) : 0;
	}
	pfd = parent_of(u, p, &base, err);
	if (pfd < 0) {
		free(p);
		return -1;
	}
	ret = make_entry(t, u, pfd, base, e, err);
	if (ret == 0 && e->type != '1')
		ret = set_meta(u, pfd, base, e, err);
	close(pfd);
	free(p);
	return ret < 0 ? -1 : 0;
}

static int unpack(const struct unpack *u, struct error *err)
{
	struct tar_reader t;
	struct tar_entry e;
	int ret;

	if (tar_open(&t, u->archive, err) < 0)
		return -1;
	while ((ret = tar_next(&t, &e, err)) > 0)
		if (entry(&t, u, &e, err) < 0) {
			ret = -1;
			break;
		}
	tar_close(&t);
	return ret;
}

/* Where unpacked rootfs go: $VESSEL_CACHE_DIR/rootfs. */
static const char *cache_dir(char *buf, size_t len)
{
	const char *base = getenv("VESSEL_CACHE_DIR");

	if (!base || base[0] != '/')
		base = TARBALL_CACHE_DEFAULT;
	snprintf(buf, len, "%s/rootfs", base);
	return buf;
}

static int mkdirs(const char *path, struct error *err)
{
	char buf[256], *p, c;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return err_sys(err, "creating %s", buf);
		if (!c)
			return 0;
		*p = c;
	}
}

int tarball_unpack(const char *archive, const char *name, unsigned idshift,
		   char **dir, struct error *err)
{
	struct unpack u = { .archive = archive, .shift = idshift };
	char cache[256], tmpl[512];
	int ret;

	*dir = NULL;
	cache_dir(cache, sizeof(cache));
	if (mkdirs(cache, err) < 0)
		return err_prefix(err, "unpacking the rootfs (set "
				  "VESSEL_CACHE_DIR to a writable directory)");
	snprintf(tmpl, sizeof(tmpl), "%s/%d.%s.XXXXXX", cache, (int)getpid(),
		 name);
	if (!mkdtemp(tmpl))
		return err_sys(err, "unpacking the rootfs: creating a directory "
			       "in %s (set VESSEL_CACHE_DIR to a writable "
			       "directory)", cache);
	*dir = strdup(tmpl);
	if (!*dir) {
		rmdir(tmpl);
		return err_set(err, "out of memory");
	}
	u.dir = *dir;
	if (chown(u.dir, idshift, idshift) < 0 || chmod(u.dir, 0755) < 0)
		return err_sys(err, "preparing %s", u.dir);
	u.rootfd = open(u.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (u.rootfd < 0)
		return err_sys(err, "opening %s", u.dir);
	ret = unpack(&u, err);
	close(u.rootfd);
	if (ret < 0)
		return err_prefix(err, "unpacking the rootfs");
	return 0;
}

void tarball_sweep(void)
{
	char cache[256], path[512];
	struct dirent *d;
	struct error ignored;
	char *end;
	DIR *dir;
	long pid;

	dir = opendir(cache_dir(cache, sizeof(cache)));
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		pid = strtol(d->d_name, &end, 10);
		if (end == d->d_name || *end != '.' || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", cache, d->d_name) >=
		    (int)sizeof(path))
			continue;
		rmtree(path, &ignored);
	}
	closedir(dir);
}

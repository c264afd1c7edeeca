#include "tarball.h"
#include "idmap.h"
#include "pathres.h"
#include "rmtree.h"
#include "tar.h"

#include <dirent.h>
#include <limits.h>
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
	uint64_t max_bytes, max_entries;	/* the bomb limits */
	uint64_t entries;
	unsigned devices;			/* skipped outside dev/ */
	char first_device[128];			/* the first of them */
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
	case '6':
		if (mkfifoat(pfd, base, 0600) < 0)
			return err_sys(err, "creating fifo %s", e->path);
		return 0;
	default:	/* '3', '4': never created, see skip_device() */
		return 1;
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

/* Device nodes in an image are never created: a node for a host disk in
 * the rootfs would hand the disk to the container. Those under dev/ are
 * expected (a debootstrap tree has them; the container gets its own
 * /dev): skipped quietly; others are counted for one warning. */
static void skip_device(struct unpack *u, const char *p,
			const struct tar_entry *e)
{
	if (!strncmp(p, "dev/", 4))
		return;
	if (!u->devices++)
		snprintf(u->first_device, sizeof(u->first_device),
			 "/%.80s, %s %u:%u", p, e->type == '3' ? "char" :
			 "block", e->major, e->minor);
}

static int entry(struct tar_reader *t, struct unpack *u,
		 const struct tar_entry *e, struct error *err)
{
	const char *base;
	char *p;
	int pfd, ret;

	if (++u->entries > u->max_entries)
		return err_set(err, "more than %llu entries (the limit; "
			       "VESSEL_UNPACK_MAX_ENTRIES raises it)",
			       (unsigned long long)u->max_entries);
	if (t->offset > u->max_bytes || e->size > u->max_bytes - t->offset)
		return err_set(err, "unpacks to more than %llu bytes (the "
			       "limit; VESSEL_UNPACK_MAX_BYTES raises it)",
			       (unsigned long long)u->max_bytes);
	if (strlen(e->path) >= PATH_MAX - 1)
		return err_set(err, "path longer than %d bytes: '%.80s...'",
			       PATH_MAX - 2, e->path);
	p = clean_path(e->path);
	if (!p)
		return err_set(err, "unsafe path '%s' (with ..)", e->path);
	if (e->type == '3' || e->type == '4') {
		skip_device(u, p, e);
		free(p);
		return 0;
	}
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

static int unpack(struct unpack *u, struct error *err)
{
	struct tar_reader t;
	struct tar_entry e;
	int ret;

	if (tar_open(&t, u->archive, err) < 0)
		return -1;
	t.limit = u->max_bytes;
	while ((ret = tar_next(&t, &e, err)) > 0)
		if (entry(&t, u, &e, err) < 0) {
			ret = -1;
			break;
		}
	tar_close(&t);
	if (ret == 0 && u->devices)
		fprintf(stderr, "vessel: warning: %s: skipped %u device "
			"node%s outside /dev (%s): vessel never creates device "
			"nodes from an image\n", u->archive, u->devices,
			u->devices == 1 ? "" : "s", u->first_device);
	return ret;
}

/* Where unpacked rootfs go: $VESSEL_CACHE_DIR, default /var/cache/vessel. */
static const char *cache_base(void)
{
	const char *base = getenv("VESSEL_CACHE_DIR");

	return base && base[0] == '/' ? base : TARBALL_CACHE_DEFAULT;
}

static const char *cache_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/" TARBALL_SUBDIR, cache_base());
	return buf;
}

/* A directory vessel keeps private: root's, mode 0710, group the mapped
 * root's (userns containers pass through it to their rootfs, nobody else
 * does). Created if missing; fixed if it is root's already. */
static int private_dir(const char *path, bool fix, struct error *err)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_sys(err, "creating %s", path);
	/* Ours (fix) must not be a symlink; a given base may be one. */
	if ((fix ? lstat(path, &st) : stat(path, &st)) < 0)
		return err_sys(err, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return err_set(err, "%s is not a directory", path);
	if (st.st_uid != 0)
		return err_set(err, "%s is owned by uid %u, not root: remove "
			       "it, or set VESSEL_CACHE_DIR elsewhere", path,
			       (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return err_set(err, "%s is writable by others (mode %04o): "
			       "chmod 710 it, or set VESSEL_CACHE_DIR "
			       "elsewhere", path, (unsigned)(st.st_mode & 07777));
	if (!fix)	/* an existing directory given to us: as it is */
		return 0;
	if ((st.st_gid != IDMAP_HOST_BASE &&
	     chown(path, 0, IDMAP_HOST_BASE) < 0) ||
	    ((st.st_mode & 07777) != 0710 && chmod(path, 0710) < 0))
		return err_sys(err, "making %s private", path);
	return 0;
}

/* The cache directory: parents as mkdir -p makes them; the base kept as
 * it is when it exists (it may be the user's), else made private; its
 * rootfs/ always private. */
static int make_cache(char *cache, size_t len, struct error *err)
{
	const char *base = cache_base();
	char buf[256], *p;
	bool had_base;

	if (snprintf(buf, sizeof(buf), "%s", base) >= (int)sizeof(buf))
		return err_set(err, "%s: path too long", base);
	for (p = buf + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return err_sys(err, "creating %s", buf);
		*p = '/';
	}
	had_base = access(base, F_OK) == 0;
	if (private_dir(base, !had_base, err) < 0)
		return -1;
	cache_dir(cache, len);
	return private_dir(cache, true, err);
}

int tarball_unpack(const char *archive, const char *name, unsigned idshift,
		   char **dir, char **root, struct error *err)
{
	struct unpack u = {
		.archive = archive, .shift = idshift,
		.max_bytes = TARBALL_MAX_BYTES,
		.max_entries = TARBALL_MAX_ENTRIES,
	};
	char cache[256], tmpl[512];
	const char *env;
	int wfd, ret;

	*dir = *root = NULL;
	if ((env = getenv("VESSEL_UNPACK_MAX_BYTES")) && *env)
		u.max_bytes = strtoull(env, NULL, 0);
	if ((env = getenv("VESSEL_UNPACK_MAX_ENTRIES")) && *env)
		u.max_entries = strtoull(env, NULL, 0);
	if (make_cache(cache, sizeof(cache), err) < 0)
		return err_prefix(err, "unpacking the rootfs (set "
				  "VESSEL_CACHE_DIR to a directory of root's)");
	snprintf(tmpl, sizeof(tmpl), "%s/%d.%s.XXXXXX", cache, (int)getpid(),
		 name);
	/* The run's own directory, 0700 from the start: nobody but root
	 * (and with a user namespace, the container's root: group, search
	 * only) may reach the tree inside, whatever its modes say, so a
	 * setuid file in it cannot be run from the host. */
	if (!mkdtemp(tmpl))
		return err_sys(err, "unpacking the rootfs: creating a directory "
			       "in %s (set VESSEL_CACHE_DIR to a writable "
			       "directory)", cache);
	*dir = strdup(tmpl);
	if (!*dir)
		rmdir(tmpl);
	if (!*dir || asprintf(root, "%s/" TARBALL_ROOT, tmpl) < 0) {
		*root = NULL;
		return err_set(err, "out of memory");
	}
	u.dir = *root;
	wfd = open(*dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (wfd < 0)
		return err_sys(err, "opening %s", *dir);
	ret = 0;
	if (idshift && (fchown(wfd, 0, idshift) < 0 || fchmod(wfd, 0710) < 0))
		ret = err_sys(err, "preparing %s", *dir);
	if (!ret && (mkdirat(wfd, TARBALL_ROOT, 0755) < 0 ||
		     fchownat(wfd, TARBALL_ROOT, idshift, idshift,
			      AT_SYMLINK_NOFOLLOW) < 0))
		ret = err_sys(err, "creating %s", *root);
	if (!ret && (u.rootfd = openat(wfd, TARBALL_ROOT, O_PATH | O_DIRECTORY |
				       O_NOFOLLOW | O_CLOEXEC)) < 0)
		ret = err_sys(err, "opening %s", *root);
	close(wfd);
	if (ret < 0)
		return -1;
	if (idshift && idmap_check_reachable(*root, err) < 0) {
		close(u.rootfd);
		return -1;
	}
	ret = unpack(&u, err);
	close(u.rootfd);
	if (ret < 0)
		return err_prefix(err, "unpacking the rootfs");
	return 0;
}

void tarball_sweep(void)
{
	char cache[256];
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
		rmtree_at(dirfd(dir), d->d_name, &ignored);
	}
	closedir(dir);
}

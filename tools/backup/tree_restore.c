/* Recreating a container tree from its archive stream (tree_restore.h). */
#include "tree_restore.h"
#include "tree_format.h"

#include "../base/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define COPY_BUF (1u << 20)

struct dir_fix {
	char *path;
	uint32_t mode;
	struct timespec t;
};

struct rst {
	struct byte_src *src;
	int root;
	struct tree_entry e;
	struct progress *pg;
	struct tree_restore_stats *rs;
	struct dir_fix *dirs;
	size_t ndirs, capdirs;
	uint8_t *buf;
};

/* The parent directory of path (an O_PATH fd beneath root) and the last
 * component in *name. */
static int open_parent(int root, const char *path, const char **name,
		       struct error *err)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	const char *slash = strrchr(path, '/');
	char dir[TREE_PATH_MAX + 1];
	int fd;

	if (!slash) {
		*name = path;
		return fcntl(root, F_DUPFD_CLOEXEC, 0);
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*name = slash + 1;
	fd = (int)syscall(SYS_openat2, root, dir, &how, sizeof(how));
	if (fd < 0)
		return err_sys(err, "%.200s: its directory", path);
	return fd;
}

static int set_xattrs(struct rst *r, int fd, const char *lpath)
{
	for (unsigned i = 0; i < r->e.nx; i++) {
		const struct tree_xattr *x = &r->e.x[i];
		int rc = fd >= 0 ?
			fsetxattr(fd, x->name, r->e.pool + x->off, x->len, 0) :
			lsetxattr(lpath, x->name, r->e.pool + x->off, x->len, 0);

		if (rc < 0)
			r->rs->xattrs_failed++;
	}
	return 0;
}

static int add_dir_fix(struct rst *r, struct error *err)
{
	if (grow_one(&r->dirs, r->ndirs, &r->capdirs, sizeof(*r->dirs), 64,
		     err) < 0)
		return -1;
	r->dirs[r->ndirs].path = strdup(r->e.path);
	if (!r->dirs[r->ndirs].path)
		return err_set(err, "out of memory");
	r->dirs[r->ndirs].mode = r->e.mode & 07777;
	r->dirs[r->ndirs].t = (struct timespec){ r->e.mtime, r->e.mtime_ns };
	r->ndirs++;
	return 0;
}

static int file_data(struct rst *r, int fd, struct error *err)
{
	uint64_t left = r->e.size;

	while (left) {
		size_t n = left < COPY_BUF ? (size_t)left : COPY_BUF;

		if (r->src->read(r->src, r->buf, n, err) < 0)
			return -1;
		if (write(fd, r->buf, n) != (ssize_t)n)
			return err_sys(err, "writing %.200s", r->e.path);
		left -= n;
		r->pg->read += n;
		r->pg->done += n;
		progress_show(r->pg, false);
	}
	return 0;
}

/* Owner, then mode (chown clears set-id bits), xattrs, mtime. */
static int finish_fd(struct rst *r, int fd, struct error *err)
{
	struct timespec t[2] = { { 0, UTIME_OMIT }, { r->e.mtime, r->e.mtime_ns } };

	if (fchown(fd, r->e.uid, r->e.gid) < 0 ||
	    fchmod(fd, r->e.mode & 07777) < 0)
		return err_sys(err, "%.200s: owner or mode", r->e.path);
	set_xattrs(r, fd, NULL);
	if (futimens(fd, t) < 0)
		return err_sys(err, "%.200s: mtime", r->e.path);
	return 0;
}

static int one(struct rst *r, struct error *err)
{
	struct tree_entry *e = &r->e;
	struct timespec t[2] = { { 0, UTIME_OMIT }, { e->mtime, e->mtime_ns } };
	char lpath[64 + TREE_PATH_MAX];
	const char *name, *tname;
	int dir, fd, rc = -1;

	if (!strcmp(e->path, ".")) {
		if (fchown(r->root, e->uid, e->gid) < 0)
			return err_sys(err, "the top directory: owner");
		set_xattrs(r, r->root, NULL);
		return add_dir_fix(r, err);
	}
	dir = open_parent(r->root, e->path, &name, err);
	if (dir < 0)
		return -1;
	snprintf(lpath, sizeof(lpath), "/proc/self/fd/%d/%s", dir, name);
	switch (e->type) {
	case 'd':
		if (mkdirat(dir, name, 0700) < 0) {
			err_sys(err, "mkdir %.200s", e->path);
			break;
		}
		fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err_sys(err, "%.200s", e->path);
			break;
		}
		rc = fchown(fd, e->uid, e->gid) < 0 ?
		     err_sys(err, "%.200s: owner", e->path) : 0;
		set_xattrs(r, fd, NULL);
		close(fd);
		if (rc == 0)
			rc = add_dir_fix(r, err);
		break;
	case 'f':
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
		if (fd < 0) {
			err_sys(err, "creating %.200s", e->path);
			break;
		}
		rc = file_data(r, fd, err);
		if (rc == 0)
			rc = finish_fd(r, fd, err);
		close(fd);
		break;
	case 'l':
		if (symlinkat(e->target, dir, name) < 0 ||
		    fchownat(dir, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0) {
			err_sys(err, "symlink %.200s", e->path);
			break;
		}
		set_xattrs(r, -1, lpath);
		rc = utimensat(dir, name, t, AT_SYMLINK_NOFOLLOW) < 0 ?
		     err_sys(err, "%.200s: mtime", e->path) : 0;
		break;
	case 'h': {
		int tdir = open_parent(r->root, e->target, &tname, err);
		struct stat st;

		if (tdir < 0)
			break;
		if (fstatat(tdir, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			err_input(err, "%.200s: hard link to %.200s, not an earlier "
				  "file", e->path, e->target);
		else if (linkat(tdir, tname, dir, name, 0) < 0)
			err_sys(err, "link %.200s", e->path);
		else
			rc = 0;
		close(tdir);
		break;
	}
	case 'p':
		if (mkfifoat(dir, name, 0600) < 0 ||
		    fchownat(dir, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(dir, name, e->mode & 07777, 0) < 0 ||
		    utimensat(dir, name, t, AT_SYMLINK_NOFOLLOW) < 0)
			err_sys(err, "fifo %.200s", e->path);
		else
			rc = 0;
		break;
	default:                /* 'c', 'b': never made */
		if (strncmp(e->path, "dev/", 4) && !r->rs->first_device[0])
			snprintf(r->rs->first_device, sizeof(r->rs->first_device),
				 "/%.80s, %s %u:%u", e->path,
				 e->type == 'c' ? "char" : "block", e->major, e->minor);
		r->rs->devices_skipped++;
		rc = 0;
	}
	close(dir);
	return rc;
}

/* Directories last, deepest first: their modes (maybe read-only) and
 * mtimes (which the entries made inside them changed). */
static int fix_dirs(struct rst *r, struct error *err)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};

	for (size_t i = r->ndirs; i-- > 0;) {
		struct timespec t[2] = { { 0, UTIME_OMIT }, r->dirs[i].t };
		int fd = (int)syscall(SYS_openat2, r->root, r->dirs[i].path, &how,
				      sizeof(how));

		if (fd < 0)
			return err_sys(err, "%.200s", r->dirs[i].path);
		if (fchmod(fd, r->dirs[i].mode) < 0 || futimens(fd, t) < 0) {
			close(fd);
			return err_sys(err, "%.200s: mode or mtime", r->dirs[i].path);
		}
		close(fd);
	}
	return 0;
}

int tree_restore(struct byte_src *src, int rootfd, struct progress *pg,
		 struct tree_restore_stats *rs, struct error *err)
{
	struct rst r = { .src = src, .root = rootfd, .pg = pg, .rs = rs };
	int rc = -1;

	memset(rs, 0, sizeof(*rs));
	r.buf = malloc(COPY_BUF);
	if (!r.buf || tree_entry_init(&r.e, err) < 0) {
		free(r.buf);
		return err_set(err, "out of memory");
	}
	if (tree_get_header(src, err) < 0)
		goto out;
	for (;;) {
		if (tree_get_entry(src, &r.e, err) < 0)
			goto out;
		if (r.e.type == 'e')
			break;
		if (rs->entries++ == 0 && strcmp(r.e.path, ".")) {
			err_input(err, "tree archive: does not begin with \".\"");
			goto out;
		} else if (rs->entries > 1 && !strcmp(r.e.path, ".")) {
			err_input(err, "tree archive: \".\" twice");
			goto out;
		}
		if (one(&r, err) < 0)
			goto out;
	}
	rc = fix_dirs(&r, err);
out:
	for (size_t i = 0; i < r.ndirs; i++)
		free(r.dirs[i].path);
	free(r.dirs);
	tree_entry_free(&r.e);
	free(r.buf);
	return rc;
}

/* Walking a container tree into its archive stream (tree_backup.h). */
#include "tree_backup.h"
#include "tree_format.h"

#include "../base/grow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define TREE_DEPTH_MAX 256
#define COPY_BUF (1u << 20)

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct walk {
	struct stream_out out;
	struct tree_entry e;
	struct progress *pg;
	struct tree_stats *ts;
	dev_t dev;
	struct link_seen *links;
	size_t nlinks, caplinks;
	uint8_t *buf;
};

static void on_chunk(void *opaque, size_t len)
{
	struct walk *w = opaque;

	(void)len;
	w->pg->stored = w->out.store->st.bytes_new;
}

/* The xattrs of the entry at path (a /proc/self/fd/N/NAME path, not
 * followed). */
static int read_xattrs(struct walk *w, const char *path, struct error *err)
{
	char names[65536], *n;
	ssize_t len = llistxattr(path, names, sizeof(names));
	static uint8_t val[TREE_XATTR_VALUE];

	if (len < 0) {
		if (errno == ENOTSUP || errno == ENODATA)
			return 0;
		return err_sys(err, "%s: listing xattrs", w->e.path);
	}
	for (n = names; n < names + len; n += strlen(n) + 1) {
		ssize_t v = lgetxattr(path, n, val, sizeof(val));

		if (v < 0) {
			if (errno == ENODATA)
				continue;
			return err_sys(err, "%s: xattr %s", w->e.path, n);
		}
		if (tree_entry_xattr(&w->e, n, val, (size_t)v, err) < 0)
			return -1;
	}
	return 0;
}

static int add_link(struct walk *w, const struct stat *st, struct error *err)
{
	if (grow_one(&w->links, w->nlinks, &w->caplinks, sizeof(*w->links), 64,
		     err) < 0)
		return -1;
	w->links[w->nlinks].path = strdup(w->e.path);
	if (!w->links[w->nlinks].path)
		return err_set(err, "out of memory");
	w->links[w->nlinks].dev = st->st_dev;
	w->links[w->nlinks].ino = st->st_ino;
	w->nlinks++;
	return 0;
}

static const char *seen_link(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->nlinks; i++)
		if (w->links[i].ino == st->st_ino && w->links[i].dev == st->st_dev)
			return w->links[i].path;
	return NULL;
}

/* A regular file's data: exactly e.size bytes (zeros if it shrank). */
static int copy_data(struct walk *w, int dirfd, const char *name,
		     const struct stat *st, struct error *err)
{
	uint64_t left = w->e.size;
	struct stat now;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return err_sys(err, "%s", w->e.path);
	if (fstat(fd, &now) < 0 || now.st_ino != st->st_ino ||
	    !S_ISREG(now.st_mode)) {
		close(fd);
		return err_set(err, "%s changed while it was read", w->e.path);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (left) {
		size_t want = left < COPY_BUF ? left : COPY_BUF;
		ssize_t n = read(fd, w->buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return err_sys(err, "reading %s", w->e.path);
		}
		if (n == 0) {
			memset(w->buf, 0, want);
			n = (ssize_t)want;
		} else {
			w->pg->read += (uint64_t)n;
		}
		if (stream_write(&w->out, w->buf, (size_t)n, err) < 0) {
			close(fd);
			return -1;
		}
		left -= (uint64_t)n;
		w->pg->done += (uint64_t)n;
		progress_show(w->pg, false);
	}
	close(fd);
	return 0;
}

static int walk_dir(struct walk *w, int dirfd, char *path, size_t plen,
		    int depth, struct error *err);

/* One entry: name in dirfd; its archive path is already in path. */
static int one(struct walk *w, int dirfd, const char *name, char *path,
	       size_t plen, int depth, struct error *err)
{
	struct stat st;
	char proc[64 + 256];
	const char *link;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(err, "%s", path);
	}
	if (S_ISSOCK(st.st_mode)) {
		w->ts->skipped++;
		return 0;
	}
	snprintf(w->e.path, sizeof(w->e.path), "%s", path);
	w->e.mode = st.st_mode;
	w->e.uid = st.st_uid;
	w->e.gid = st.st_gid;
	w->e.mtime = st.st_mtim.tv_sec;
	w->e.mtime_ns = (uint32_t)st.st_mtim.tv_nsec;
	w->e.nx = 0;
	w->e.pool_used = 0;
	w->e.size = 0;
	w->e.target[0] = '\0';
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	if (S_ISREG(st.st_mode) && st.st_nlink > 1 && (link = seen_link(w, &st))) {
		w->e.type = 'h';
		snprintf(w->e.target, sizeof(w->e.target), "%s", link);
		w->ts->links++;
		return tree_put_entry(&w->out, &w->e, err);
	}
	if (read_xattrs(w, proc, err) < 0)
		return -1;
	if (S_ISREG(st.st_mode)) {
		w->e.type = 'f';
		w->e.size = (uint64_t)st.st_size;
		w->ts->files++;
		if ((st.st_nlink > 1 && add_link(w, &st, err) < 0) ||
		    tree_put_entry(&w->out, &w->e, err) < 0)
			return -1;
		return copy_data(w, dirfd, name, &st, err);
	}
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dirfd, name, w->e.target, TREE_PATH_MAX);

		if (n <= 0)
			return err_sys(err, "readlink %s", path);
		w->e.target[n] = '\0';
		w->e.type = 'l';
		return tree_put_entry(&w->out, &w->e, err);
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		w->e.type = S_ISCHR(st.st_mode) ? 'c' : 'b';
		w->e.major = major(st.st_rdev);
		w->e.minor = minor(st.st_rdev);
		w->ts->devices++;
		return tree_put_entry(&w->out, &w->e, err);
	}
	if (S_ISFIFO(st.st_mode)) {
		w->e.type = 'p';
		return tree_put_entry(&w->out, &w->e, err);
	}
	/* A directory. */
	w->e.type = 'd';
	w->ts->dirs++;
	if (tree_put_entry(&w->out, &w->e, err) < 0)
		return -1;
	if (st.st_dev != w->dev)
		return 0;               /* a mount point: kept empty */
	{
		int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				 O_CLOEXEC);
		int r;

		if (sub < 0)
			return err_sys(err, "%s", path);
		r = walk_dir(w, sub, path, plen, depth + 1, err);
		close(sub);
		return r;
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *w, int dirfd, char *path, size_t plen,
		    int depth, struct error *err)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int dfd, r = 0;
	DIR *d;

	if (depth > TREE_DEPTH_MAX)
		return err_set(err, "%s: deeper than %d directories", path,
			       TREE_DEPTH_MAX);
	dfd = dup(dirfd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return err_sys(err, "%s", path);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((r = grow_one(&names, n, &cap, sizeof(*names), 64, err)) < 0)
			break;
		if (!(names[n] = strdup(de->d_name))) {
			r = err_set(err, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0 && n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; r == 0 && i < n; i++) {
		size_t k = strlen(names[i]);

		if (plen + (plen ? 1 : 0) + k > TREE_PATH_MAX) {
			r = err_set(err, "%s/%s: path too long", path, names[i]);
			break;
		}
		if (plen)
			path[plen] = '/';
		memcpy(path + plen + (plen ? 1 : 0), names[i], k + 1);
		r = one(w, dirfd, names[i], path, plen + (plen ? 1 : 0) + k, depth,
			err);
		path[plen] = '\0';
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int tree_backup(struct store *s, const char *dir, struct index *ix,
		struct progress *pg, struct tree_stats *ts, struct error *err)
{
	struct walk w = { .pg = pg, .ts = ts };
	char path[TREE_PATH_MAX + 1] = "";
	char proc[64];
	struct stat st;
	int fd, r = -1;

	memset(ts, 0, sizeof(*ts));
	index_init(ix, INDEX_TREE, 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "%s", dir);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_sys(err, "%s", dir);
	}
	w.dev = st.st_dev;
	w.buf = malloc(COPY_BUF);
	if (!w.buf || tree_entry_init(&w.e, err) < 0 ||
	    stream_out_init(&w.out, s, ix, err) < 0) {
		if (!w.buf)
			err_set(err, "out of memory");
		goto out;
	}
	w.out.on_chunk = on_chunk;
	w.out.opaque = &w;
	/* The top directory itself, as ".". */
	w.e.type = 'd';
	snprintf(w.e.path, sizeof(w.e.path), ".");
	w.e.mode = st.st_mode;
	w.e.uid = st.st_uid;
	w.e.gid = st.st_gid;
	w.e.mtime = st.st_mtim.tv_sec;
	w.e.mtime_ns = (uint32_t)st.st_mtim.tv_nsec;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (tree_put_header(&w.out, err) < 0 || read_xattrs(&w, proc, err) < 0 ||
	    tree_put_entry(&w.out, &w.e, err) < 0 ||
	    walk_dir(&w, fd, path, 0, 0, err) < 0 ||
	    tree_put_end(&w.out, err) < 0 || stream_finish(&w.out, err) < 0)
		goto out;
	pg->stored = s->st.bytes_new;
	r = 0;
out:
	for (size_t i = 0; i < w.nlinks; i++)
		free(w.links[i].path);
	free(w.links);
	stream_out_free(&w.out);
	tree_entry_free(&w.e);
	free(w.buf);
	close(fd);
	return r;
}

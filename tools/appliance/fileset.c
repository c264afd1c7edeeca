/* The image's file list (fileset.h), written through the cpio writer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio.h"
#include "fileset.h"

#define TREE_DEPTH_MAX 256

/* Relative, no empty, "." or ".." components. */
static bool clean_path(const char *p)
{
	const char *seg = p;

	if (!*p || *p == '/')
		return false;
	for (const char *c = p; ; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		size_t n = (size_t)(c - seg);

		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (*c == '\0')
			return true;
		seg = c + 1;
	}
}

static struct fs_entry *add(struct fileset *fs, const char *path,
			    enum fs_kind kind, uint32_t mode, struct error *err)
{
	struct fs_entry *e;

	if (!clean_path(path)) {
		err_set(err, "image path '%s' is not a clean relative path", path);
		return NULL;
	}
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 64;

		e = realloc(fs->e, cap * sizeof(*e));
		if (!e) {
			err_set(err, "out of memory");
			return NULL;
		}
		fs->e = e;
		fs->cap = cap;
	}
	e = &fs->e[fs->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	if (!e->path) {
		err_set(err, "out of memory");
		return NULL;
	}
	e->kind = kind;
	e->mode = mode;
	fs->n++;
	return e;
}

int fileset_add_dir(struct fileset *fs, const char *path, uint32_t perm,
		    struct error *err)
{
	return add(fs, path, FSE_DIR, S_IFDIR | (perm & 07777), err) ? 0 : -1;
}

int fileset_add_file(struct fileset *fs, const char *path, const char *source,
		     uint32_t perm, struct error *err)
{
	struct fs_entry *e = add(fs, path, FSE_FILE, S_IFREG | (perm & 07777), err);

	if (!e)
		return -1;
	e->source = strdup(source);
	return e->source ? 0 : err_set(err, "out of memory");
}

int fileset_add_data(struct fileset *fs, const char *path, const void *data,
		     size_t len, uint32_t perm, struct error *err)
{
	struct fs_entry *e = add(fs, path, FSE_DATA, S_IFREG | (perm & 07777), err);

	if (!e)
		return -1;
	e->data = malloc(len ? len : 1);
	if (!e->data)
		return err_set(err, "out of memory");
	memcpy(e->data, data, len);
	e->len = len;
	return 0;
}

int fileset_add_symlink(struct fileset *fs, const char *path,
			const char *target, struct error *err)
{
	struct fs_entry *e = add(fs, path, FSE_SYMLINK, S_IFLNK | 0777, err);

	if (!e)
		return -1;
	e->source = strdup(target);
	return e->source ? 0 : err_set(err, "out of memory");
}

int fileset_add_node(struct fileset *fs, const char *path, uint32_t mode,
		     dev_t rdev, struct error *err)
{
	struct fs_entry *e;

	if (!S_ISCHR(mode) && !S_ISBLK(mode) && !S_ISFIFO(mode))
		return err_set(err, "%s: not a device node or fifo", path);
	e = add(fs, path, FSE_NODE, mode & (S_IFMT | 07777), err);
	if (!e)
		return -1;
	e->rdev = rdev;
	return 0;
}

static int add_tree(struct fileset *fs, const char *path, const char *source,
		    int depth, struct error *err)
{
	struct dirent **names;
	struct stat st;
	int n, r = 0;

	if (depth > TREE_DEPTH_MAX)
		return err_input(err, "%s: directories nested too deep", source);
	/* The top may be a symlink to the tree; inside, links stay links. */
	if ((depth ? lstat(source, &st) : stat(source, &st)) < 0) {
		err_sys(err, "%s", source);
		err->input = 1;
		return -1;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return fileset_add_file(fs, path, source, st.st_mode, err);
	case S_IFLNK: {
		char target[4096];
		ssize_t len = readlink(source, target, sizeof(target) - 1);

		if (len < 0)
			return err_sys(err, "readlink %s", source);
		target[len] = '\0';
		return fileset_add_symlink(fs, path, target, err);
	}
	case S_IFCHR: case S_IFBLK: case S_IFIFO:
		return fileset_add_node(fs, path, st.st_mode, st.st_rdev, err);
	case S_IFSOCK:
		return 0;
	case S_IFDIR:
		break;
	default:
		return err_input(err, "%s: unsupported file type", source);
	}
	if (fileset_add_dir(fs, path, st.st_mode, err) < 0)
		return -1;
	n = scandir(source, &names, NULL, alphasort);
	if (n < 0) {
		err_sys(err, "%s", source);
		err->input = 1;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *d = names[i]->d_name;
		char *sub_path = NULL, *sub_src = NULL;

		if (r == 0 && strcmp(d, ".") && strcmp(d, "..")) {
			if (asprintf(&sub_path, "%s/%s", path, d) < 0)
				sub_path = NULL;
			if (asprintf(&sub_src, "%s/%s", source, d) < 0)
				sub_src = NULL;
			if (!sub_path || !sub_src)
				r = err_set(err, "out of memory");
			else
				r = add_tree(fs, sub_path, sub_src, depth + 1, err);
		}
		free(sub_path);
		free(sub_src);
		free(names[i]);
	}
	free(names);
	return r;
}

int fileset_add_tree(struct fileset *fs, const char *path, const char *source,
		     struct error *err)
{
	return add_tree(fs, path, source, 0, err);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct fs_entry *)a)->path,
		      ((const struct fs_entry *)b)->path);
}

static bool same(const struct fs_entry *a, const struct fs_entry *b)
{
	if (a->kind != b->kind || a->mode != b->mode || a->rdev != b->rdev ||
	    a->len != b->len)
		return false;
	if ((a->source || b->source) &&
	    (!a->source || !b->source || strcmp(a->source, b->source)))
		return false;
	return !a->len || !memcmp(a->data, b->data, a->len);
}

static void entry_free(struct fs_entry *e)
{
	free(e->path);
	free(e->source);
	free(e->data);
}

/* Add every missing parent directory; sort; drop exact duplicates. */
static int normalize(struct fileset *fs, struct error *err)
{
	size_t n = fs->n, out = 0;

	for (size_t i = 0; i < n; i++) {
		char *parent = strdup(fs->e[i].path), *slash;

		if (!parent)
			return err_set(err, "out of memory");
		while ((slash = strrchr(parent, '/'))) {
			*slash = '\0';
			if (fileset_add_dir(fs, parent, 0755, err) < 0) {
				free(parent);
				return -1;
			}
		}
		free(parent);
	}
	qsort(fs->e, fs->n, sizeof(*fs->e), cmp_entry);
	for (size_t i = 0; i < fs->n; i++) {
		struct fs_entry *e = &fs->e[i];

		if (out && !strcmp(fs->e[out - 1].path, e->path)) {
			struct fs_entry *prev = &fs->e[out - 1];

			/* An implied parent directory gives way to an explicit
			 * one; anything else must agree exactly. */
			if (prev->kind == FSE_DIR && e->kind == FSE_DIR) {
				if (e->mode != (S_IFDIR | 0755))
					prev->mode = e->mode;
			} else if (!same(prev, e)) {
				return err_input(err, "the image would hold two "
						 "different things at /%s",
						 e->path);
			}
			entry_free(e);
			continue;
		}
		fs->e[out++] = *e;
	}
	fs->n = out;
	/* A path under a non-directory cannot be. */
	for (size_t i = 1; i < fs->n; i++) {
		const struct fs_entry *p = &fs->e[i - 1];
		size_t len = strlen(p->path);

		if (p->kind != FSE_DIR && !strncmp(fs->e[i].path, p->path, len) &&
		    fs->e[i].path[len] == '/')
			return err_input(err, "/%s is under /%s, which is not a "
					 "directory", fs->e[i].path, p->path);
	}
	return 0;
}

static int write_file(struct cpio_writer *w, const struct fs_entry *e,
		      struct error *err)
{
	struct stat st;
	int fd = open(e->source, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err_sys(err, "%s", e->source);
		err->input = 1;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_input(err, "%s: not a regular file", e->source);
	}
	r = cpio_add_fd(w, e->path, e->mode, fd, (uint64_t)st.st_size, err);
	close(fd);
	return r;
}

int fileset_write_cpio(struct fileset *fs, int fd, uint32_t mtime,
		       uint64_t *bytes, struct error *err)
{
	struct cpio_writer *w;
	int r = 0;

	if (normalize(fs, err) < 0)
		return -1;
	w = malloc(sizeof(*w));
	if (!w)
		return err_set(err, "out of memory");
	if (cpio_open(w, fd, mtime, err) < 0) {
		free(w);
		return -1;
	}
	for (size_t i = 0; i < fs->n && r == 0; i++) {
		const struct fs_entry *e = &fs->e[i];

		switch (e->kind) {
		case FSE_FILE:
			r = write_file(w, e, err);
			break;
		case FSE_DATA:
			r = cpio_add(w, e->path, e->mode, e->data, e->len, 0, err);
			break;
		case FSE_SYMLINK:
			r = cpio_add(w, e->path, e->mode, e->source,
				     strlen(e->source), 0, err);
			break;
		case FSE_DIR:
			r = cpio_add(w, e->path, e->mode, NULL, 0, 0, err);
			break;
		case FSE_NODE:
			r = cpio_add(w, e->path, e->mode, NULL, 0, e->rdev, err);
			break;
		}
	}
	if (r == 0)
		r = cpio_finish(w, err);
	if (r == 0 && bytes)
		*bytes = w->in_bytes;
	cpio_abort(w);
	free(w);
	return r;
}

void fileset_free(struct fileset *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		entry_free(&fs->e[i]);
	free(fs->e);
	memset(fs, 0, sizeof(*fs));
}

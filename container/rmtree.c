#include "rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One directory on the way down: how to recognise it again from below,
 * and its name in its parent. */
struct level {
	dev_t dev;
	ino_t ino;
	char *name;
};

struct walk {
	struct level *lv;
	size_t n, cap;
	dev_t dev;		/* the tree's filesystem */
	const char *top;	/* for messages */
};

static int push(struct walk *w, const struct stat *st, const char *name,
		struct error *err)
{
	struct level *nl;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		nl = realloc(w->lv, w->cap * sizeof(*nl));
		if (!nl)
			return err_set(err, "out of memory");
		w->lv = nl;
	}
	w->lv[w->n].name = strdup(name);
	if (!w->lv[w->n].name)
		return err_set(err, "out of memory");
	w->lv[w->n].dev = st->st_dev;
	w->lv[w->n].ino = st->st_ino;
	w->n++;
	return 0;
}

static int open_dir_at(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		      O_CLOEXEC);
}

/* Empty the directory fd: remove what is not a directory; a directory
 * comes back in *sub (malloc'd) to descend into, NULL when fd is empty. */
static int scan(struct walk *w, int fd, char **sub, struct stat *subst,
		struct error *err)
{
	struct dirent *de;
	int dfd = dup(fd), ret = 0;
	DIR *d;

	*sub = NULL;
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return err_sys(err, "removing %s: reading a directory", w->top);
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, subst, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			ret = err_sys(err, "removing %s: %s", w->top,
				      de->d_name);
			break;
		}
		if (S_ISDIR(subst->st_mode)) {
			if (subst->st_dev != w->dev) {
				ret = err_set(err, "removing %s: %s is a mount "
					      "point", w->top, de->d_name);
				break;
			}
			*sub = strdup(de->d_name);
			if (!*sub)
				ret = err_set(err, "out of memory");
			break;
		}
		if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			ret = err_sys(err, "removing %s: %s", w->top,
				      de->d_name);
			break;
		}
	}
	if (!ret && !de && errno)
		ret = err_sys(err, "removing %s: reading a directory", w->top);
	closedir(d);
	return ret;
}

/* From the directory fd (level w->n - 1) to its parent, checked. */
static int climb(struct walk *w, int fd, struct error *err)
{
	struct level *lv = &w->lv[w->n - 2];
	struct stat st;
	int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (up < 0)
		return err_sys(err, "removing %s: opening ..", w->top);
	if (fstat(up, &st) < 0 || st.st_dev != lv->dev || st.st_ino != lv->ino) {
		close(up);
		return err_set(err, "removing %s: the tree changed while it "
			       "was being removed", w->top);
	}
	return up;
}

/* Remove everything below the directory fd (level 0 of w), then it. */
static int remove_below(struct walk *w, int parent, int fd, struct error *err)
{
	struct stat st;
	char *sub;
	int next, ret = 0;

	for (;;) {
		if (scan(w, fd, &sub, &st, err) < 0) {
			ret = -1;
			break;
		}
		if (sub) {
			next = open_dir_at(fd, sub);
			if (next < 0 || push(w, &st, sub, err) < 0) {
				if (next < 0)
					err_sys(err, "removing %s: %s", w->top,
						sub);
				else
					close(next);
				free(sub);
				ret = -1;
				break;
			}
			free(sub);
			/* What was opened must be what was looked at. */
			if (fstat(next, &st) < 0 ||
			    st.st_ino != w->lv[w->n - 1].ino ||
			    st.st_dev != w->lv[w->n - 1].dev) {
				close(next);
				ret = err_set(err, "removing %s: the tree "
					      "changed while it was being "
					      "removed", w->top);
				break;
			}
			close(fd);
			fd = next;
			continue;
		}
		/* fd is empty: remove it from its parent. */
		if (w->n == 1) {
			if (unlinkat(parent, w->lv[0].name, AT_REMOVEDIR) < 0 &&
			    errno != ENOENT)
				ret = err_sys(err, "removing %s", w->top);
			break;
		}
		next = climb(w, fd, err);
		if (next < 0) {
			ret = -1;
			break;
		}
		close(fd);
		fd = next;
		w->n--;
		if (unlinkat(fd, w->lv[w->n].name, AT_REMOVEDIR) < 0 &&
		    errno != ENOENT) {
			ret = err_sys(err, "removing %s: %s", w->top,
				      w->lv[w->n].name);
			free(w->lv[w->n].name);
			break;
		}
		free(w->lv[w->n].name);
	}
	close(fd);
	return ret;
}

static int rmtree_named(int dirfd, const char *name, const char *top,
			struct error *err)
{
	struct walk w = { .top = top };
	struct stat st;
	int fd, ret;
	size_t i;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(err, "removing %s", top);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return err_sys(err, "removing %s", top);
		return 0;
	}
	fd = open_dir_at(dirfd, name);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = err_sys(err, "removing %s", top);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (push(&w, &st, name, err) < 0) {
		close(fd);
		return -1;
	}
	w.dev = st.st_dev;
	ret = remove_below(&w, dirfd, fd, err);
	for (i = 0; i < w.n; i++)
		free(w.lv[i].name);
	free(w.lv);
	return ret;
}

int rmtree_at(int dirfd, const char *name, struct error *err)
{
	return rmtree_named(dirfd, name, name, err);
}

int rmtree(const char *path, struct error *err)
{
	char *copy = strdup(path), *slash;
	const char *name;
	int dfd, ret;

	if (!copy)
		return err_set(err, "out of memory");
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		name = slash + 1;
		dfd = open(slash == copy ? "/" : copy, O_RDONLY | O_DIRECTORY |
			   O_CLOEXEC);
	} else {
		name = copy;
		dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0) {
		ret = errno == ENOENT ? 0 : err_sys(err, "removing %s", path);
		free(copy);
		return ret;
	}
	ret = rmtree_named(dfd, name, path, err);
	close(dfd);
	free(copy);
	return ret;
}

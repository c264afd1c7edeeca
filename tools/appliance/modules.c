/* modules.dep and modules.builtin (modules.h). Both files come from the
 * kernel's module directory: their paths are checked before they are
 * used as paths in the image, and the dependency graph is walked with
 * cycle detection. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modules.h"

#define MODFILE_MAX (64u << 20)  /* a modules.dep is a few hundred KiB */

char *kmod_name(const char *s)
{
	const char *base = strrchr(s, '/');
	char *name, *ko;

	name = strdup(base ? base + 1 : s);
	if (!name)
		return NULL;
	ko = strstr(name, ".ko");
	if (ko && (ko[3] == '\0' || ko[3] == '.'))
		*ko = '\0';
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
	return name;
}

/* A module path from an index: relative, no empty, "." or ".." parts, no
 * control characters or spaces, ends in .ko or .ko.SUFFIX. */
static bool path_ok(const char *p)
{
	const char *seg = p, *ko;

	if (!*p || *p == '/' || strlen(p) > 1024)
		return false;
	for (const char *c = p; ; c++) {
		if (*c == '/' || *c == '\0') {
			size_t n = (size_t)(c - seg);

			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (*c == '\0')
				break;
			seg = c + 1;
		} else if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			return false;
		}
	}
	ko = strstr(seg, ".ko");
	return ko && ko != seg && (ko[3] == '\0' || ko[3] == '.');
}

static ssize_t find_path(const struct moddb *db, const char *path, size_t len)
{
	for (size_t i = 0; i < db->nmods; i++)
		if (strlen(db->mods[i].path) == len &&
		    !memcmp(db->mods[i].path, path, len))
			return (ssize_t)i;
	return -1;
}

static ssize_t find_name(const struct moddb *db, const char *name)
{
	for (size_t i = 0; i < db->nmods; i++)
		if (!strcmp(db->mods[i].name, name))
			return (ssize_t)i;
	return -1;
}

/* Next line of text: [*line, *eol); returns false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos,
		      const char **line, size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return false;
	*line = text + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*n = nl ? (size_t)(nl - *line) : len - *pos;
	*pos += *n + 1;
	return true;
}

static char *dup_word(const char *s, size_t n)
{
	char *w = malloc(n + 1);

	if (w) {
		memcpy(w, s, n);
		w[n] = '\0';
	}
	return w;
}

static int add_mod(struct moddb *db, char *path, struct error *err)
{
	struct kmod *m = realloc(db->mods, (db->nmods + 1) * sizeof(*m));

	if (!m) {
		free(path);
		return err_set(err, "out of memory");
	}
	db->mods = m;
	m = &db->mods[db->nmods];
	memset(m, 0, sizeof(*m));
	m->path = path;
	m->name = kmod_name(path);
	if (!m->name) {
		free(path);
		return err_set(err, "out of memory");
	}
	db->nmods++;
	return 0;
}

int moddep_parse(struct moddb *db, const char *text, size_t len,
		 struct error *err)
{
	size_t pos = 0, lineno = 0, first = db->nmods, n;
	const char *line;

	/* Pass 1: every module line's own path. */
	while (next_line(text, len, &pos, &line, &n)) {
		const char *colon = memchr(line, ':', n);
		char *path;

		lineno++;
		if (n == 0 || line[0] == '#')
			continue;
		if (!colon)
			return err_input(err, "modules.dep:%zu: no ':' after the "
					 "module path", lineno);
		path = dup_word(line, (size_t)(colon - line));
		if (!path)
			return err_set(err, "out of memory");
		if (strlen(path) != (size_t)(colon - line) || !path_ok(path)) {
			free(path);
			return err_input(err, "modules.dep:%zu: bad module path",
					 lineno);
		}
		if (find_path(db, path, strlen(path)) >= 0) {
			free(path);
			return err_input(err, "modules.dep:%zu: module listed twice",
					 lineno);
		}
		if (add_mod(db, path, err) < 0)
			return -1;
	}
	/* Pass 2: the dependencies, as indexes. */
	pos = 0;
	lineno = 0;
	size_t idx = first;
	while (next_line(text, len, &pos, &line, &n)) {
		const char *p, *end = line + n;
		struct kmod *m;

		lineno++;
		if (n == 0 || line[0] == '#')
			continue;
		m = &db->mods[idx++];
		p = (const char *)memchr(line, ':', n) + 1;
		for (;;) {
			const char *w;
			ssize_t d;
			size_t *deps;

			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p >= end)
				break;
			w = p;
			while (p < end && *p != ' ' && *p != '\t')
				p++;
			d = find_path(db, w, (size_t)(p - w));
			if (d < 0)
				return err_input(err, "modules.dep:%zu: dependency "
						 "'%.*s' has no line of its own",
						 lineno, (int)((p - w) > 200 ? 200 : (p - w)), w);
			deps = realloc(m->deps, (m->ndeps + 1) * sizeof(*deps));
			if (!deps)
				return err_set(err, "out of memory");
			m->deps = deps;
			m->deps[m->ndeps++] = (size_t)d;
		}
	}
	return 0;
}

int modbuiltin_parse(struct moddb *db, const char *text, size_t len,
		     struct error *err)
{
	size_t pos = 0, lineno = 0, n;
	const char *line;

	while (next_line(text, len, &pos, &line, &n)) {
		char *path, *name, **b;

		lineno++;
		if (n == 0 || line[0] == '#')
			continue;
		path = dup_word(line, n);
		if (!path)
			return err_set(err, "out of memory");
		if (strlen(path) != n || !path_ok(path)) {
			free(path);
			return err_input(err, "modules.builtin:%zu: bad module path",
					 lineno);
		}
		name = kmod_name(path);
		free(path);
		b = name ? realloc(db->builtin, (db->nbuiltin + 1) * sizeof(*b)) : NULL;
		if (!b) {
			free(name);
			return err_set(err, "out of memory");
		}
		db->builtin = b;
		db->builtin[db->nbuiltin++] = name;
	}
	return 0;
}

/* Read a whole (small) file; *text NULL and 0 when it does not exist. */
static int read_small(const char *path, bool optional, char **text,
		      size_t *len, struct error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	*text = NULL;
	*len = 0;
	if (fd < 0) {
		if (optional && errno == ENOENT)
			return 0;
		err_sys(err, "%s", path);
		err->input = 1;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MODFILE_MAX) {
		close(fd);
		return err_input(err, "%s: not a regular file of at most %u MiB",
				 path, MODFILE_MAX >> 20);
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text) {
		close(fd);
		return err_set(err, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *text + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return 0;
}

int moddb_load(struct moddb *db, const char *moddir, struct error *err)
{
	char path[4096];
	char *text;
	size_t len;
	int r;

	memset(db, 0, sizeof(*db));
	snprintf(path, sizeof(path), "%s/modules.dep", moddir);
	if (read_small(path, false, &text, &len, err) < 0)
		return -1;
	r = moddep_parse(db, text, len, err);
	free(text);
	if (r < 0)
		return err_prefix(err, "%s", moddir);
	snprintf(path, sizeof(path), "%s/modules.builtin", moddir);
	if (read_small(path, true, &text, &len, err) < 0)
		return -1;
	r = modbuiltin_parse(db, text, len, err);
	free(text);
	if (r < 0)
		return err_prefix(err, "%s", moddir);
	return 0;
}

struct walk {
	const struct moddb *db;
	unsigned char *state;   /* 0 new, 1 on the stack, 2 done */
	char **paths;
	size_t npaths;
};

static int visit(struct walk *w, size_t i, unsigned depth, struct error *err)
{
	const struct kmod *m = &w->db->mods[i];

	if (w->state[i] == 2)
		return 0;
	if (w->state[i] == 1 || depth > 4096)
		return err_input(err, "modules.dep: dependency cycle through %s",
				 m->path);
	w->state[i] = 1;
	for (size_t d = 0; d < m->ndeps; d++)
		if (visit(w, m->deps[d], depth + 1, err) < 0)
			return -1;
	w->state[i] = 2;
	w->paths[w->npaths] = strdup(m->path);
	if (!w->paths[w->npaths])
		return err_set(err, "out of memory");
	w->npaths++;
	return 0;
}

static bool is_builtin(const struct moddb *db, const char *name)
{
	for (size_t i = 0; i < db->nbuiltin; i++)
		if (!strcmp(db->builtin[i], name))
			return true;
	return false;
}

int moddb_resolve(const struct moddb *db, const char *const *wanted,
		  size_t nwanted, const char *kernel, char ***paths,
		  size_t *npaths, struct error *err)
{
	struct walk w = { .db = db };
	int r = 0;

	*paths = NULL;
	*npaths = 0;
	w.state = calloc(db->nmods + 1, 1);
	w.paths = calloc(db->nmods + 1, sizeof(char *));
	if (!w.state || !w.paths) {
		r = err_set(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nwanted && r == 0; i++) {
		char *name = kmod_name(wanted[i]);
		ssize_t m;

		if (!name) {
			r = err_set(err, "out of memory");
			break;
		}
		m = find_name(db, name);
		if (m >= 0)
			r = visit(&w, (size_t)m, 0, err);
		else if (!is_builtin(db, name))
			r = err_input(err, "kernel %s has no module %s (neither "
				      "in modules.dep nor in modules.builtin)",
				      kernel, name);
		free(name);
	}
out:
	free(w.state);
	if (r < 0) {
		for (size_t i = 0; i < w.npaths; i++)
			free(w.paths[i]);
		free(w.paths);
		return -1;
	}
	*paths = w.paths;
	*npaths = w.npaths;
	return 0;
}

void moddb_free(struct moddb *db)
{
	for (size_t i = 0; i < db->nmods; i++) {
		free(db->mods[i].name);
		free(db->mods[i].path);
		free(db->mods[i].deps);
	}
	for (size_t i = 0; i < db->nbuiltin; i++)
		free(db->builtin[i]);
	free(db->mods);
	free(db->builtin);
	memset(db, 0, sizeof(*db));
}

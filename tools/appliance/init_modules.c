/* Kernel modules: /lib/modules/load-order (written by `vessel image
 * build`, dependencies first) loaded with finit_module(2). */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define LOAD_ORDER_MAX (1 << 20)	/* bytes of load-order we read */
#define MODULE_PATH_MAX 512

void modules_free(struct module_list *ml)
{
	for (size_t i = 0; i < ml->n; i++)
		free(ml->paths[i]);
	free(ml->paths);
	ml->paths = NULL;
	ml->n = 0;
}

static bool has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return true;
	return false;
}

static int add_path(struct module_list *ml, const char *modroot,
		    const char *line, size_t lineno, struct error *err)
{
	char **nv;
	char *p;

	if (has_dotdot(line))
		return err_input(err, "load-order:%zu: '..' in '%s'", lineno,
				 line);
	if (asprintf(&p, "%s%s%s", line[0] == '/' ? "" : modroot,
		     line[0] == '/' ? "" : "/", line) < 0)
		return err_set(err, "out of memory");
	nv = realloc(ml->paths, (ml->n + 1) * sizeof(*nv));
	if (!nv) {
		free(p);
		return err_set(err, "out of memory");
	}
	ml->paths = nv;
	ml->paths[ml->n++] = p;
	return 0;
}

int modules_parse(const char *text, size_t len, const char *modroot,
		  struct module_list *ml, struct error *err)
{
	char line[MODULE_PATH_MAX];
	size_t lineno = 0, i = 0;

	memset(ml, 0, sizeof(*ml));
	while (i < len) {
		size_t start = i, n, a, b;

		while (i < len && text[i] != '\n')
			i++;
		n = i - start;
		i++;		/* past the newline */
		lineno++;
		a = start;
		b = start + n;
		while (a < b && (text[a] == ' ' || text[a] == '\t'))
			a++;
		while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' ||
				 text[b - 1] == '\r'))
			b--;
		if (a == b || text[a] == '#')
			continue;
		if (b - a >= sizeof(line)) {
			modules_free(ml);
			return err_input(err, "load-order:%zu: line too long",
					 lineno);
		}
		memcpy(line, text + a, b - a);
		line[b - a] = '\0';
		if (memchr(line, '\0', b - a)) {
			modules_free(ml);
			return err_input(err, "load-order:%zu: NUL byte", lineno);
		}
		if (add_path(ml, modroot, line, lineno, err) < 0) {
			modules_free(ml);
			return -1;
		}
	}
	return 0;
}

static bool compressed(const char *p)
{
	size_t n = strlen(p);

	return (n > 3 && !strcmp(p + n - 3, ".xz")) ||
	       (n > 4 && !strcmp(p + n - 4, ".zst")) ||
	       (n > 3 && !strcmp(p + n - 3, ".gz"));
}

size_t modules_load(const struct module_list *ml, size_t *loaded,
		    size_t *absent)
{
	size_t failed = 0;

	*loaded = 0;
	*absent = 0;
	for (size_t i = 0; i < ml->n; i++) {
		const char *p = ml->paths[i];
		int fd = open(p, O_RDONLY | O_CLOEXEC), r;

		if (fd < 0) {
			init_log("module %s: %s", p, strerror(errno));
			failed++;
			continue;
		}
		r = syscall(SYS_finit_module, fd, "",
			    compressed(p) ? MODULE_INIT_COMPRESSED_FILE : 0);
		if (r == 0 || errno == EEXIST) {
			(*loaded)++;
		} else if (errno == ENODEV || errno == EOPNOTSUPP ||
			   errno == ENXIO) {
			/* Not for this machine: kvm_intel on AMD, ... */
			(*absent)++;
			init_log("module %s: %s (no hardware for it)", p,
				 strerror(errno));
		} else {
			init_log("module %s: %s", p, strerror(errno));
			failed++;
		}
		close(fd);
	}
	return failed;
}

/* /lib/modules/KVER for the running kernel. */
static void module_root(char *buf, size_t len)
{
	struct utsname u;

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	snprintf(buf, len, "/lib/modules/%s", u.release);
}

static int read_small(const char *path, char **text, size_t *len,
		      struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf = NULL, *nb;
	ssize_t r;

	if (fd < 0)
		return err_sys(err, "%s", path);
	for (;;) {
		if (n == cap || !buf) {
			if (buf)
				cap *= 2;
			if (cap > LOAD_ORDER_MAX) {
				free(buf);
				close(fd);
				return err_input(err, "%s: too large", path);
			}
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				close(fd);
				return err_set(err, "out of memory");
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return err_sys(err, "%s", path);
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	*text = buf;
	*len = n;
	return 0;
}

/* A module is in when /sys/module/NAME exists ('-' is '_' there). */
static bool module_present(const char *name)
{
	char path[128];
	struct stat st;
	size_t n;

	n = (size_t)snprintf(path, sizeof(path), "/sys/module/%s", name);
	if (n >= sizeof(path))
		return false;
	for (char *c = path + strlen("/sys/module/"); *c; c++)
		if (*c == '-')
			*c = '_';
	return stat(path, &st) == 0;
}

int init_modules(const struct host_config *hc, struct error *err)
{
	struct module_list ml;
	char root[300], *text = NULL;
	size_t len = 0, loaded, absent, failed;

	module_root(root, sizeof(root));
	if (read_small(INIT_LOAD_ORDER, &text, &len, err) < 0) {
		if (err->errnum != ENOENT)
			return -1;
		init_log("modules: no %s", INIT_LOAD_ORDER);
		len = 0;
	}
	if (modules_parse(text ? text : "", len, root, &ml, err) < 0) {
		free(text);
		return -1;
	}
	free(text);
	failed = modules_load(&ml, &loaded, &absent);
	init_log("modules: %zu loaded, %zu without hardware, %zu failed",
		 loaded, absent, failed);
	modules_free(&ml);
	for (size_t i = 0; i < hc->nmodules; i++)
		if (!module_present(hc->modules[i]))
			init_log("module %s: not loaded (neither in %s nor "
				 "built in)", hc->modules[i], INIT_LOAD_ORDER);
	return 0;
}

/* A directory's guests, started in order and stopped in reverse (see
 * guest_set.h): the logic of `vessel up`, `vessel down` and `vessel init`. */
#include "guest_set.h"
#include "manage.h"
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void guest_set_free(struct guest_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		config_free(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

bool guest_set_is_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' &&
	       ((n > 5 && !strcmp(name + n - 5, ".yaml")) ||
		(n > 4 && !strcmp(name + n - 4, ".yml")));
}

static int by_order(const void *a, const void *b)
{
	const struct guest_config *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Keep cfg in s, unless another file defines the same name. */
static int add(struct guest_set *s, struct guest_config *cfg,
	       guest_report_fn *report)
{
	struct guest_config *nv;
	char msg[1024];

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].name, cfg->name))
			continue;
		snprintf(msg, sizeof(msg), "%s and %s both define %s",
			 s->v[i].path, cfg->path, cfg->name);
		report(GUEST_FAILED, NULL, 0, msg);
		config_free(cfg);
		return -1;
	}
	nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv) {
		report(GUEST_FAILED, cfg->name, 0, "out of memory");
		config_free(cfg);
		return -1;
	}
	s->v = nv;
	s->v[s->n++] = *cfg;
	return 0;
}

int guest_set_load(const char *dir, bool all, struct guest_set *s,
		   guest_report_fn *report)
{
	struct guest_config cfg;
	struct error err;
	char path[4096], msg[1100];
	struct dirent *de;
	struct stat st;
	int bad = 0;
	DIR *dp;

	memset(s, 0, sizeof(*s));
	dp = opendir(dir);
	if (!dp) {
		snprintf(msg, sizeof(msg), "%s: %s", dir, strerror(errno));
		report(GUEST_FAILED, NULL, 0, msg);
		return -1;
	}
	while ((de = readdir(dp))) {
		if (!guest_set_is_file(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (config_load(path, &cfg, &err) < 0) {
			report(GUEST_FAILED, NULL, 0, err.msg);
			bad = -1;
			continue;
		}
		if (!all && !cfg.autostart) {
			config_free(&cfg);
			continue;
		}
		if (add(s, &cfg, report) < 0)
			bad = -1;
	}
	closedir(dp);
	if (bad < 0) {
		guest_set_free(s);
		return -1;
	}
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), by_order);
	return 0;
}

static void sleep_seconds(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

size_t guest_set_up(const struct guest_set *s, guest_report_fn *report)
{
	struct error err;
	size_t failed = 0;
	pid_t pid;

	for (size_t i = 0; i < s->n; i++) {
		const struct guest_config *g = &s->v[i];

		if (guest_running(g->name)) {
			report(GUEST_ALREADY, g->name, 0, NULL);
			continue;
		}
		if (supervisor_start(g, NULL, &pid, &err) < 0) {
			report(GUEST_FAILED, g->name, 0, err.msg);
			failed++;
			continue;
		}
		report(GUEST_STARTED, g->name, pid, NULL);
		if (g->up_delay > 0 && i + 1 < s->n)
			sleep_seconds(g->up_delay);
	}
	return failed;
}

size_t guest_set_down(const struct guest_set *s, double timeout, bool force,
		      guest_report_fn *report)
{
	struct error err;
	size_t failed = 0;

	for (size_t i = s->n; i-- > 0;) {
		const char *name = s->v[i].name;

		if (!guest_running(name))
			continue;
		if (guest_stop(name, timeout, force, &err) < 0) {
			report(GUEST_FAILED, name, 0, err.msg);
			failed++;
			continue;
		}
		report(GUEST_STOPPED, name, 0, NULL);
	}
	return failed;
}

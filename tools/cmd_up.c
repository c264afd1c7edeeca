/* vessel up DIR, vessel down DIR */
#include "manage.h"
#include "config.h"
#include "exit_codes.h"
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

void usage_up(FILE *out)
{
	fprintf(out,
		"usage: vessel up DIR\n"
		"\n"
		"Start every guest defined in DIR/*.yaml (and *.yml) that has\n"
		"autostart: true, like `vessel start`: lowest order: first (ties by\n"
		"name), waiting each one's up_delay: seconds before the next. Guests\n"
		"already running are left alone. Every file is validated before\n"
		"anything starts.\n"
		"\n"
		"exit status: 0 all of them run; 1 some could not start (the others\n"
		"still did); 2 a definition has errors (nothing started).\n");
}

void usage_down(FILE *out)
{
	fprintf(out,
		"usage: vessel down [--timeout S] [--force] DIR\n"
		"\n"
		"Stop the running guests that `vessel up DIR` starts, in reverse\n"
		"order, each like `vessel stop` (and waiting for it to be gone).\n"
		"\n"
		"options:\n"
		"  -t, --timeout S  per guest, before a hard stop (default %g)\n"
		"  -f, --force      stop each at once\n"
		"  -h, --help       this help\n", STOP_TIMEOUT_DEFAULT);
}

struct defs {
	struct guest_config *v;
	size_t n;
};

static void defs_free(struct defs *d)
{
	for (size_t i = 0; i < d->n; i++)
		config_free(&d->v[i]);
	free(d->v);
}

static bool is_yaml(const char *name)
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

/* Load the autostart definitions of dir, sorted; every error is printed.
 * Returns -1 if any file is bad. */
static int load_dir(const char *dir, struct defs *d)
{
	struct guest_config cfg, *nv;
	struct error err;
	char path[4096];
	struct dirent *de;
	struct stat st;
	int bad = 0;
	DIR *dp;

	memset(d, 0, sizeof(*d));
	dp = opendir(dir);
	if (!dp) {
		fprintf(stderr, "vessel: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp))) {
		if (!is_yaml(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (config_load(path, &cfg, &err) < 0) {
			fprintf(stderr, "vessel: %s\n", err.msg);
			bad = -1;
			continue;
		}
		if (!cfg.autostart) {
			config_free(&cfg);
			continue;
		}
		for (size_t i = 0; i < d->n; i++) {
			if (strcmp(d->v[i].name, cfg.name))
				continue;
			fprintf(stderr, "vessel: %s and %s both define %s\n",
				d->v[i].path, cfg.path, cfg.name);
			bad = -1;
		}
		nv = realloc(d->v, (d->n + 1) * sizeof(*nv));
		if (!nv) {
			config_free(&cfg);
			bad = -1;
			break;
		}
		d->v = nv;
		d->v[d->n++] = cfg;
	}
	closedir(dp);
	if (bad < 0) {
		defs_free(d);
		return -1;
	}
	if (d->n)
		qsort(d->v, d->n, sizeof(*d->v), by_order);
	return 0;
}

static void sleep_seconds(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Parse [--timeout S] [--force] DIR (up takes neither option). */
static int parse_dir_args(int argc, char **argv, void (*help)(FILE *),
			  bool stop_opts, double *timeout, bool *force,
			  const char **dir)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ht:f", opts, NULL)) != -1) {
		if (c == 'h') {
			help(stdout);
			return 1;
		}
		if (c == 't' && stop_opts && parse_seconds(optarg, timeout) == 0)
			continue;
		if (c == 'f' && stop_opts) {
			*force = true;
			continue;
		}
		help(stderr);
		return -1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vessel %s: expected one DIR\n", argv[0]);
		help(stderr);
		return -1;
	}
	*dir = argv[optind];
	return 0;
}

int cmd_up(int argc, char **argv)
{
	struct error err;
	struct defs d;
	const char *dir;
	int r, code = 0;
	pid_t pid;

	r = parse_dir_args(argc, argv, usage_up, false, NULL, NULL, &dir);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (load_dir(dir, &d) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < d.n; i++) {
		const struct guest_config *g = &d.v[i];

		if (guest_running(g->name)) {
			printf("%s: already running\n", g->name);
			continue;
		}
		if (supervisor_start(g, NULL, &pid, &err) < 0) {
			fprintf(stderr, "vessel: %s: %s\n", g->name, err.msg);
			code = EXIT_HOST;
			continue;
		}
		printf("%s: started (supervisor pid %d)\n", g->name, (int)pid);
		fflush(stdout);
		if (g->up_delay > 0 && i + 1 < d.n)
			sleep_seconds(g->up_delay);
	}
	defs_free(&d);
	return code;
}

int cmd_down(int argc, char **argv)
{
	double timeout = STOP_TIMEOUT_DEFAULT;
	bool force = false;
	struct error err;
	struct defs d;
	const char *dir;
	int r, code = 0;

	r = parse_dir_args(argc, argv, usage_down, true, &timeout, &force, &dir);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (load_dir(dir, &d) < 0)
		return EXIT_USAGE;
	for (size_t i = d.n; i-- > 0;) {
		const char *name = d.v[i].name;

		if (!guest_running(name))
			continue;
		if (guest_stop(name, timeout, force, &err) < 0) {
			fprintf(stderr, "vessel: %s\n", err.msg);
			code = EXIT_HOST;
			continue;
		}
		printf("%s: stopped\n", name);
		fflush(stdout);
	}
	defs_free(&d);
	return code;
}

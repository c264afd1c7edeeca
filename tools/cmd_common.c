/* Helpers shared by the management verbs. */
#include "manage.h"
#include "control.h"
#include "state.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Enough to keep a name inside the run directory (config.c has the
 * full rules for names in definitions). */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 64 && name[0] != '.' && !strchr(name, '/');
}

int guest_connect(const char *name, struct error *err)
{
	struct error e2;
	int fd, r;

	if (!valid_name(name))
		return err_set(err, "'%s' is not a guest name", name);
	fd = control_connect(name, err);
	if (fd >= 0)
		return fd;
	if (err->errnum != ENOENT && err->errnum != ECONNREFUSED)
		return -1;
	r = state_probe(name, &e2);
	if (r == STATE_LIVE)
		return err_set(err, "%s is starting or stopping; try again", name);
	return err_set(err, "%s is not running", name);
}

bool guest_running(const char *name)
{
	struct error err;

	return valid_name(name) && state_probe(name, &err) == STATE_LIVE;
}

int parse_name_args(int argc, char **argv, void (*help)(FILE *),
		    const char **name)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			help(stdout);
			return 1;
		}
		help(stderr);
		return -1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vessel %s: expected one NAME\n", argv[0]);
		help(stderr);
		return -1;
	}
	*name = argv[optind];
	return 0;
}

int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 86400)
		return -1;
	*out = v;
	return 0;
}

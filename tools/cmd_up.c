/* vessel up DIR, vessel down DIR */
#include "manage.h"
#include "exit_codes.h"
#include "guest_set.h"

#include <getopt.h>
#include <stdbool.h>

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

/* The CLI's lines: progress on stdout, errors on stderr. */
static void report(enum guest_event ev, const char *name, pid_t pid,
		   const char *msg)
{
	switch (ev) {
	case GUEST_STARTED:
		printf("%s: started (supervisor pid %d)\n", name, (int)pid);
		break;
	case GUEST_ALREADY:
		printf("%s: already running\n", name);
		break;
	case GUEST_STOPPED:
		printf("%s: stopped\n", name);
		break;
	case GUEST_FAILED:
		if (name)
			fprintf(stderr, "vessel: %s: %s\n", name, msg);
		else
			fprintf(stderr, "vessel: %s\n", msg);
		break;
	}
	fflush(stdout);
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
	struct guest_set s;
	const char *dir;
	size_t failed;
	int r;

	r = parse_dir_args(argc, argv, usage_up, false, NULL, NULL, &dir);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (guest_set_load(dir, false, &s, report) < 0)
		return EXIT_USAGE;
	failed = guest_set_up(&s, report);
	guest_set_free(&s);
	return failed ? EXIT_HOST : 0;
}

int cmd_down(int argc, char **argv)
{
	double timeout = STOP_TIMEOUT_DEFAULT;
	bool force = false;
	struct guest_set s;
	const char *dir;
	size_t failed;
	int r;

	r = parse_dir_args(argc, argv, usage_down, true, &timeout, &force, &dir);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (guest_set_load(dir, false, &s, report) < 0)
		return EXIT_USAGE;
	failed = guest_set_down(&s, timeout, force, report);
	guest_set_free(&s);
	return failed ? EXIT_HOST : 0;
}

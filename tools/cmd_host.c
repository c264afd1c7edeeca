/* vessel host poweroff|reboot: ask the appliance's init (vessel as PID 1)
 * to stop the guests and power off or reboot; vessel init itself. */
#include "manage.h"
#include "exit_codes.h"
#include "appliance/init.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

void usage_host(FILE *out)
{
	fprintf(out,
		"usage: vessel host poweroff|reboot\n"
		"\n"
		"On an appliance (vessel running as PID 1, `vessel init`): stop\n"
		"every guest gracefully in reverse order (like `vessel down`), sync,\n"
		"unmount /data, then power off or reboot. It signals PID 1: SIGUSR2\n"
		"for poweroff, SIGTERM for reboot, and returns at once.\n");
}

void usage_init(FILE *out)
{
	fprintf(out,
		"usage: vessel init\n"
		"\n"
		"The appliance's init: what vessel runs whenever it is PID 1\n"
		"(whatever its arguments), e.g. as /init of an image from `vessel\n"
		"image build`. See README.md, \"The appliance\".\n");
}

int cmd_host(int argc, char **argv)
{
	int sig;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_host(stdout);
		return 0;
	}
	if (argc != 2 || (strcmp(argv[1], "poweroff") && strcmp(argv[1], "reboot"))) {
		usage_host(stderr);
		return EXIT_USAGE;
	}
	sig = !strcmp(argv[1], "poweroff") ? SIGUSR2 : SIGTERM;
	if (kill(1, sig) < 0) {
		fprintf(stderr, "vessel host %s: signalling PID 1: %s\n",
			argv[1], strerror(errno));
		return EXIT_HOST;
	}
	return 0;
}

int cmd_init(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_init(stdout);
		return 0;
	}
	if (getpid() != 1) {
		fprintf(stderr, "vessel init: runs only as PID 1 (the "
			"appliance's init)\n");
		return EXIT_USAGE;
	}
	return init_main(argc, argv);
}

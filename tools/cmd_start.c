/* vessel start FILE */
#include "manage.h"
#include "config.h"
#include "exit_codes.h"
#include "supervisor.h"
#include "../vmm/machine/snapshot.h"

#include <stdlib.h>

#include <getopt.h>

void usage_start(FILE *out)
{
	fprintf(out,
		"usage: vessel start FILE\n"
		"       vessel start --restore DIR\n"
		"\n"
		"Start the VM or container FILE describes in the background, under\n"
		"a supervisor process, and return once it runs. Its state lives in\n"
		"/run/vessel/NAME/ ($XDG_RUNTIME_DIR/vessel/NAME/ when not root;\n"
		"$VESSEL_RUN_DIR overrides both): the control socket, the pid, a copy\n"
		"of FILE and the console log. A name that is already running is\n"
		"refused; what a dead supervisor left behind is cleaned up.\n"
		"\n"
		"With --restore, the VM saved in the snapshot directory DIR (see\n"
		"`vessel snapshot`) continues where it was, under its saved name;\n"
		"what `vessel restore --help` says is refused is refused here too.\n"
		"\n"
		"The definition's restart: policy (no, on-failure, always) has the\n"
		"supervisor run the guest again when it ends on its own, with a\n"
		"backoff, giving up after restart_max quick restarts in a row;\n"
		"never after `vessel stop`. `vessel help config` has the keys.\n"
		"\n"
		"Then: vessel ps, console NAME, logs NAME, pause/resume NAME,\n"
		"snapshot NAME DIR, stop NAME.\n"
		"\n"
		"exit status: 0 started; 1 the guest could not start (the reason is\n"
		"printed); 2 a configuration or usage error.\n");
}

int cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "restore", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_snapshot *snap = NULL;
	bool restore = false;
	struct guest_config cfg;
	struct error err = { 0 };
	pid_t pid;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage_start(stdout);
			return 0;
		}
		if (c == 'r') {
			restore = true;
			continue;
		}
		usage_start(stderr);
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vessel start: expected one %s\n",
			restore ? "DIR" : "FILE");
		usage_start(stderr);
		return EXIT_USAGE;
	}
	if (restore) {
		snap = malloc(sizeof(*snap));
		if (!snap) {
			fprintf(stderr, "vessel: out of memory\n");
			return EXIT_HOST;
		}
		r = snapshot_open_guest(argv[optind], snap, &cfg, &err);
		vm_snapshot_close(snap);
		if (r < 0) {
			fprintf(stderr, "vessel: %s\n", err.msg);
			free(snap);
			return err.input ? EXIT_USAGE : EXIT_HOST;
		}
	} else if (config_load(argv[optind], &cfg, &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_USAGE;
	}
	r = supervisor_start(&cfg, restore ? snap->dir : NULL, &pid, &err);
	if (r < 0)
		fprintf(stderr, "vessel: %s: %s\n", cfg.name, err.msg);
	else
		printf("%s: started (supervisor pid %d)\n", cfg.name, (int)pid);
	config_free(&cfg);
	free(snap);
	if (r < 0 && err.input)
		return EXIT_USAGE;
	return r < 0 ? EXIT_HOST : 0;
}

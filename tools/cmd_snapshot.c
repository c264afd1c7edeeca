/* vessel snapshot NAME DIR [--stop] [--compress], vessel snapshot --info
 * DIR, and what `vessel restore` and `vessel start --restore` share:
 * opening a snapshot and the definition inside it. */
#include "manage.h"
#include "base/clock.h"
#include "config.h"
#include "control.h"
#include "exit_codes.h"
#include "../vmm/machine/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define SNAPSHOT_TIMEOUT_MS (10 * 60 * 1000)

void usage_snapshot(FILE *out)
{
	fprintf(out,
		"usage: vessel snapshot [--stop] [--compress] NAME DIR\n"
		"       vessel snapshot --info DIR\n"
		"\n"
		"Save the started VM NAME into the directory DIR (created if it\n"
		"does not exist; an existing one must be empty): the VM is paused\n"
		"(vCPUs stopped, devices quiesced, no disk request in flight), its\n"
		"definition, CPU, device and memory state are written, then it\n"
		"runs on. A paused VM stays paused. DIR then holds config.yaml,\n"
		"state and memory (a sparse file: untouched guest pages take no\n"
		"space). Disks are not copied: copy them while the VM is paused\n"
		"(`vessel pause`, `cp --reflink=auto`, snapshot, `vessel resume`).\n"
		"\n"
		"Continue it with `vessel restore DIR` (foreground) or\n"
		"`vessel start --restore DIR` (background).\n"
		"\n"
		"options:\n"
		"  --stop         stop the VM after saving it (no vCPU runs again)\n"
		"  --compress     write memory.z (zstd) instead of memory\n"
		"  --info         print what the snapshot DIR holds and exit\n"
		"  -h, --help     this help\n"
		"\n"
		"exit status: 0 saved; 1 a host-side failure; 2 a usage error or a\n"
		"bad snapshot directory.\n");
}

/* DIR: made if absent (then *made), else it must be an empty directory.
 * Its canonical path goes into abs. */
static int prepare_dir(const char *dir, char *abs, bool *made,
		       struct error *err)
{
	struct dirent *e;
	DIR *d;

	*made = false;
	if (mkdir(dir, 0700) == 0)
		*made = true;
	else if (errno != EEXIST)
		return err_sys(err, "%s", dir);
	if (!realpath(dir, abs))
		return err_sys(err, "%s", dir);
	if (*made)
		return 0;
	d = opendir(abs);
	if (!d)
		return err_input(err, "%s: not a directory", dir);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			return err_input(err, "%s exists and is not empty", dir);
		}
	closedir(d);
	return 0;
}

static int take_snapshot(const char *name, const char *dir, bool stop,
			 bool compress, struct error *err)
{
	char abs[PATH_MAX];
	struct json_object *req;
	bool made;
	int fd, r;

	fd = guest_connect(name, err);
	if (fd < 0)
		return -1;
	if (prepare_dir(dir, abs, &made, err) < 0) {
		close(fd);
		return -1;
	}
	req = control_request("snapshot");
	json_object_object_add(req, "dir", json_object_new_string(abs));
	json_object_object_add(req, "stop", json_object_new_boolean(stop));
	json_object_object_add(req, "compress", json_object_new_boolean(compress));
	r = control_call(fd, req, NULL, SNAPSHOT_TIMEOUT_MS, err);
	json_object_put(req);
	if (r < 0) {
		if (made)
			rmdir(abs);
		err_prefix(err, "%s", name);
	} else if (stop && guest_wait_gone(fd, now_ms() + SNAPSHOT_TIMEOUT_MS) < 0) {
		r = err_set(err, "%s: saved, but did not go away", name);
	}
	close(fd);
	return r;
}

static int print_info(const char *dir, struct error *err)
{
	struct vm_snapshot *s = malloc(sizeof(*s));
	int r;

	if (!s)
		return err_set(err, "out of memory");
	r = vm_snapshot_open(s, dir, err);
	if (r == 0)
		vm_snapshot_print(s, stdout);
	vm_snapshot_close(s);
	free(s);
	return r;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "stop", no_argument, NULL, 's' },
		{ "compress", no_argument, NULL, 'z' },
		{ "info", no_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	bool stop = false, compress = false, info = false;
	struct error err;
	int c, r;

	err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_snapshot(stdout);
			return 0;
		case 's':
			stop = true;
			break;
		case 'z':
			compress = true;
			break;
		case 'i':
			info = true;
			break;
		default:
			usage_snapshot(stderr);
			return EXIT_USAGE;
		}
	}
	if (info) {
		if (optind != argc - 1 || stop || compress) {
			fprintf(stderr, "vessel snapshot --info: expected one DIR "
				"and no other option\n");
			return EXIT_USAGE;
		}
		r = print_info(argv[optind], &err);
	} else {
		if (optind != argc - 2) {
			fprintf(stderr, "vessel snapshot: expected NAME and DIR\n");
			usage_snapshot(stderr);
			return EXIT_USAGE;
		}
		r = take_snapshot(argv[optind], argv[optind + 1], stop, compress,
				  &err);
	}
	if (r < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return err.input ? EXIT_USAGE : EXIT_HOST;
	}
	return 0;
}

int snapshot_open_guest(const char *dir, struct vm_snapshot *snap,
			struct guest_config *cfg, struct error *err)
{
	char path[PATH_MAX + 16];

	memset(cfg, 0, sizeof(*cfg));
	if (vm_snapshot_open(snap, dir, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/" SNAPSHOT_CONFIG, snap->dir);
	if (config_load_as(path, snap->config_dir, snap->name, cfg, err) < 0)
		return -1;
	if (cfg->kind != GUEST_VM) {
		config_free(cfg);
		return err_input(err, "%s: not a VM's definition", path);
	}
	cfg->vm.name = cfg->name;
	if (guest_running(cfg->name) ||
	    vm_snapshot_check(snap, &cfg->vm, err) < 0) {
		if (guest_running(cfg->name))
			err_input(err, "%s is already running", cfg->name);
		config_free(cfg);
		return err_prefix(err, "%s", snap->dir);
	}
	return 0;
}

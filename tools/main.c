/* vessel: the command-line front end. Verbs parse arguments, load the
 * config, and hand it to an engine (vm_run or container_run). Errors are
 * printed here, once. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "../devices/net/mac.h"
#include "base/error.h"
#include "exit_codes.h"
#include "manage.h"
#include "timings.h"
#include "oci_cli.h"
#include "image_cli.h"
#include "../container/container.h"
#include "../container/seccomp_filter.h"
#include "../vmm/machine/machine.h"
#include "../vmm/machine/snapshot.h"
#include "../vmm/timeline.h"

#ifndef VESSEL_VERSION
#define VESSEL_VERSION "0.1"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vessel COMMAND [OPTIONS] ...\n"
		"\n"
		"A minimal hypervisor and system-container runtime on /dev/kvm.\n"
		"\n"
		"commands:\n"
		"  run FILE       boot the VM or container FILE describes, in the foreground\n"
		"  check FILE     validate FILE and print the resolved settings\n"
		"  help config    list every configuration key\n"
		"  version        print the version\n"
		"\n"
		"managing guests in the background:\n"
		"  start FILE     start the guest FILE describes, under a supervisor\n"
		"  ps [--json]    list the started guests\n"
		"  console NAME   attach the terminal to a guest's console (Ctrl-A d detaches)\n"
		"  logs NAME      print a guest's console log (-f to follow)\n"
		"  stop NAME      stop a guest: ACPI power button or SIGTERM, then hard\n"
		"  pause NAME     freeze a guest\n"
		"  resume NAME    let a paused guest run again\n"
		"  snapshot NAME DIR  save a started VM (--stop, --compress, --info)\n"
		"  restore DIR    continue a saved VM in the foreground\n"
		"  migrate NAME HOST:PORT  move a started VM, running, to another host\n"
		"  receive --listen ADDR:PORT  take one VM that `migrate` sends, and run it\n"
		"  up DIR         start DIR/*.yaml with autostart: true, in order\n"
		"  down DIR       stop them, in reverse order\n"
		"  backup NAME|FILE REPO  back up a guest (list, restore, verify, prune)\n"
		"  image build DIR -o OUT  build a bootable appliance image\n"
		"\n"
		"the appliance (vessel as PID 1):\n"
		"  init           the appliance's init (what vessel runs as PID 1)\n"
		"  host poweroff|reboot  stop the guests and power off or reboot\n"
		"\n"
		"  oci ...        the OCI runtime (runc's command line; also as vessel-runc)\n"
		"\n"
		"`vessel COMMAND --help` describes a command.\n");
}

static void usage_run(FILE *out)
{
	fprintf(out,
		"usage: vessel run [--stats] [--timings] FILE\n"
		"\n"
		"Boot the guest FILE describes with its console on this terminal, and\n"
		"return when it stops. Ctrl-A x quits (Ctrl-A Ctrl-A sends Ctrl-A).\n"
		"SIGINT and SIGTERM stop the guest. SIGUSR2 prints each vCPU's\n"
		"registers, stack and last exits to stderr; the guest runs on.\n"
		"\n"
		"options:\n"
		"  --stats        print VM exit and bus counters to stderr at the end\n"
		"  --timings      print the boot timeline to stderr at the end (VMs):\n"
		"                 ms since launch of each milestone, from the config\n"
		"                 parsed to the guest's first write to port 0x80\n"
		"  -h, --help     this help\n"
		"\n"
		"exit status (VM):\n"
		"  0    the guest powered off\n"
		"  1    a host-side failure (KVM, files, resources)\n"
		"  2    a configuration or usage error\n"
		"  3    the guest rebooted, with on_reboot: exit\n"
		"  4    the guest crashed (triple fault, KVM internal error, failed\n"
		"       entry); the vCPU registers are dumped to stderr\n"
		"  128+N  stopped by signal N (Ctrl-A x counts as SIGINT: 130)\n"
		"exit status (container): the container's own, or 128+N if its\n"
		"PID 1 was killed by signal N; 1 and 2 as above for vessel's errors.\n");
}

static void usage_check(FILE *out)
{
	fprintf(out,
		"usage: vessel check FILE\n"
		"\n"
		"Validate FILE without starting anything. Prints the resolved\n"
		"settings and exits 0, or prints file:line:col: key: message and\n"
		"exits 2.\n");
}

static void usage_help(FILE *out)
{
	fprintf(out,
		"usage: vessel help [config|COMMAND]\n"
		"\n"
		"  help config    every configuration key: type, default, range, help\n"
		"  help COMMAND   the same as `vessel COMMAND --help`\n");
}

/* Parse the common "[--stats] [--timings] [--help] FILE" shape. */
static int parse_file_args(int argc, char **argv, void (*help)(FILE *),
			   bool *stats, bool *timings, const char **file)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "stats", no_argument, NULL, 's' },
		{ "timings", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			help(stdout);
			return 1;
		case 's':
			if (stats) {
				*stats = true;
				break;
			}
			help(stderr);
			return -1;
		case 't':
			if (timings) {
				*timings = true;
				break;
			}
			/* fall through */
		default:
			help(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vessel %s: expected one FILE\n", argv[0]);
		help(stderr);
		return -1;
	}
	*file = argv[optind];
	return 0;
}

static int vm_exit_code(const struct vm_run_result *res)
{
	switch (res->result) {
	case VM_RESULT_POWEROFF:
		return EXIT_POWEROFF;
	case VM_RESULT_REBOOT:
		return EXIT_REBOOT;
	case VM_RESULT_CRASH:
		return EXIT_CRASH;
	case VM_RESULT_STOPPED:
		return 128 + (res->stop_signal ? res->stop_signal : SIGINT);
	}
	return EXIT_HOST;
}

static int cmd_run(int argc, char **argv)
{
	struct guest_config cfg;
	struct error err = { 0 };
	bool stats = false, timings = false;
	const char *file;
	int r, code;

	r = parse_file_args(argc, argv, usage_run, &stats, &timings, &file);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (config_load(file, &cfg, &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_USAGE;
	}
	timeline_mark(MS_CONFIG_PARSED);
	if (cfg.kind == GUEST_CONTAINER) {
		cfg.ct.name = cfg.name;
		r = container_run(&cfg.ct, &err);
		code = r < 0 ? EXIT_HOST : r;
	} else {
		struct vm_run_opts opts = { .in_fd = 0, .out_fd = 1, .stats = stats };
		struct vm_run_result res;

		cfg.vm.name = cfg.name;

		r = vm_run(&cfg.vm, &opts, &res, &err);
		code = r < 0 ? EXIT_HOST : vm_exit_code(&res);
		if (timings)
			timings_print(stderr);
	}
	if (r < 0)
		fprintf(stderr, "vessel: %s: %s\n", cfg.name, err.msg);
	config_free(&cfg);
	return code;
}

void usage_restore(FILE *out)
{
	fprintf(out,
		"usage: vessel restore [--stats] DIR\n"
		"\n"
		"Continue the VM saved in the snapshot directory DIR (see `vessel\n"
		"snapshot`) in the foreground, like `vessel run`: same console,\n"
		"same exit status. The guest goes on where it was saved: its\n"
		"processes, clock, open files and network (its taps are made again\n"
		"with the same names and MACs). Guest memory is mapped from DIR's\n"
		"memory file and read as the guest touches it. A reboot boots the\n"
		"kernel of the definition as usual.\n"
		"\n"
		"Refused, with exit status 2 and nothing changed: a state file that\n"
		"is truncated or corrupted, a format newer than this vessel reads,\n"
		"a host CPU without features the guest was using, a disk image\n"
		"whose size changed or that another VM is using, a guest name that\n"
		"is already running.\n"
		"\n"
		"options:\n"
		"  --stats        print VM exit and bus counters to stderr at the end\n"
		"  -h, --help     this help\n");
}

int cmd_restore(int argc, char **argv)
{
	struct vm_snapshot *snap = malloc(sizeof(*snap));
	struct guest_config cfg;
	struct error err = { 0 };
	struct vm_run_opts opts = { .in_fd = 0, .out_fd = 1 };
	struct vm_run_result res;
	const char *dir;
	int r, code = EXIT_HOST;

	if (!snap) {
		fprintf(stderr, "vessel: out of memory\n");
		return EXIT_HOST;
	}
	r = parse_file_args(argc, argv, usage_restore, &opts.stats, NULL, &dir);
	if (r) {
		free(snap);
		return r > 0 ? 0 : EXIT_USAGE;
	}
	if (snapshot_open_guest(dir, snap, &cfg, &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		vm_snapshot_close(snap);
		free(snap);
		return err.input ? EXIT_USAGE : EXIT_HOST;
	}
	opts.restore = snap;
	r = vm_run(&cfg.vm, &opts, &res, &err);
	if (r < 0)
		fprintf(stderr, "vessel: %s: %s\n", cfg.name, err.msg);
	else
		code = vm_exit_code(&res);
	if (r < 0 && err.input)
		code = EXIT_USAGE;
	vm_snapshot_close(snap);
	free(snap);
	config_free(&cfg);
	return code;
}

static void print_size(const char *key, uint64_t v)
{
	if (v && v % (1ULL << 30) == 0)
		printf("%s: %lluG\n", key, (unsigned long long)(v >> 30));
	else if (v && v % (1ULL << 20) == 0)
		printf("%s: %lluM\n", key, (unsigned long long)(v >> 20));
	else
		printf("%s: %llu\n", key, (unsigned long long)v);
}

/* The guest names disks (and NICs) in PCI slot order: the rank of the
 * i-th one's slot among theirs. */
static size_t slot_rank(const void *items, size_t n, size_t size, size_t off,
			size_t i)
{
	const char *p = items;
	unsigned mine = *(const unsigned *)(p + i * size + off);
	size_t rank = 0;

	for (size_t j = 0; j < n; j++)
		rank += *(const unsigned *)(p + j * size + off) < mine;
	return rank;
}

/* `vessel check`: the disks and NICs as the guest will see them. */
static void print_vm_devices(const struct guest_config *cfg)
{
	const struct machine_spec *vm = &cfg->vm;
	uint8_t mac[NET_MAC_LEN];
	size_t i;

	printf("pci:");
	for (i = 0; i < vm->ndisks; i++)
		printf(" 00:%02x.0 disks[%zu]", vm->disks[i].slot, i);
	for (i = 0; i < vm->nnets; i++)
		printf(" 00:%02x.0 nets[%zu]", vm->nets[i].slot, i);
	if (vm->rng)
		printf(" 00:%02x.0 rng", vm->rng_slot);
	printf("\n");
	for (i = 0; i < vm->ndisks; i++)
		printf("disk vd%c: %s (%s, cache: %s)\n", (char)('a' +
		       slot_rank(vm->disks, vm->ndisks, sizeof(vm->disks[0]),
				 offsetof(struct disk_spec, slot), i) % 26),
		       vm->disks[i].path,
		       vm->disks[i].readonly ? "read-only" : "read-write",
		       vm->disks[i].cache == DISK_CACHE_NONE ? "none" : "writeback");
	for (i = 0; i < vm->nnets; i++) {
		printf("net eth%zu: tap %s", slot_rank(vm->nets, vm->nnets,
		       sizeof(vm->nets[0]), offsetof(struct nic_spec, slot), i),
		       vm->nets[i].tap);
		if (vm->nets[i].mac) {
			printf(", mac %s", vm->nets[i].mac);
		} else {
			net_mac_derive(cfg->name, (unsigned)i, mac);
			printf(", mac %02x:%02x:%02x:%02x:%02x:%02x (derived)",
			       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		}
		if (vm->nets[i].bridge)
			printf(", bridge %s", vm->nets[i].bridge);
		/* auto, the default, goes unsaid. */
		if (vm->nets[i].vhost != NIC_VHOST_AUTO)
			printf(", vhost: %s", vm->nets[i].vhost == NIC_VHOST_ON ?
			       "true" : "false");
		printf("\n");
	}
	printf("rng: %s\n", vm->rng ? "true" : "false");
	printf("kernel_cache: %s\n", vm->kernel_cache ? "true" : "false");
	printf("cmdline_auto: %s\n", vm->cmdline_auto ? "true" : "false");
}

static void print_ct_extras(const struct container_config *ct)
{
	size_t i;

	printf("command:");
	for (i = 0; i < ct->ncommand; i++)
		printf(" %s", ct->command[i]);
	printf("\nuser: %u:%u\nreadonly: %s\nuserns: %s\n",
	       (unsigned)ct->uid, (unsigned)ct->gid,
	       ct->readonly ? "true" : "false", ct->userns ? "true" : "false");
	if (ct->cpus > 0)
		printf("cpus: %g\n", ct->cpus);
	if (ct->pids > 0)
		printf("pids: %lld\n", (long long)ct->pids);
	for (i = 0; i < ct->nmounts; i++)
		printf("mount: %s -> %s%s\n", ct->mounts[i].source,
		       ct->mounts[i].target, ct->mounts[i].readonly ? " (ro)" : "");
	printf("seccomp: allowlist, %zu syscalls, default ENOSYS\n",
	       seccomp_allowlist_size(ct->userns));
	for (i = 0; i < ct->nnets; i++)
		printf("net eth%zu: bridge %s%s%s%s%s\n", i, ct->nets[i].bridge,
		       ct->nets[i].address ? ", address " : "",
		       ct->nets[i].address ? ct->nets[i].address : "",
		       ct->nets[i].gateway ? ", gateway " : "",
		       ct->nets[i].gateway ? ct->nets[i].gateway : "");
}

static int cmd_check(int argc, char **argv)
{
	struct guest_config cfg;
	struct error err = { 0 };
	const char *file;
	int r = parse_file_args(argc, argv, usage_check, NULL, NULL, &file);

	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (config_load(file, &cfg, &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_USAGE;
	}
	printf("name: %s\n", cfg.name);
	if (cfg.kind == GUEST_VM) {
		printf("kind: vm\nvcpus: %u\n", cfg.vm.vcpus);
		print_size("memory", cfg.vm.memory);
		printf("kernel: %s\ninitrd: %s\ncmdline: %s\non_reboot: %s\n",
		       cfg.vm.kernel, cfg.vm.initrd ? cfg.vm.initrd : "(none)",
		       cfg.vm.cmdline,
		       cfg.vm.on_reboot == ON_REBOOT_EXIT ? "exit" : "restart");
		print_vm_devices(&cfg);
	} else {
		printf("kind: container\nrootfs: %s\nhostname: %s\n",
		       cfg.ct.rootfs, cfg.ct.hostname);
		print_size("memory", cfg.ct.memory);
		print_ct_extras(&cfg.ct);
	}
	printf("restart: %s\n", cfg.restart == RESTART_ALWAYS ? "always" :
	       cfg.restart == RESTART_ON_FAILURE ? "on-failure" : "no");
	if (cfg.restart != RESTART_NO)
		printf("restart_max: %d%s\nrestart_window: %gs\n", cfg.restart_max,
		       cfg.restart_max ? "" : " (no limit)", cfg.restart_window);
	config_free(&cfg);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	void (*help)(FILE *out);
} commands[] = {
	{ "run", cmd_run, usage_run },
	{ "check", cmd_check, usage_check },
	{ "help", cmd_help, usage_help },
	{ "start", cmd_start, usage_start },
	{ "ps", cmd_ps, usage_ps },
	{ "console", cmd_console, usage_console },
	{ "logs", cmd_logs, usage_logs },
	{ "stop", cmd_stop, usage_stop },
	{ "pause", cmd_pause, usage_pause },
	{ "resume", cmd_resume, usage_resume },
	{ "up", cmd_up, usage_up },
	{ "down", cmd_down, usage_down },
	{ "snapshot", cmd_snapshot, usage_snapshot },
	{ "restore", cmd_restore, usage_restore },
	{ "migrate", cmd_migrate, usage_migrate },
	{ "receive", cmd_receive, usage_receive },
	{ "backup", cmd_backup, usage_backup },
	{ "image", cmd_image, usage_image },
	{ "host", cmd_host, usage_host },
	{ "init", cmd_init, usage_init },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage_help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "config")) {
		config_help(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "vessel help: no help topic '%s'\n", argv[1]);
		usage_help(stderr);
		return EXIT_USAGE;
	}
	c->help(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;
	const char *base = strrchr(argv[0], '/');

	/* The appliance's /init: PID 1 started as "init" (the kernel runs
	 * /init -> bin/vessel) or with no command is init. PID 1 given a
	 * command (vessel run ... as a container's entry point) runs it. */
	if (getpid() == 1 && (argc < 2 || !strcmp(base ? base + 1 : argv[0], "init")))
		return cmd_init(1, (char *[]){ "init", NULL });
	/* The same binary as vessel-runc: the OCI runtime's command line. */
	if (!strcmp(base ? base + 1 : argv[0], "vessel-runc"))
		return oci_main("vessel-runc", argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "oci"))
		return oci_main("vessel oci", argc - 1, argv + 1);

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("vessel %s\n", VESSEL_VERSION);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "vessel: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}

/* Unit tests for config_load(), config_free(), config_help() and the
 * schema table. Each test writes YAML files into a private temp dir that
 * also holds the files they refer to (vmlinuz, rootfs/, data/, ...). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/config.h"
#include "../../tools/schema.h"

#define MIB (1024ULL * 1024)

static char dir[PATH_MAX];	/* canonical temp dir */

/* ---- fixture ---- */

static void touch(const char *name)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("x", f);
	fclose(f);
}

static void mkdir_in(const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/vessel-config-XXXXXX";

	(void)state;
	if (!mkdtemp(tmpl) || !realpath(tmpl, dir))
		return -1;
	touch("vmlinuz");
	touch("initrd.img");
	touch("rootfs.tar");
	touch("notes.txt");
	mkdir_in("rootfs");
	mkdir_in("data");
	mkdir_in("sub");
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---- */

/* Write yaml to dir/name; returns the path in a static buffer. */
static const char *write_yaml(const char *name, const char *yaml)
{
	static char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);
	return path;
}

static void load_ok(const char *name, const char *yaml,
		    struct guest_config *cfg)
{
	struct error err = { 0 };
	int rc = config_load(write_yaml(name, yaml), cfg, &err);

	if (rc != 0)
		print_error("unexpected error: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

static void assert_zeroed(const struct guest_config *cfg)
{
	static const struct guest_config zero;

	assert_memory_equal(cfg, &zero, sizeof(zero));
}

/* Load yaml from dir/name and expect exactly "<path>:<fmt...>". */
static void expect_error_in(const char *name, const char *yaml,
			    const char *fmt, ...)
{
	char want[2048], tail[1024];
	struct guest_config cfg;
	struct error err = { 0 };
	const char *path = write_yaml(name, yaml);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	snprintf(want, sizeof(want), "%s:%s", path, tail);
	assert_int_equal(config_load(path, &cfg, &err), -1);
	assert_string_equal(err.msg, want);
	assert_zeroed(&cfg);
}

#define expect_error(yaml, ...) expect_error_in("hello.yaml", yaml, __VA_ARGS__)

#define CT "kind: container\nrootfs: rootfs\n"

/* ---- good files ---- */

static void test_vm_full(void **state)
{
	struct guest_config cfg;
	char want[PATH_MAX + 64];

	(void)state;
	load_ok("hello.yaml",
		"name: hello-vm\n"
		"kind: vm\n"
		"vcpus: 4\n"
		"memory: 1G\n"
		"kernel: vmlinuz\n"
		"initrd: ./initrd.img\n"
		"cmdline: console=ttyS0 quiet\n"
		"on_reboot: exit\n"
		"on_triple_fault: reboot\n"
		"autostart: true\n"
		"order: -3\n"
		"up_delay: 1.5\n", &cfg);
	snprintf(want, sizeof(want), "%s/hello.yaml", dir);
	assert_string_equal(cfg.path, want);
	assert_string_equal(cfg.dir, dir);
	assert_string_equal(cfg.name, "hello-vm");
	assert_int_equal(cfg.kind, GUEST_VM);
	assert_int_equal(cfg.vm.vcpus, 4);
	assert_int_equal(cfg.vm.memory, 1024 * MIB);
	snprintf(want, sizeof(want), "%s/vmlinuz", dir);
	assert_string_equal(cfg.vm.kernel, want);
	snprintf(want, sizeof(want), "%s/initrd.img", dir);
	assert_string_equal(cfg.vm.initrd, want);
	assert_string_equal(cfg.vm.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.vm.on_reboot, ON_REBOOT_EXIT);
	assert_int_equal(cfg.vm.on_triple_fault, ON_TRIPLE_FAULT_REBOOT);
	assert_true(cfg.autostart);
	assert_int_equal(cfg.order, -3);
	assert_true(cfg.up_delay == 1.5);
	/* Container fields stay untouched for a VM. */
	assert_null(cfg.ct.rootfs);
	assert_null(cfg.ct.command);
	assert_null(cfg.ct.hostname);
	config_free(&cfg);
	assert_zeroed(&cfg);
}

static void test_vm_defaults(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("hello.yaml", "kernel: vmlinuz\n", &cfg);
	assert_string_equal(cfg.name, "hello");
	assert_int_equal(cfg.kind, GUEST_VM);
	assert_int_equal(cfg.vm.vcpus, 1);
	assert_int_equal(cfg.vm.memory, 256 * MIB);
	assert_null(cfg.vm.initrd);
	assert_string_equal(cfg.vm.cmdline, "console=ttyS0");
	assert_int_equal(cfg.vm.on_reboot, ON_REBOOT_RESTART);
	assert_int_equal(cfg.vm.on_triple_fault, ON_TRIPLE_FAULT_CRASH);
	assert_false(cfg.autostart);
	assert_int_equal(cfg.order, 0);
	assert_true(cfg.up_delay == 0);
	assert_int_equal(cfg.restart, RESTART_NO);
	assert_int_equal(cfg.restart_max, 5);
	assert_true(cfg.restart_window == 60);
	config_free(&cfg);
}

/* restart:, restart_max:, restart_window: for either kind. */
static void test_restart_policy(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("hello.yaml", CT "restart: on-failure\nrestart_max: 3\n"
		"restart_window: 2m\n", &cfg);
	assert_int_equal(cfg.restart, RESTART_ON_FAILURE);
	assert_int_equal(cfg.restart_max, 3);
	assert_true(cfg.restart_window == 120);
	config_free(&cfg);
	load_ok("hello.yaml", "kernel: vmlinuz\nrestart: always\nrestart_max: 0\n"
		"restart_window: 1.5\n", &cfg);
	assert_int_equal(cfg.restart, RESTART_ALWAYS);
	assert_int_equal(cfg.restart_max, 0);
	assert_true(cfg.restart_window == 1.5);
	config_free(&cfg);
	load_ok("hello.yaml", CT "restart: no\nrestart_window: 500ms\n", &cfg);
	assert_int_equal(cfg.restart, RESTART_NO);
	assert_true(cfg.restart_window == 0.5);
	config_free(&cfg);
	expect_error(CT "restart: sometimes\n", "3:10: restart: expected no, "
		     "on-failure or always, got 'sometimes'");
	expect_error(CT "restart_max: -1\n", "3:14: restart_max: expected an "
		     "integer from 0 to 1000000, got '-1'");
	expect_error(CT "restart_window: 60x\n", "3:17: restart_window: expected "
		     "a number 0 to 3.1536e+07 (seconds, or with an ms, s, m or h "
		     "suffix), got '60x'");
	expect_error(CT "restart_window: -5s\n", "3:17: restart_window: expected "
		     "a number 0 to 3.1536e+07 (seconds, or with an ms, s, m or h "
		     "suffix), got '-5s'");
}

static void test_name_from_file(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("other.yml", "kernel: vmlinuz\n", &cfg);
	assert_string_equal(cfg.name, "other");
	config_free(&cfg);
	load_ok("plain", "kernel: vmlinuz\n", &cfg);
	assert_string_equal(cfg.name, "plain");
	config_free(&cfg);
}

/* Null values (empty, ~) mean "use the default". */
static void test_null_values(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("hello.yaml", "kernel: vmlinuz\ninitrd: ~\ncmdline:\n"
		"kind:\nvcpus: null\n", &cfg);
	assert_int_equal(cfg.kind, GUEST_VM);
	assert_null(cfg.vm.initrd);
	assert_string_equal(cfg.vm.cmdline, "console=ttyS0");
	assert_int_equal(cfg.vm.vcpus, 1);
	config_free(&cfg);
}

static void test_relative_paths(void **state)
{
	struct guest_config cfg;
	char want[PATH_MAX + 64];

	(void)state;
	load_ok("sub/guest.yaml",
		"kernel: ../vmlinuz\n"
		"initrd: .././sub/../initrd.img\n", &cfg);
	snprintf(want, sizeof(want), "%s/sub", dir);
	assert_string_equal(cfg.dir, want);
	snprintf(want, sizeof(want), "%s/vmlinuz", dir);
	assert_string_equal(cfg.vm.kernel, want);
	snprintf(want, sizeof(want), "%s/initrd.img", dir);
	assert_string_equal(cfg.vm.initrd, want);
	config_free(&cfg);
}

static void test_absolute_path(void **state)
{
	struct guest_config cfg;
	char yaml[PATH_MAX + 64], want[PATH_MAX + 64];

	(void)state;
	snprintf(yaml, sizeof(yaml), "kernel: %s//vmlinuz\n", dir);
	load_ok("sub/guest.yaml", yaml, &cfg);
	snprintf(want, sizeof(want), "%s/vmlinuz", dir);
	assert_string_equal(cfg.vm.kernel, want);
	config_free(&cfg);
}

/* A relative config path resolves against the working directory. */
static void test_relative_config_path(void **state)
{
	struct guest_config cfg;
	struct error err = { 0 };
	char cwd[PATH_MAX], want[PATH_MAX + 64];

	(void)state;
	write_yaml("rel.yaml", "kernel: vmlinuz\n");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(config_load("rel.yaml", &cfg, &err), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(cfg.path, "rel.yaml");
	assert_string_equal(cfg.dir, dir);
	snprintf(want, sizeof(want), "%s/vmlinuz", dir);
	assert_string_equal(cfg.vm.kernel, want);
	config_free(&cfg);
}

static void test_container_full(void **state)
{
	struct guest_config cfg;
	char want[PATH_MAX + 64];

	(void)state;
	load_ok("web.yaml",
		"kind: container\n"
		"name: web\n"
		"rootfs: rootfs/\n"
		"readonly: true\n"
		"command: [/bin/sh, -c, \"echo hello from $(hostname)\"]\n"
		"env: {PATH: /usr/sbin:/usr/bin:/sbin:/bin, EMPTY: , N: 1}\n"
		"hostname: webhost\n"
		"user: 1000:100\n"
		"memory: 128M\n"
		"cpus: 0.5\n"
		"pids: 256\n"
		"mounts:\n"
		"  - {source: ./data, target: /data, readonly: true}\n"
		"  - source: notes.txt\n"
		"    target: /etc/notes\n"
		"userns: yes\n"
		"nets:\n"
		"  - {bridge: br0, address: 10.0.0.2/24, gateway: 10.0.0.1}\n"
		"  - bridge: br1\n", &cfg);
	assert_int_equal(cfg.kind, GUEST_CONTAINER);
	assert_string_equal(cfg.name, "web");
	snprintf(want, sizeof(want), "%s/rootfs", dir);
	assert_string_equal(cfg.ct.rootfs, want);
	assert_true(cfg.ct.readonly);
	assert_int_equal(cfg.ct.ncommand, 3);
	assert_string_equal(cfg.ct.command[0], "/bin/sh");
	assert_string_equal(cfg.ct.command[1], "-c");
	assert_string_equal(cfg.ct.command[2], "echo hello from $(hostname)");
	assert_int_equal(cfg.ct.nenv, 3);
	assert_string_equal(cfg.ct.env[0], "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	assert_string_equal(cfg.ct.env[1], "EMPTY=");
	assert_string_equal(cfg.ct.env[2], "N=1");
	assert_string_equal(cfg.ct.hostname, "webhost");
	assert_int_equal(cfg.ct.uid, 1000);
	assert_int_equal(cfg.ct.gid, 100);
	assert_int_equal(cfg.ct.memory, 128 * MIB);
	assert_true(cfg.ct.cpus == 0.5);
	assert_int_equal(cfg.ct.pids, 256);
	assert_int_equal(cfg.ct.nmounts, 2);
	snprintf(want, sizeof(want), "%s/data", dir);
	assert_string_equal(cfg.ct.mounts[0].source, want);
	assert_string_equal(cfg.ct.mounts[0].target, "/data");
	assert_true(cfg.ct.mounts[0].readonly);
	snprintf(want, sizeof(want), "%s/notes.txt", dir);
	assert_string_equal(cfg.ct.mounts[1].source, want);
	assert_string_equal(cfg.ct.mounts[1].target, "/etc/notes");
	assert_false(cfg.ct.mounts[1].readonly);
	assert_true(cfg.ct.userns);
	assert_int_equal(cfg.ct.nnets, 2);
	assert_string_equal(cfg.ct.nets[0].bridge, "br0");
	assert_string_equal(cfg.ct.nets[0].address, "10.0.0.2/24");
	assert_string_equal(cfg.ct.nets[0].gateway, "10.0.0.1");
	assert_string_equal(cfg.ct.nets[1].bridge, "br1");
	assert_null(cfg.ct.nets[1].address);
	assert_null(cfg.ct.nets[1].gateway);
	/* VM fields stay untouched for a container. */
	assert_null(cfg.vm.kernel);
	assert_null(cfg.vm.cmdline);
	config_free(&cfg);
	assert_zeroed(&cfg);
}

static void test_container_defaults(void **state)
{
	struct guest_config cfg;
	char want[PATH_MAX + 64];

	(void)state;
	load_ok("box.yml", "kind: container\nrootfs: rootfs.tar\n", &cfg);
	assert_string_equal(cfg.name, "box");
	assert_string_equal(cfg.ct.hostname, "box");
	snprintf(want, sizeof(want), "%s/rootfs.tar", dir);
	assert_string_equal(cfg.ct.rootfs, want);
	assert_false(cfg.ct.readonly);
	assert_int_equal(cfg.ct.ncommand, 1);
	assert_string_equal(cfg.ct.command[0], "/sbin/init");
	assert_null(cfg.ct.env);
	assert_int_equal(cfg.ct.nenv, 0);
	assert_int_equal(cfg.ct.uid, 0);
	assert_int_equal(cfg.ct.gid, 0);
	assert_int_equal(cfg.ct.memory, 0);
	assert_true(cfg.ct.cpus == 0);
	assert_int_equal(cfg.ct.pids, 0);
	assert_null(cfg.ct.mounts);
	assert_int_equal(cfg.ct.nmounts, 0);
	assert_false(cfg.ct.userns);
	assert_null(cfg.ct.nets);
	assert_int_equal(cfg.ct.nnets, 0);
	config_free(&cfg);
}

static void test_command_string(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("hello.yaml", CT "command: /bin/sh -c 'echo hi'\n", &cfg);
	assert_int_equal(cfg.ct.ncommand, 1);
	assert_string_equal(cfg.ct.command[0], "/bin/sh -c 'echo hi'");
	config_free(&cfg);
}

/* kind: may come last; container keys before it are still accepted. */
static void test_kind_anywhere(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("hello.yaml", "rootfs: rootfs\nmemory: 64M\nkind: container\n",
		&cfg);
	assert_int_equal(cfg.kind, GUEST_CONTAINER);
	assert_int_equal(cfg.ct.memory, 64 * MIB);
	assert_int_equal(cfg.vm.memory, 0);
	config_free(&cfg);
}

static void test_env_list_and_empty(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("hello.yaml", CT "env: [A=1, B=x=y]\nmounts: []\nnets: ~\n",
		&cfg);
	assert_int_equal(cfg.ct.nenv, 2);
	assert_string_equal(cfg.ct.env[0], "A=1");
	assert_string_equal(cfg.ct.env[1], "B=x=y");
	assert_int_equal(cfg.ct.nmounts, 0);
	assert_int_equal(cfg.ct.nnets, 0);
	config_free(&cfg);
}

/* Quoted numbers, bool spellings, size suffixes, anchors and aliases. */
static void test_scalar_forms(void **state)
{
	struct guest_config cfg;

	(void)state;
	load_ok("hello.yaml", "kernel: &k vmlinuz\ninitrd: *k\nvcpus: \"2\"\n"
		"memory: 33554432\nautostart: On\nup_delay: 2\n", &cfg);
	assert_int_equal(cfg.vm.vcpus, 2);
	assert_int_equal(cfg.vm.memory, 32 * MIB);
	assert_true(cfg.autostart);
	assert_true(cfg.up_delay == 2.0);
	assert_string_equal(cfg.vm.initrd, cfg.vm.kernel);
	config_free(&cfg);
	load_ok("hello.yaml", "kernel: vmlinuz\nmemory: 1t\nautostart: OFF\n",
		&cfg);
	assert_int_equal(cfg.vm.memory, 1024 * 1024 * MIB);
	assert_false(cfg.autostart);
	config_free(&cfg);
}

/* ---- bad files: every error names file:line:col and the key ---- */

static void test_err_unknown_key(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nvcpus: 2\nmemroy: 512M\n",
		     "3:1: memroy: unknown key (did you mean 'memory'?)");
	expect_error("kernel: vmlinuz\nfrobnicate: 1\n",
		     "2:1: frobnicate: unknown key");
	expect_error("kernel: vmlinuz\n  # comment\nvcpu: 1\n",
		     "3:1: vcpu: unknown key (did you mean 'vcpus'?)");
	/* Close to a key of the other kind. */
	expect_error("kernel: vmlinuz\nrotfs: x\n",
		     "2:1: rotfs: unknown key (did you mean 'rootfs'?)");
}

static void test_err_wrong_kind(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nrootfs: rootfs\n",
		     "2:1: rootfs: only valid with kind: container");
	expect_error("rootfs: rootfs\nkernel: vmlinuz\nkind: container\n",
		     "2:1: kernel: only valid with kind: vm");
	expect_error(CT "vcpus: 2\n", "3:1: vcpus: only valid with kind: vm");
	expect_error("kernel: vmlinuz\nuserns: true\n",
		     "2:1: userns: only valid with kind: container");
	expect_error(CT "rng: true\n", "3:1: rng: only valid with kind: vm");
}

/* VM disks, nets and rng: lists of maps with their own keys. */
static void test_vm_devices(void **state)
{
	struct guest_config cfg;
	char want[PATH_MAX + 64];

	(void)state;
	load_ok("dev.yaml",
		"kernel: vmlinuz\n"
		"disks:\n"
		"  - path: notes.txt\n"
		"  - {path: initrd.img, readonly: true, cache: writeback}\n"
		"nets:\n"
		"  - {tap: vs-dev0, mac: '52:54:00:12:34:56', bridge: br0}\n"
		"  - tap: vs-dev1\n"
		"rng: false\n", &cfg);
	assert_int_equal(cfg.vm.ndisks, 2);
	snprintf(want, sizeof(want), "%s/notes.txt", dir);
	assert_string_equal(cfg.vm.disks[0].path, want);
	assert_false(cfg.vm.disks[0].readonly);
	assert_int_equal(cfg.vm.disks[0].cache, DISK_CACHE_NONE);
	assert_true(cfg.vm.disks[1].readonly);
	assert_int_equal(cfg.vm.disks[1].cache, DISK_CACHE_WRITEBACK);
	assert_int_equal(cfg.vm.nnets, 2);
	assert_string_equal(cfg.vm.nets[0].tap, "vs-dev0");
	assert_string_equal(cfg.vm.nets[0].mac, "52:54:00:12:34:56");
	assert_string_equal(cfg.vm.nets[0].bridge, "br0");
	assert_null(cfg.vm.nets[1].mac);
	assert_null(cfg.vm.nets[1].bridge);
	assert_int_equal(cfg.vm.nets[0].vhost, NIC_VHOST_AUTO);  /* default */
	assert_string_equal(cfg.vm.nets[0].vhost_at, "");
	assert_false(cfg.vm.rng);
	config_free(&cfg);

	/* nets[].vhost: auto, true or false; where it was given is kept for
	 * the error if vhost: true cannot be honoured at start. */
	load_ok("dev3.yaml",
		"kernel: vmlinuz\n"
		"nets:\n"
		"  - {tap: t0, vhost: true}\n"
		"  - {tap: t1, vhost: false}\n"
		"  - tap: t2\n"
		"    vhost: auto\n", &cfg);
	assert_int_equal(cfg.vm.nets[0].vhost, NIC_VHOST_ON);
	assert_int_equal(cfg.vm.nets[1].vhost, NIC_VHOST_OFF);
	assert_int_equal(cfg.vm.nets[2].vhost, NIC_VHOST_AUTO);
	snprintf(want, sizeof(want), "dev3.yaml:3:22: nets[0].vhost");
	assert_non_null(strstr(cfg.vm.nets[0].vhost_at, want));
	assert_non_null(strstr(cfg.vm.nets[2].vhost_at, "dev3.yaml:6:12: nets[2].vhost"));
	config_free(&cfg);

	load_ok("dev2.yaml", "kernel: vmlinuz\n", &cfg);
	assert_true(cfg.vm.rng);                /* on by default */
	assert_int_equal(cfg.vm.ndisks, 0);
	config_free(&cfg);
}

static void test_err_vm_devices(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\ndisks:\n  - {path: nowhere.img}\n",
		     "3:12: disks[0].path: no such file 'nowhere.img' (resolved to %s/nowhere.img)",
		     dir);
	expect_error("kernel: vmlinuz\ndisks:\n  - {path: notes.txt, cache: fast}\n",
		     "3:30: disks[0].cache: expected none or writeback, got 'fast'");
	expect_error("kernel: vmlinuz\nnets:\n  - {tap: t0, mac: '52:54:00:12:34'}\n",
		     "3:20: nets[0].mac: bad MAC address '52:54:00:12:34' (want xx:xx:xx:xx:xx:xx)");
	expect_error("kernel: vmlinuz\nnets:\n  - {tap: t0, mac: '01:00:00:00:00:01'}\n",
		     "3:20: nets[0].mac: '01:00:00:00:00:01' is a multicast address");
	expect_error("kernel: vmlinuz\nnets:\n  - {bridge: br0}\n",
		     "3:5: nets[0].tap: missing required key");
	expect_error("kernel: vmlinuz\nnets:\n  - {tap: t0, vhost: on}\n",
		     "3:22: nets[0].vhost: expected auto, true or false, got 'on'");
}

/* The PCI topology: disks, then NICs, then rng, in file order, each in its
 * slot: or the lowest free one from 1. */
static void test_vm_slots(void **state)
{
	struct guest_config cfg;
	struct error err = { 0 };

	(void)state;
	load_ok("slots.yaml",
		"kernel: vmlinuz\n"
		"nets:\n"
		"  - {tap: vs-s0, slot: 2}\n"
		"  - tap: vs-s1\n"
		"disks:\n"
		"  - path: notes.txt\n"
		"  - {path: initrd.img, slot: 7}\n"
		"  - path: vmlinuz\n", &cfg);
	assert_int_equal(cfg.vm.disks[0].slot, 1);
	assert_int_equal(cfg.vm.disks[1].slot, 7);
	assert_int_equal(cfg.vm.disks[2].slot, 3);
	assert_int_equal(cfg.vm.nets[0].slot, 2);
	assert_int_equal(cfg.vm.nets[1].slot, 4);
	assert_int_equal(cfg.vm.rng_slot, 5);
	/* Again on what it filled in: the same slots. */
	assert_int_equal(config_assign_slots(&cfg.vm, &err), 0);
	assert_int_equal(cfg.vm.disks[2].slot, 3);
	assert_int_equal(cfg.vm.rng_slot, 5);
	config_free(&cfg);

	load_ok("slots2.yaml", "kernel: vmlinuz\nrng: false\ndisks:\n"
		"  - {path: notes.txt, slot: 31}\n", &cfg);
	assert_int_equal(cfg.vm.disks[0].slot, 31);
	assert_int_equal(cfg.vm.rng_slot, 0);
	config_free(&cfg);

	load_ok("slots3.yaml", "kernel: vmlinuz\n", &cfg);
	assert_int_equal(cfg.vm.rng_slot, 1);
	config_free(&cfg);
}

/* A hand-made config: bad slots are errors, not a crash. */
static void test_assign_slots_errors(void **state)
{
	struct disk_spec disks[32];
	struct machine_spec vm = { .disks = disks, .ndisks = 2, .rng = true };
	struct error err = { 0 };

	(void)state;
	memset(disks, 0, sizeof(disks));
	disks[0].slot = disks[1].slot = 5;
	assert_int_equal(config_assign_slots(&vm, &err), -1);
	assert_string_equal(err.msg, "disks[1].slot: PCI slot 5 is taken already");
	disks[1].slot = 32;
	assert_int_equal(config_assign_slots(&vm, &err), -1);
	assert_string_equal(err.msg, "disks[1].slot: 32 is out of range 1 to 31");
	/* 31 disks fill the bus: no room for the rng. */
	memset(disks, 0, sizeof(disks));
	vm.ndisks = 31;
	assert_int_equal(config_assign_slots(&vm, &err), -1);
	assert_non_null(strstr(err.msg, "virtio-rng"));
	vm.rng = false;
	assert_int_equal(config_assign_slots(&vm, &err), 0);
	assert_int_equal(disks[30].slot, 31);
	vm.ndisks = 32;
	memset(disks, 0, sizeof(disks));
	assert_int_equal(config_assign_slots(&vm, &err), -1);
	assert_string_equal(err.msg, "too many PCI devices: no slot left for "
			    "disks[31] (bus 0 has 31)");
}

static void test_err_slots(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\ndisks:\n  - {path: notes.txt, slot: 0}\n",
		     "3:29: disks[0].slot: expected an integer from 1 to 31, got '0'");
	expect_error("kernel: vmlinuz\nnets:\n  - {tap: t0, slot: 32}\n",
		     "3:21: nets[0].slot: expected an integer from 1 to 31, got '32'");
	expect_error("kernel: vmlinuz\nnets:\n  - {tap: t0, slot: 1f}\n",
		     "3:21: nets[0].slot: expected an integer from 1 to 31, got '1f'");
	/* A NIC may not take a disk's slot, nor a disk another's. */
	expect_error("kernel: vmlinuz\n"
		     "disks:\n"
		     "  - {path: notes.txt, slot: 4}\n"
		     "nets:\n"
		     "  - tap: t0\n"
		     "    slot: 4\n",
		     "6:11: nets[0].slot: PCI slot 4 is taken already by "
		     "disks[0].slot (line 3)");
	expect_error("kernel: vmlinuz\n"
		     "disks:\n"
		     "  - {path: notes.txt, slot: 9}\n"
		     "  - {path: vmlinuz, slot: 9}\n",
		     "4:27: disks[1].slot: PCI slot 9 is taken already by "
		     "disks[0].slot (line 3)");
	expect_error("disks:\n"
		     "  - {path: notes.txt, slot: 1}\n"
		     "  - {path: vmlinuz, slot: 2}\n"
		     "kernel: vmlinuz\n"
		     "nets:\n"
		     "  - {tap: t0, slot: 1}\n",
		     "6:21: nets[0].slot: PCI slot 1 is taken already by "
		     "disks[0].slot (line 2)");
}

static void test_err_bad_int(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nvcpus: two\n",
		     "2:8: vcpus: expected an integer from 1 to 255, got 'two'");
	expect_error("kernel: vmlinuz\nvcpus: 256\n",
		     "2:8: vcpus: expected an integer from 1 to 255, got '256'");
	expect_error("kernel: vmlinuz\nvcpus: 0\n",
		     "2:8: vcpus: expected an integer from 1 to 255, got '0'");
	expect_error("kernel: vmlinuz\nvcpus: 1.5\n",
		     "2:8: vcpus: expected an integer from 1 to 255, got '1.5'");
	expect_error("kernel: vmlinuz\norder: 99999999999\n",
		     "2:8: order: expected an integer, got '99999999999'");
	expect_error(CT "pids: 0\n",
		     "3:7: pids: expected an integer from 1 to 4194304, got '0'");
}

static void test_err_bad_size(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nvcpus: 1\nmemory: 12X\n",
		     "3:9: memory: bad size '12X' (use a number with an "
		     "optional K, M or G suffix)");
	expect_error("kernel: vmlinuz\nmemory: 99999999999999999999\n",
		     "2:9: memory: bad size '99999999999999999999' (use a "
		     "number with an optional K, M or G suffix)");
	expect_error("kernel: vmlinuz\nmemory: 16M\n",
		     "2:9: memory: expected a size from 32M to 1T, got '16M'");
	expect_error("kernel: vmlinuz\nmemory: 2T\n",
		     "2:9: memory: expected a size from 32M to 1T, got '2T'");
	expect_error(CT "memory: -1\n",
		     "3:9: memory: bad size '-1' (use a number with an "
		     "optional K, M or G suffix)");
}

static void test_err_bad_number(void **state)
{
	(void)state;
	expect_error(CT "cpus: 0\n", "3:7: cpus: expected a number > 0, got '0'");
	expect_error(CT "cpus: half\n",
		     "3:7: cpus: expected a number > 0, got 'half'");
	expect_error(CT "cpus: nan\n",
		     "3:7: cpus: expected a number > 0, got 'nan'");
	expect_error("kernel: vmlinuz\nup_delay: -1\n",
		     "2:11: up_delay: expected a number >= 0, got '-1'");
}

static void test_err_bad_choice(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nautostart: maybe\n",
		     "2:12: autostart: expected true or false, got 'maybe'");
	expect_error("kernel: vmlinuz\non_reboot: reset\n",
		     "2:12: on_reboot: expected restart or exit, got 'reset'");
	expect_error("kernel: vmlinuz\nkind: vmm\n",
		     "2:7: kind: expected vm or container, got 'vmm'");
	expect_error(CT "user: root\n",
		     "3:7: user: expected uid:gid (numbers), got 'root'");
	expect_error(CT "user: 1000\n",
		     "3:7: user: expected uid:gid (numbers), got '1000'");
}

static void test_err_wrong_type(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nvcpus: [1, 2]\n",
		     "2:8: vcpus: expected an integer from 1 to 255, got a list");
	expect_error("kernel: vmlinuz\ncmdline: {a: b}\n",
		     "2:10: cmdline: expected a string, got a map");
	expect_error("kernel: [vmlinuz]\n",
		     "1:9: kernel: expected a path, got a list");
	expect_error(CT "command: {a: b}\n",
		     "3:10: command: expected a list of strings, got a map");
	expect_error(CT "command: [/bin/sh, [x]]\n",
		     "3:20: command[1]: expected a string, got a list");
	expect_error(CT "command: []\n",
		     "3:10: command: expected a non-empty list of strings");
	expect_error(CT "env: hello\n",
		     "3:6: env: expected a map of strings, got 'hello'");
	expect_error(CT "env: {A: [1]}\n",
		     "3:10: env.A: expected a string, got a list");
	expect_error(CT "env: {A=B: 1}\n",
		     "3:7: env.A=B: names must be non-empty and contain no '='");
	expect_error(CT "env: [A]\n",
		     "3:7: env[0]: expected KEY=VALUE, got 'A'");
	expect_error(CT "mounts: /data\n",
		     "3:9: mounts: expected a list of maps, got '/data'");
	expect_error(CT "mounts: [/data]\n",
		     "3:10: mounts[0]: expected a map, got '/data'");
	expect_error("? [a, b]\n: c\n", "1:3: expected a key name, got a list");
}

static void test_err_missing_required(void **state)
{
	(void)state;
	expect_error("vcpus: 2\n", "1:1: kernel: missing required key");
	expect_error("# a comment\n\nvcpus: 2\n",
		     "3:1: kernel: missing required key");
	expect_error("kind: container\n",
		     "1:1: rootfs: missing required key");
	expect_error("kernel:\n", "1:1: kernel: missing value");
	expect_error(CT "nets:\n  - {address: 10.0.0.2/24}\n",
		     "4:5: nets[0].bridge: missing required key");
	expect_error(CT "mounts:\n  - source: data\n    readonly: true\n",
		     "4:5: mounts[0].target: missing required key");
}

static void test_err_missing_file(void **state)
{
	(void)state;
	expect_error("kernel: vmlinux-missing\n",
		     "1:9: kernel: no such file 'vmlinux-missing' (resolved to "
		     "%s/vmlinux-missing)", dir);
	expect_error("kernel: vmlinuz\ninitrd: nope/../initrd.gz\n",
		     "2:9: initrd: no such file 'nope/../initrd.gz' (resolved "
		     "to %s/initrd.gz)", dir);
	expect_error_in("sub/x.yaml", "kernel: vmlinuz\n",
			"1:9: kernel: no such file 'vmlinuz' (resolved to "
			"%s/sub/vmlinuz)", dir);
	expect_error(CT "mounts:\n  - {source: ./nope, target: /data}\n",
		     "4:14: mounts[0].source: no such file './nope' (resolved "
		     "to %s/nope)", dir);
	expect_error("kind: container\nrootfs: missing.tar.gz\n",
		     "2:9: rootfs: no such file 'missing.tar.gz' (resolved to "
		     "%s/missing.tar.gz)", dir);
	expect_error("kernel: ''\n", "1:9: kernel: expected a path, got ''");
}

static void test_err_wrong_file_type(void **state)
{
	(void)state;
	expect_error("kernel: rootfs\n",
		     "1:9: kernel: '%s/rootfs' is not a regular file", dir);
	expect_error("kind: container\nrootfs: notes.txt\n",
		     "2:9: rootfs: '%s/notes.txt' is neither a directory nor "
		     "a .tar or .tar.gz archive", dir);
}

static void test_err_duplicate(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nvcpus: 1\nvcpus: 2\n",
		     "3:1: vcpus: duplicate key (first set at line 2)");
	expect_error("kind: vm\nkernel: vmlinuz\nkind: container\n",
		     "3:1: kind: duplicate key (first set at line 1)");
	expect_error(CT "env:\n  A: 1\n  B: 2\n  A: 3\n",
		     "6:3: env.A: duplicate key (first set at line 4)");
	expect_error(CT "mounts:\n  - {source: data, target: /a, "
		     "target: /b}\n",
		     "4:32: mounts[0].target: duplicate key (first set at "
		     "line 4)");
}

static void test_err_nested(void **state)
{
	(void)state;
	expect_error(CT "mounts:\n  - {source: data, target: /d, readonyl: 1}\n",
		     "4:32: mounts[0].readonyl: unknown key (did you mean "
		     "'readonly'?)");
	expect_error(CT "mounts:\n  - {source: data, target: /d}\n"
		     "  - {source: data, target: d}\n",
		     "5:28: mounts[1].target: must be an absolute path, got 'd'");
	expect_error(CT "nets:\n  - bridge: br0\n    address: 10.0.0.300/24\n",
		     "5:14: nets[0].address: bad CIDR address '10.0.0.300/24' "
		     "(use an IPv4 address and a prefix length, e.g. "
		     "10.0.0.2/24)");
	expect_error(CT "nets: [{bridge: br0, address: 10.0.0.2}]\n",
		     "3:31: nets[0].address: bad CIDR address '10.0.0.2' (use "
		     "an IPv4 address and a prefix length, e.g. 10.0.0.2/24)");
	expect_error(CT "nets: [{bridge: br0, address: 10.0.0.2/33}]\n",
		     "3:31: nets[0].address: bad CIDR address '10.0.0.2/33' "
		     "(use an IPv4 address and a prefix length, e.g. "
		     "10.0.0.2/24)");
	expect_error(CT "nets: [{bridge: br0, gateway: gw}]\n",
		     "3:31: nets[0].gateway: bad IPv4 address 'gw'");
	expect_error(CT "nets: [{bridge: a-very-long-bridge-name}]\n",
		     "3:17: nets[0].bridge: bad interface name "
		     "'a-very-long-bridge-name' (1 to 15 characters, no '/', "
		     "':' or spaces)");
}

static void test_err_bad_name(void **state)
{
	(void)state;
	expect_error("name: 'my vm'\nkernel: vmlinuz\n",
		     "1:7: name: invalid name 'my vm' (use letters, digits, "
		     "'.', '_' and '-', not starting with '.' or '-')");
	/* The default name comes from the file name, so is checked too. */
	expect_error_in("my vm.yaml", "kernel: vmlinuz\n",
			"1:1: name: invalid name 'my vm' (use letters, digits, "
			"'.', '_' and '-', not starting with '.' or '-')");
	expect_error(CT "hostname: ''\n",
		     "3:11: hostname: must be 1 to 64 characters long");
}

static void test_err_syntax(void **state)
{
	(void)state;
	expect_error("kernel: vmlinuz\nvcpus: [1, 2\n",
		     "3:1: syntax error: did not find expected ',' or ']' "
		     "(while parsing a flow sequence at line 2, column 8)");
	expect_error("kernel: vmlinuz\nvcpus: 1: 2\n",
		     "2:9: syntax error: mapping values are not allowed in "
		     "this context");
	expect_error("kernel: *nope\n",
		     "1:9: syntax error: found undefined alias");
	expect_error("kernel: vmlinuz\ncmdline: \xff\n",
		     "2:10: syntax error: invalid leading UTF-8 octet");
	expect_error("kernel: vmlinuz\n\tvcpus: 1\n",
		     "2:1: syntax error: found a tab character that violates "
		     "indentation (while scanning a plain scalar at line 1, "
		     "column 9)");
}

/* Alias amplification: libyaml shares an anchored node, the loader
 * copies it per reference, so the expanded document is capped; a node
 * containing itself is refused. Modest aliases still load. */
static void test_err_alias_amplification(void **state)
{
	size_t big = 100 * 1024, i;
	char *text = malloc(big + 21 * 8 + 256), *p = text;
	struct guest_config cfg;

	(void)state;
	assert_non_null(text);
	p += sprintf(p, CT "command: [&b ");
	memset(p, 'x', big);
	p += big;
	for (i = 0; i < 20; i++)
		p += sprintf(p, ", *b");
	sprintf(p, "]\n");
	expect_error(text, "3:10: the document is too large once its aliases "
		     "are expanded (more than 1048576 bytes of values or "
		     "100000 nodes): write it out without aliases");
	free(text);
	expect_error(CT "x: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		     "y: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		     "z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		     "w: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		     "v: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		     "u: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
		     "8:4: the document is too large once its aliases are "
		     "expanded (more than 1048576 bytes of values or 100000 "
		     "nodes): write it out without aliases");
	expect_error(CT "env: &e {A: *e}\n",
		     "3:6: an alias refers to a node that contains it");
	load_ok("hello.yaml", CT "command: [&c /bin/sh, *c, *c]\n"
		"env: {A: &v x, B: *v}\n", &cfg);
	assert_int_equal(cfg.ct.ncommand, 3);
	assert_string_equal(cfg.ct.command[2], "/bin/sh");
	config_free(&cfg);
}

static void test_err_empty(void **state)
{
	(void)state;
	expect_error("", "1:1: empty file (expected a mapping of keys, e.g. "
		     "'kernel: vmlinuz')");
	expect_error("# only a comment\n\n",
		     "1:1: empty file (expected a mapping of keys, e.g. "
		     "'kernel: vmlinuz')");
	expect_error("---\n", "1:1: empty file (expected a mapping of keys, "
		     "e.g. 'kernel: vmlinuz')");
}

static void test_err_not_mapping(void **state)
{
	(void)state;
	expect_error("- kernel: vmlinuz\n",
		     "1:1: the top level must be a mapping of keys, got a list");
	expect_error("\nhello\n",
		     "2:1: the top level must be a mapping of keys, got 'hello'");
	expect_error("0123456789012345678901234567890123456789xyz\n",
		     "1:1: the top level must be a mapping of keys, got "
		     "'0123456789012345678901234567890123456789...'");
	expect_error("kernel: vmlinuz\n---\nkernel: vmlinuz\n",
		     "2:1: only one YAML document is allowed in a guest file");
}

static void test_err_no_file(void **state)
{
	struct guest_config cfg;
	struct error err = { 0 };
	char path[PATH_MAX + 64], want[PATH_MAX + 128];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.yaml", dir);
	assert_int_equal(config_load(path, &cfg, &err), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err.msg, want);
	assert_zeroed(&cfg);

	snprintf(path, sizeof(path), "%s/data", dir);
	assert_int_equal(config_load(path, &cfg, &err), -1);
	snprintf(want, sizeof(want), "%s: Is a directory", path);
	assert_string_equal(err.msg, want);
	assert_zeroed(&cfg);
}

/* Errors after lists, maps and strings were allocated free them all
 * (LeakSanitizer checks this in the ASan build). */
static void test_err_frees_partial_state(void **state)
{
	(void)state;
	expect_error(CT "command: [a, b]\nenv: {A: 1}\nhostname: h\n"
		     "mounts: [{source: data, target: /data}]\n"
		     "nets: [{bridge: br0, address: 10.0.0.2/24}]\nbogus: 1\n",
		     "8:1: bogus: unknown key");
	expect_error(CT "mounts:\n  - {source: data, target: /a}\n"
		     "  - {source: data, target: /b, readonly: 2}\n",
		     "5:42: mounts[1].readonly: expected true or false, got "
		     "'2'");
	expect_error(CT "command: [a, b, {c: d}]\n",
		     "3:17: command[2]: expected a string, got a map");
	expect_error(CT "env: {A: 1, B: {}}\n",
		     "3:16: env.B: expected a string, got a map");
	expect_error("name: x\nkernel: vmlinuz\ncmdline: c\ninitrd: nope\n",
		     "4:9: initrd: no such file 'nope' (resolved to %s/nope)",
		     dir);
}

/* ---- config_free, config_help ---- */

static void test_free_zeroed(void **state)
{
	struct guest_config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	config_free(&cfg);
	config_free(&cfg);
	config_free(NULL);
	assert_zeroed(&cfg);
}

static char *help_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_help(f);
	fclose(f);
	return buf;
}

static void assert_help_has_keys(const char *help, const struct key_table *t,
				 const char *prefix)
{
	char want[256];

	for (size_t i = 0; i < t->nkeys; i++) {
		const struct key *k = &t->keys[i];

		snprintf(want, sizeof(want), "\n  %s%s  (", prefix, k->name);
		if (!strstr(help, want))
			fail_msg("help lacks key %s%s", prefix, k->name);
		if (!strstr(help, k->help))
			fail_msg("help lacks text of %s", k->name);
		if (k->type == KT_MAP_LIST) {
			snprintf(want, sizeof(want), "%s%s[].", prefix,
				 k->name);
			assert_help_has_keys(help, k->sub, want);
		}
	}
}

static void test_help(void **state)
{
	char *help = help_text();

	(void)state;
	assert_help_has_keys(help, &schema_common, "");
	for (size_t i = 0; i < schema_nkinds; i++)
		assert_help_has_keys(help, schema_kinds[i].table, "");
	assert_non_null(strstr(help, "\n  vcpus  (vm)\n      type: integer; "
			       "range: 1 to 255; default: 1\n"));
	assert_non_null(strstr(help, "\n  memory  (vm)\n      type: size; "
			       "range: 32M to 1T; default: 256M\n"));
	assert_non_null(strstr(help, "\n  memory  (container)\n      type: "
			       "size; default: 0 (unlimited)\n"));
	assert_non_null(strstr(help, "\n  kernel  (vm)\n      type: path; "
			       "default: required\n"));
	assert_non_null(strstr(help, "\n  kind  (vm, container)\n      type: "
			       "choice; range: vm | container; default: vm\n"));
	assert_non_null(strstr(help, "\n  cpus  (container)\n      type: "
			       "number; range: > 0; default: 0 (unlimited)\n"));
	assert_non_null(strstr(help, "\n  nets[].bridge  (container)\n"));
	assert_non_null(strstr(help, "\n  disks[].slot  (vm)\n      type: "
			       "integer; range: 1 to 31; default: the next "
			       "free one"));
	assert_non_null(strstr(help, "\n  nets[].slot  (vm)\n"));
	free(help);
}

/* ---- the schema table itself ---- */

static void check_table(const struct key_table *t)
{
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct key *k = &t->keys[i];

		assert_non_null(k->help);
		for (size_t j = i + 1; j < t->nkeys; j++)
			assert_string_not_equal(k->name, t->keys[j].name);
		if (k->type == KT_ENUM)
			assert_non_null(k->choices);
		if (k->type == KT_MAP_LIST) {
			assert_non_null(k->sub);
			assert_true(k->item_size > 0);
			check_table(k->sub);
		}
		/* Only scalars and string lists take a textual default. */
		if (k->type == KT_STR_MAP || k->type == KT_MAP_LIST)
			assert_true(!k->def && !k->def_fn);
		if (k->flags & KF_REQUIRED)
			assert_true(!k->def && !k->def_fn);
	}
}

static bool owns_memory(const struct key *k)
{
	return k->type == KT_STRING || k->type == KT_PATH ||
	       k->type == KT_STR_LIST || k->type == KT_STR_MAP ||
	       k->type == KT_MAP_LIST;
}

/* config_free() walks every table: no two may free the same field. */
static void check_disjoint(const struct key_table *a,
			   const struct key_table *b)
{
	for (size_t i = 0; i < a->nkeys; i++) {
		for (size_t j = 0; j < b->nkeys; j++) {
			if (a == b && i == j)
				continue;
			if (owns_memory(&a->keys[i]) && owns_memory(&b->keys[j]))
				assert_int_not_equal(a->keys[i].off,
						     b->keys[j].off);
		}
	}
}

static void test_schema_table(void **state)
{
	const struct key_table *all[8] = { &schema_common };
	size_t n = 1;

	(void)state;
	check_table(&schema_common);
	for (size_t i = 0; i < schema_nkinds; i++) {
		const struct key_table *t = schema_kinds[i].table;

		check_table(t);
		assert_true(schema_common.nkeys + t->nkeys <= SCHEMA_MAX_KEYS);
		for (size_t j = 0; j < t->nkeys; j++)
			assert_null(schema_find(&schema_common,
						t->keys[j].name));
		all[n++] = t;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i; j < n; j++)
			check_disjoint(all[i], all[j]);
	assert_non_null(schema_kind(GUEST_VM));
	assert_non_null(schema_kind(GUEST_CONTAINER));
}

static void test_codecs(void **state)
{
	uint64_t v;
	int64_t i;
	double d;
	bool b;
	uid_t uid;
	gid_t gid;
	char buf[32];

	(void)state;
	assert_int_equal(schema_parse_size("512M", &v), 0);
	assert_int_equal(v, 512 * MIB);
	assert_int_equal(schema_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(schema_parse_size("123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(schema_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(schema_parse_size("18446744073709551616", &v), -1);
	assert_int_equal(schema_parse_size("16777216T", &v), -1);
	assert_int_equal(schema_parse_size("", &v), -1);
	assert_int_equal(schema_parse_size("M", &v), -1);
	assert_int_equal(schema_parse_size("1MB", &v), -1);
	assert_int_equal(schema_parse_size(" 1M", &v), -1);
	assert_int_equal(schema_parse_int("-12", &i), 0);
	assert_int_equal(i, -12);
	assert_int_equal(schema_parse_int("0x10", &i), -1);
	assert_int_equal(schema_parse_int("", &i), -1);
	assert_int_equal(schema_parse_number("1e3", &d), 0);
	assert_true(d == 1000);
	assert_int_equal(schema_parse_number("inf", &d), -1);
	assert_int_equal(schema_parse_number("1e999", &d), -1);
	assert_int_equal(schema_parse_seconds("60s", &d), 0);
	assert_true(d == 60);
	assert_int_equal(schema_parse_seconds("2m", &d), 0);
	assert_true(d == 120);
	assert_int_equal(schema_parse_seconds("1h", &d), 0);
	assert_true(d == 3600);
	assert_int_equal(schema_parse_seconds("250ms", &d), 0);
	assert_true(d == 0.25);
	assert_int_equal(schema_parse_seconds("7", &d), 0);
	assert_true(d == 7);
	assert_int_equal(schema_parse_seconds("s", &d), -1);
	assert_int_equal(schema_parse_seconds("5 s", &d), -1);
	assert_int_equal(schema_parse_seconds("5d", &d), -1);
	assert_int_equal(schema_parse_seconds("1e308h", &d), -1);
	assert_int_equal(schema_parse_bool("Yes", &b), 0);
	assert_true(b);
	assert_int_equal(schema_parse_bool("1", &b), -1);
	assert_int_equal(schema_parse_user("0:0", &uid, &gid), 0);
	assert_int_equal(schema_parse_user("65534:100", &uid, &gid), 0);
	assert_int_equal(uid, 65534);
	assert_int_equal(gid, 100);
	assert_int_equal(schema_parse_user("4294967295:0", &uid, &gid), -1);
	assert_int_equal(schema_parse_user(":0", &uid, &gid), -1);
	assert_int_equal(schema_parse_user("1:2:3", &uid, &gid), -1);
	schema_format_size(256 * MIB, buf, sizeof(buf));
	assert_string_equal(buf, "256M");
	schema_format_size(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1536");
	schema_format_size(3 * 1024, buf, sizeof(buf));
	assert_string_equal(buf, "3K");
	schema_format_size(0, buf, sizeof(buf));
	assert_string_equal(buf, "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_full),
		cmocka_unit_test(test_vm_slots),
		cmocka_unit_test(test_assign_slots_errors),
		cmocka_unit_test(test_err_slots),
		cmocka_unit_test(test_vm_defaults),
		cmocka_unit_test(test_name_from_file),
		cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_absolute_path),
		cmocka_unit_test(test_relative_config_path),
		cmocka_unit_test(test_container_full),
		cmocka_unit_test(test_container_defaults),
		cmocka_unit_test(test_command_string),
		cmocka_unit_test(test_kind_anywhere),
		cmocka_unit_test(test_env_list_and_empty),
		cmocka_unit_test(test_scalar_forms),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_wrong_kind),
		cmocka_unit_test(test_vm_devices),
		cmocka_unit_test(test_err_vm_devices),
		cmocka_unit_test(test_err_bad_int),
		cmocka_unit_test(test_err_bad_size),
		cmocka_unit_test(test_err_bad_number),
		cmocka_unit_test(test_err_bad_choice),
		cmocka_unit_test(test_err_wrong_type),
		cmocka_unit_test(test_err_missing_required),
		cmocka_unit_test(test_err_missing_file),
		cmocka_unit_test(test_err_wrong_file_type),
		cmocka_unit_test(test_err_duplicate),
		cmocka_unit_test(test_err_nested),
		cmocka_unit_test(test_err_bad_name),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_alias_amplification),
		cmocka_unit_test(test_err_empty),
		cmocka_unit_test(test_err_not_mapping),
		cmocka_unit_test(test_err_no_file),
		cmocka_unit_test(test_err_frees_partial_state),
		cmocka_unit_test(test_free_zeroed),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_schema_table),
		cmocka_unit_test(test_codecs),
		cmocka_unit_test(test_restart_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

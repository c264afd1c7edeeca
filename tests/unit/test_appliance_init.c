/* Unit tests for the host-testable parts of `vessel init` (the appliance's
 * PID 1): load-order parsing, the ext4 superblock probe (on images made by
 * mkfs.ext4) and finding the data filesystem by label in a sysfs-like
 * tree. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
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

#include "../../tools/appliance/init.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
	char tmpl[] = "/tmp/vessel-init-XXXXXX";

	(void)state;
	if (!mkdtemp(tmpl) || !realpath(tmpl, dir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void parse_ok(const char *text, struct module_list *ml)
{
	struct error err = { 0 };
	int rc = modules_parse(text, strlen(text), "/lib/modules/6.1.0-x", ml,
			       &err);

	if (rc)
		print_error("unexpected error: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

static void test_load_order(void **state)
{
	struct module_list ml;

	(void)state;
	parse_ok("kernel/net/802/stp.ko\n"
		 "  # a comment\n"
		 "\n"
		 "kernel/net/bridge/bridge.ko  \r\n"
		 "/lib/modules/6.1.0-x/kernel/fs/ext4/ext4.ko\n"
		 "kernel/drivers/virtio/virtio.ko.xz", &ml);
	assert_int_equal(ml.n, 4);
	assert_string_equal(ml.paths[0], "/lib/modules/6.1.0-x/kernel/net/802/stp.ko");
	assert_string_equal(ml.paths[1], "/lib/modules/6.1.0-x/kernel/net/bridge/bridge.ko");
	assert_string_equal(ml.paths[2], "/lib/modules/6.1.0-x/kernel/fs/ext4/ext4.ko");
	assert_string_equal(ml.paths[3], "/lib/modules/6.1.0-x/kernel/drivers/virtio/virtio.ko.xz");
	modules_free(&ml);
	assert_int_equal(ml.n, 0);
	assert_null(ml.paths);
	parse_ok("", &ml);
	assert_int_equal(ml.n, 0);
	modules_free(&ml);
	parse_ok("a..b/x..ko\n", &ml);	/* ".." only as a component */
	assert_int_equal(ml.n, 1);
	modules_free(&ml);
}

static void test_load_order_bad(void **state)
{
	char long_line[700];
	struct module_list ml;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(modules_parse("ok.ko\n../../etc/x.ko\n", 22,
				       "/lib/modules/k", &ml, &err), -1);
	assert_string_equal(err.msg, "load-order:2: '..' in '../../etc/x.ko'");
	assert_int_equal(ml.n, 0);
	assert_int_equal(modules_parse("a/../b.ko", 9, "/m", &ml, &err), -1);
	memset(long_line, 'a', sizeof(long_line));
	assert_int_equal(modules_parse(long_line, sizeof(long_line), "/m", &ml,
				       &err), -1);
	assert_string_equal(err.msg, "load-order:1: line too long");
	assert_int_equal(modules_parse("a.ko\nb\0c.ko\n", 12, "/m", &ml, &err),
			 -1);
	assert_string_equal(err.msg, "load-order:2: NUL byte");
}

static void test_modules_load_missing(void **state)
{
	struct module_list ml;
	size_t loaded = 99, absent = 99;

	(void)state;
	parse_ok("/nonexistent/a.ko\n/nonexistent/b.ko\n", &ml);
	/* Opening fails before any finit_module(): nothing is loaded. */
	assert_int_equal(modules_load(&ml, &loaded, &absent), 2);
	assert_int_equal(loaded, 0);
	assert_int_equal(absent, 0);
	modules_free(&ml);
}

/* dir/NAME: an ext4 image made by mkfs.ext4 (skip if there is none). */
static bool mkfs(const char *name, const char *label)
{
	char cmd[3 * PATH_MAX + 512];

	snprintf(cmd, sizeof(cmd), "command -v mkfs.ext4 >/dev/null && "
		 "truncate -s 16M '%s/%s' && mkfs.ext4 -q -F %s%s '%s/%s'",
		 dir, name, label ? "-L " : "", label ? label : "", dir, name);
	return system(cmd) == 0;
}

static int open_in(const char *name, int flags)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, flags);
}

static void poke16(int fd, off_t off, unsigned v)
{
	unsigned char b[2] = { v & 0xff, v >> 8 };

	assert_int_equal(pwrite(fd, b, 2, off), 2);
}

static void test_ext4_probe(void **state)
{
	struct ext4_info info;
	struct error err = { 0 };
	unsigned char b[4];
	int fd;

	(void)state;
	if (!mkfs("data.img", "vessel-data"))
		skip();
	fd = open_in("data.img", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(ext4_probe(fd, &info, &err), 1);
	assert_string_equal(info.label, "vessel-data");
	assert_true(info.clean);
	/* The journal needs recovery (mounted, never unmounted). */
	assert_int_equal(pread(fd, b, 4, 1024 + 0x60), 4);
	b[0] |= 0x04;
	assert_int_equal(pwrite(fd, b, 4, 1024 + 0x60), 4);
	assert_int_equal(ext4_probe(fd, &info, &err), 1);
	assert_false(info.clean);
	b[0] &= ~0x04;
	assert_int_equal(pwrite(fd, b, 4, 1024 + 0x60), 4);
	/* s_state without EXT2_VALID_FS, then with EXT2_ERROR_FS. */
	poke16(fd, 1024 + 0x3a, 0);
	assert_int_equal(ext4_probe(fd, &info, &err), 1);
	assert_false(info.clean);
	poke16(fd, 1024 + 0x3a, 3);
	assert_int_equal(ext4_probe(fd, &info, &err), 1);
	assert_false(info.clean);
	poke16(fd, 1024 + 0x3a, 1);
	assert_int_equal(ext4_probe(fd, &info, &err), 1);
	assert_true(info.clean);
	/* Not ext4: a wrong magic, a short file. */
	poke16(fd, 1024 + 0x38, 0x1234);
	assert_int_equal(ext4_probe(fd, &info, &err), 0);
	assert_int_equal(ftruncate(fd, 1500), 0);
	assert_int_equal(ext4_probe(fd, &info, &err), 0);
	close(fd);
}

static void mkdir_in(const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void test_find_label(void **state)
{
	char sys[PATH_MAX + 8], devdir[PATH_MAX + 8], dev[16];
	struct ext4_info info;
	struct error err = { 0 };
	int fd;

	(void)state;
	mkdir_in("sys");
	mkdir_in("sys/class");
	mkdir_in("sys/class/block");
	mkdir_in("dev");
	/* vda: no filesystem; vdb: ext4 of another label; vdc2: ours (a
	 * partition); vdd: in sysfs, no node (a device that went away). */
	mkdir_in("sys/class/block/vda");
	mkdir_in("sys/class/block/vdb");
	mkdir_in("sys/class/block/vdc2");
	mkdir_in("sys/class/block/vdd");
	fd = open_in("dev/vda", O_RDWR | O_CREAT);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	if (!mkfs("dev/vdb", "other") || !mkfs("dev/vdc2", "vessel-data"))
		skip();
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	snprintf(devdir, sizeof(devdir), "%s/dev", dir);
	assert_int_equal(find_label(sys, devdir, "vessel-data", dev,
				    sizeof(dev), &info, &err), 1);
	assert_string_equal(dev, "vdc2");
	assert_string_equal(info.label, "vessel-data");
	assert_true(info.clean);
	assert_int_equal(find_label(sys, devdir, "nope", dev, sizeof(dev),
				    &info, &err), 0);
	assert_int_equal(find_label("/nonexistent", devdir, "x", dev,
				    sizeof(dev), &info, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_order),
		cmocka_unit_test(test_load_order_bad),
		cmocka_unit_test(test_modules_load_missing),
		cmocka_unit_test(test_ext4_probe),
		cmocka_unit_test(test_find_label),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for host_config_load() / host_config_free() (host.yaml of the
 * appliance, issue #14). Each test writes a host.yaml into a private temp
 * dir. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/appliance/host_config.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)

static char dir[PATH_MAX];	/* canonical temp dir */
static char path[PATH_MAX + 64];	/* dir/host.yaml */

static int setup(void **state)
{
	char tmpl[] = "/tmp/vessel-host-config-XXXXXX";

	(void)state;
	if (!mkdtemp(tmpl) || !realpath(tmpl, dir))
		return -1;
	snprintf(path, sizeof(path), "%s/host.yaml", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_yaml(const char *yaml)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);
}

static void load_ok(const char *yaml, struct host_config *hc)
{
	struct error err = { 0 };
	int rc;

	write_yaml(yaml);
	rc = host_config_load(path, hc, &err);
	if (rc != 0)
		print_error("unexpected error: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

static void assert_zeroed(const struct host_config *hc)
{
	static const struct host_config zero;

	assert_memory_equal(hc, &zero, sizeof(zero));
}

/* Load yaml and expect exactly "<path>:<fmt...>", with hc left zeroed. */
static void expect_error(const char *yaml, const char *fmt, ...)
{
	char want[PATH_MAX + 2048], tail[1024];
	struct host_config hc;
	struct error err = { 0 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	snprintf(want, sizeof(want), "%s:%s", path, tail);
	write_yaml(yaml);
	assert_int_equal(host_config_load(path, &hc, &err), -1);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.input, 1);
	assert_zeroed(&hc);
}

static void test_full(void **state)
{
	struct host_config hc;
	char want[PATH_MAX + 64];

	(void)state;
	load_ok("hostname: edge-1\n"
		"console: ttyAMA0\n"
		"kernel: boot/vmlinuz-6.1.0-x\n"
		"modules: [e1000, ip_tables]\n"
		"bridges:\n"
		"  - {name: br0, address: 10.0.0.1/24, interfaces: [eth0, eth1]}\n"
		"  - name: br1\n"
		"data: {size: 4G}\n"
		"watchdog: 60s\n"
		"rescue_shell: false\n", &hc);
	assert_string_equal(hc.file, path);
	assert_string_equal(hc.hostname, "edge-1");
	assert_string_equal(hc.console, "ttyAMA0");
	/* Resolved against the file's dir, whether it exists or not. */
	snprintf(want, sizeof(want), "%s/boot/vmlinuz-6.1.0-x", dir);
	assert_string_equal(hc.kernel, want);
	assert_int_equal(hc.nmodules, 2);
	assert_string_equal(hc.modules[0], "e1000");
	assert_string_equal(hc.modules[1], "ip_tables");
	assert_int_equal(hc.nbridges, 2);
	assert_string_equal(hc.bridges[0].name, "br0");
	assert_string_equal(hc.bridges[0].address, "10.0.0.1/24");
	assert_int_equal(hc.bridges[0].ninterfaces, 2);
	assert_string_equal(hc.bridges[0].interfaces[0], "eth0");
	assert_string_equal(hc.bridges[0].interfaces[1], "eth1");
	assert_string_equal(hc.bridges[1].name, "br1");
	assert_null(hc.bridges[1].address);
	assert_int_equal(hc.bridges[1].ninterfaces, 0);
	assert_int_equal(hc.data_size, 4 * GIB);
	assert_true(hc.watchdog == 60);
	assert_false(hc.rescue_shell);
	host_config_free(&hc);
	assert_zeroed(&hc);
}

static void test_defaults(void **state)
{
	static const char *const files[] = { "", "# nothing\n", "~\n",
					     "data:\nwatchdog:\n" };
	struct host_config hc;

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		load_ok(files[i], &hc);
		assert_string_equal(hc.hostname, "vessel");
		assert_string_equal(hc.console, "ttyS0");
		assert_null(hc.kernel);
		assert_int_equal(hc.nmodules, 0);
		assert_int_equal(hc.nbridges, 0);
		assert_int_equal(hc.data_size, 0);
		assert_true(hc.watchdog == 0);
		assert_true(hc.rescue_shell);
		host_config_free(&hc);
	}
}

static void test_units(void **state)
{
	struct host_config hc;

	(void)state;
	load_ok("watchdog: 2m\ndata:\n  size: 512M\nmodules: e1000\n", &hc);
	assert_true(hc.watchdog == 120);
	assert_int_equal(hc.data_size, 512 * MIB);
	assert_int_equal(hc.nmodules, 1);
	assert_string_equal(hc.modules[0], "e1000");
	host_config_free(&hc);
	load_ok("watchdog: 30\nkernel: /boot/vmlinuz\n", &hc);
	assert_true(hc.watchdog == 30);
	assert_string_equal(hc.kernel, "/boot/vmlinuz");
	host_config_free(&hc);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("hostname: edge-1\nbridges:\n"
		     "  - {name: br0, address: 10.0.0.1}\n",
		     "3: bridges[0].address: expected A.B.C.D/N, got "
		     "'10.0.0.1'");
	expect_error("hostnme: x\n",
		     "1: hostnme: unknown key (did you mean 'hostname'?)");
	expect_error("bridges:\n  - {name: br0, mtu: 9000}\n",
		     "2: bridges[0].mtu: unknown key");
	expect_error("data: {size: 4X}\n",
		     "1: data.size: bad size '4X' (use a number with an "
		     "optional K, M or G suffix)");
	expect_error("data: {size: 1M}\n",
		     "1: data.size: expected a size from 16M to 16T, got '1M'");
	expect_error("data: {}\n", "1: data.size: missing required key");
	expect_error("data: 4G\n", "1: data: expected a map, got '4G'");
	expect_error("watchdog: soon\n",
		     "1: watchdog: expected a number 1 to 3600 (seconds, or "
		     "with an ms, s, m or h suffix), got 'soon'");
	expect_error("watchdog: 0\n",
		     "1: watchdog: expected a number 1 to 3600 (seconds, or "
		     "with an ms, s, m or h suffix), got '0'");
	expect_error("rescue_shell: maybe\n",
		     "1: rescue_shell: expected true or false, got 'maybe'");
	expect_error("hostname: -bad\n",
		     "1: hostname: expected a host name (1 to 64 letters, "
		     "digits, '-' and '.'), got '-bad'");
	expect_error("console: /dev/ttyS0\n",
		     "1: console: expected a console device name such as "
		     "ttyS0 (letters and digits), got '/dev/ttyS0'");
	expect_error("modules: [e1000, 'a b']\n",
		     "1: modules[1]: expected a module name (letters, digits, "
		     "'_' and '-'), got 'a b'");
	expect_error("bridges:\n  - name: averyveryverylongname\n",
		     "2: bridges[0].name: expected an interface name (1 to 15 "
		     "characters, no '/', ':' or spaces), got "
		     "'averyveryverylongname'");
	expect_error("bridges:\n  - address: 10.0.0.1/24\n",
		     "2: bridges[0].name: missing required key");
	expect_error("bridges: br0\n",
		     "1: bridges: expected a list of maps, got 'br0'");
	expect_error("- a\n- b\n",
		     "1: the top level must be a mapping of keys, got a list");
	expect_error("hostname: a\nhostname: b\n",
		     "2: hostname: duplicate key (first set at line 1)");
	expect_error("hostname: [a\n",
		     "2: syntax error: did not find expected ',' or ']' (while "
		     "parsing a flow sequence at line 1, column 11)");
	expect_error("hostname: a\n---\nhostname: b\n",
		     "2: only one YAML document is allowed in a host file");
}

static void test_cross_checks(void **state)
{
	char want[PATH_MAX + 256];
	struct host_config hc;
	struct error err = { 0 };

	(void)state;
	write_yaml("bridges:\n  - {name: br0}\n  - {name: br0}\n");
	assert_int_equal(host_config_load(path, &hc, &err), -1);
	snprintf(want, sizeof(want), "%s: bridges[1].name: 'br0' is "
		 "bridges[0] already", path);
	assert_string_equal(err.msg, want);
	assert_zeroed(&hc);

	write_yaml("bridges:\n  - {name: br0, interfaces: [eth0]}\n"
		   "  - {name: br1, interfaces: [eth1, eth0]}\n");
	assert_int_equal(host_config_load(path, &hc, &err), -1);
	snprintf(want, sizeof(want), "%s: bridges[1].interfaces[1]: 'eth0' is "
		 "a port of bridges[0] already", path);
	assert_string_equal(err.msg, want);

	write_yaml("bridges:\n  - {name: br0, interfaces: [eth0, eth0]}\n");
	assert_int_equal(host_config_load(path, &hc, &err), -1);
	snprintf(want, sizeof(want), "%s: bridges[0].interfaces[1]: 'eth0' is "
		 "a port of bridges[0] already", path);
	assert_string_equal(err.msg, want);
}

static void test_missing_file(void **state)
{
	struct host_config hc;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(host_config_load("/nonexistent/host.yaml", &hc, &err),
			 -1);
	assert_non_null(strstr(err.msg, "/nonexistent/host.yaml"));
	assert_zeroed(&hc);
	host_config_free(&hc);	/* harmless on a zeroed struct */
	host_config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

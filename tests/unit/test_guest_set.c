/* Unit tests for guest_set_load() (tools/guest_set.c), the loading half of
 * `vessel up`, `vessel down` and `vessel init`: which files count, the
 * order, autostart, and how errors are reported. */
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/guest_set.h"

static char dir[PATH_MAX];
static char reported[8][1200];
static size_t nreported;

static void report(enum guest_event ev, const char *name, pid_t pid,
		   const char *msg)
{
	(void)pid;
	if (nreported < 8)
		snprintf(reported[nreported++], sizeof(reported[0]), "%d %s %s",
			 (int)ev, name ? name : "-", msg ? msg : "-");
}

static void write_in(const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/vessel-guest-set-XXXXXX", path[PATH_MAX + 16];

	(void)state;
	if (!mkdtemp(tmpl) || !realpath(tmpl, dir))
		return -1;
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	return mkdir(path, 0755);
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

#define CT "kind: container\nrootfs: rootfs\n"

static void test_order_and_autostart(void **state)
{
	struct guest_set s;

	(void)state;
	nreported = 0;
	write_in("web.yaml", CT "autostart: true\norder: 2\n");
	write_in("db.yml", CT "autostart: true\norder: 1\n");
	write_in("cache.yaml", CT "autostart: true\norder: 2\n");
	write_in("manual.yaml", CT);
	write_in(".hidden.yaml", "not: [valid");
	write_in("notes.txt", "not yaml");
	assert_int_equal(guest_set_load(dir, false, &s, report), 0);
	assert_int_equal(nreported, 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].name, "db");
	assert_string_equal(s.v[1].name, "cache");	/* ties by name */
	assert_string_equal(s.v[2].name, "web");
	guest_set_free(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	/* all: the appliance starts every guest, autostart or not. */
	assert_int_equal(guest_set_load(dir, true, &s, report), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.v[0].name, "manual");	/* order 0 */
	guest_set_free(&s);
}

static void test_errors(void **state)
{
	struct guest_set s;
	char want[PATH_MAX * 2 + 64];

	(void)state;
	nreported = 0;
	write_in("a.yaml", CT "name: same\n");
	write_in("b.yaml", CT "name: same\n");
	write_in("c.yaml", CT "vcpus: 2\n");
	assert_int_equal(guest_set_load(dir, true, &s, report), -1);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	/* Every bad file is reported, not only the first. */
	assert_int_equal(nreported, 2);
	for (size_t i = 0; i < nreported; i++) {
		if (strstr(reported[i], "both define")) {
			snprintf(want, sizeof(want), "%d - %s/", GUEST_FAILED, dir);
			assert_memory_equal(reported[i], want, strlen(want));
			assert_non_null(strstr(reported[i], " both define same"));
		} else {
			assert_non_null(strstr(reported[i], "c.yaml:3:1: vcpus: "
					       "only valid with kind: vm"));
		}
	}
	nreported = 0;
	assert_int_equal(guest_set_load("/nonexistent", true, &s, report), -1);
	assert_int_equal(nreported, 1);
	snprintf(want, sizeof(want), "%d - /nonexistent: No such file or "
		 "directory", GUEST_FAILED);
	assert_string_equal(reported[0], want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_autostart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

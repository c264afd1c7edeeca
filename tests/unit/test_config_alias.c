/* Unit tests for the YAML loader's guard against alias amplification
 * (tools/config.c): a big anchor referenced many times, nested aliases
 * ("billion laughs"), and a node containing itself are refused with
 * file:line:col; modest aliases still load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/config.h"

static char path[] = "/tmp/vessel-alias-XXXXXX";

static int load(const char *text, struct guest_config *cfg,
		struct error *err)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return config_load(path, cfg, err);
}

static void expect_refused(const char *text, const char *where,
			   const char *msg)
{
	struct guest_config cfg;
	struct error err;
	char want[256];

	assert_int_equal(load(text, &cfg, &err), -1);
	snprintf(want, sizeof(want), "%s:%s: %s", path, where, msg);
	if (!strstr(err.msg, want))
		fail_msg("got '%s', want '%s'", err.msg, want);
}

static void test_big_anchor(void **state)
{
	size_t big = 100 * 1024, n = 20, i;
	char *text = malloc(big + n * 8 + 256), *p = text;

	(void)state;
	assert_non_null(text);
	p += sprintf(p, "kind: container\nname: a\nrootfs: /\ncommand: [&b ");
	memset(p, 'x', big);
	p += big;
	for (i = 0; i < n; i++)
		p += sprintf(p, ", *b");
	sprintf(p, "]\n");
	expect_refused(text, "4:10", "the document is too large once its "
		       "aliases are expanded");
	free(text);
}

static void test_laughs(void **state)
{
	(void)state;
	expect_refused("kind: container\nname: a\nrootfs: /\n"
		       "x: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		       "y: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		       "z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		       "w: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		       "v: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		       "u: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
		       "9:4", "the document is too large");
}

static void test_self_reference(void **state)
{
	(void)state;
	expect_refused("kind: container\nname: a\nrootfs: /\nenv: &e {A: *e}\n",
		       "4:6", "an alias refers to a node that contains it");
}

static void test_modest_aliases_load(void **state)
{
	struct guest_config cfg;
	struct error err;

	(void)state;
	assert_int_equal(load("kind: container\nname: a\nrootfs: /\n"
			      "command: [&c /bin/sh, *c, *c]\n"
			      "env: {A: &v x, B: *v}\n", &cfg, &err), 0);
	assert_int_equal(cfg.ct.ncommand, 3);
	assert_string_equal(cfg.ct.command[2], "/bin/sh");
	config_free(&cfg);
}

static int setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_anchor),
		cmocka_unit_test(test_laughs),
		cmocka_unit_test(test_self_reference),
		cmocka_unit_test(test_modest_aliases_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for the tar reader (container/tar.c): the pax record parser
 * against every malformed record shape, strict header numbers, truncated
 * and corrupt archives, the size limit; and rmtree (container/rmtree.c):
 * symlinks in the tree are removed, never followed. */
#include <fcntl.h>
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

#include "../../container/rmtree.h"
#include "../../container/tar.h"

static struct tar_reader reader = { .archive = "x.tar" };

/* Parse records (a copy: the parser writes into it). */
static int pax(const char *records, struct tar_pax *nx, struct error *err)
{
	size_t n = strlen(records);
	char *buf = malloc(n + 1);
	int rc;

	assert_non_null(buf);
	memcpy(buf, records, n + 1);
	memset(nx, 0, sizeof(*nx));
	err_clear(err);
	rc = tar_parse_pax(&reader, buf, n, 512, nx, err);
	free(buf);
	return rc;
}

static void pax_free(struct tar_pax *nx)
{
	free(nx->path);
	free(nx->link);
}

static void expect_bad(const char *records, const char *msg)
{
	struct tar_pax nx;
	struct error err;

	if (pax(records, &nx, &err) != -1 || !strstr(err.msg, msg))
		fail_msg("'%s': got '%s', want '%s'", records, err.msg, msg);
	pax_free(&nx);
}

static void test_pax_good(void **state)
{
	struct tar_pax nx;
	struct error err;

	(void)state;
	assert_int_equal(pax("12 path=abc\n15 linkpath=de\n12 size=100\n"
			     "14 uid=100000\n10 gid=42\n23 mtime=1700000000.25\n"
			     "16 SCHILY.xx=yy\n", &nx, &err), 0);
	assert_string_equal(nx.path, "abc");
	assert_string_equal(nx.link, "de");
	assert_true(nx.has_size && nx.size == 100);
	assert_true(nx.has_uid && nx.uid == 100000);
	assert_true(nx.has_gid && nx.gid == 42);
	assert_true(nx.has_mtime && nx.mtime == 1700000000);
	pax_free(&nx);
	/* A value may hold '=' and spaces; an empty path unsets it. */
	assert_int_equal(pax("14 path=a=b c\n8 path=\n", &nx, &err), 0);
	assert_null(nx.path);
	pax_free(&nx);
	assert_int_equal(pax("", &nx, &err), 0);
	pax_free(&nx);
}

/* Every malformed shape, and the '1 ' record that once read out of
 * bounds. */
static void test_pax_malformed(void **state)
{
	(void)state;
	expect_bad("1 ", "offset 512: length too short for a record");
	expect_bad("2 ", "length too short for a record");
	expect_bad("3 \n", "no '=' in the record");
	expect_bad("4 x\n", "no '=' in the record");
	expect_bad("0 path=x\n", "length past the header");
	expect_bad("99 path=x\n", "length past the header");
	expect_bad("99999999999999999999999999 path=x\n",
		   "length past the header");
	expect_bad("a path=x\n", "no decimal length");
	expect_bad(" 9 path=x\n", "no decimal length");
	expect_bad("+9 path=x\n", "no decimal length");
	expect_bad("9path=xx\n", "no space after the length");
	expect_bad("5xxxx", "no space after the length");
	expect_bad("11 path=abcd", "no newline at the end");
	expect_bad("6 =xy\n", "empty key");
	expect_bad("12 size=12a\n", "bad size");
	expect_bad("11 size=-1\n", "bad size");
	expect_bad("8 size=\n", "bad size");
	expect_bad("32 size=99999999999999999999999\n", "bad size");
	expect_bad("19 uid=99999999999\n", "bad uid or gid");
	expect_bad("18 gid=4294967295\n", "bad uid or gid");
	expect_bad("15 mtime=1.2.3\n", "bad mtime");
	expect_bad("12 mtime=1.\n", "bad mtime");
	expect_bad("22 GNU.sparse.major=1\n", "sparse files are not supported");
	/* Good, then bad: the offset names the bad record. */
	expect_bad("12 path=abc\n1 ", "offset 524: length too short");
}

static void test_pax_nul_in_path(void **state)
{
	struct tar_pax nx;
	struct error err;
	char rec[] = "12 path=a\0c\n";

	(void)state;
	memset(&nx, 0, sizeof(nx));
	assert_int_equal(tar_parse_pax(&reader, rec, sizeof(rec) - 1, 0, &nx,
				       &err), -1);
	assert_non_null(strstr(err.msg, "NUL byte in a path"));
	pax_free(&nx);
}

/* ---- whole archives, written to a temporary file ---- */

static char archive[] = "/tmp/vessel-tar-XXXXXX";

static void header(unsigned char *h, const char *name, char type,
		   const char *size_field)
{
	unsigned sum = 0;
	int i;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	memcpy(h + 124, size_field, 12);
	memcpy(h + 136, "00000000000", 12);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static void write_archive(const void *data, size_t len)
{
	int fd = open(archive, O_WRONLY | O_TRUNC | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Read the whole archive: 1 if it ends well, -1 with err otherwise. */
static int read_all(struct error *err, uint64_t limit)
{
	struct tar_reader t;
	struct tar_entry e;
	char buf[4096];
	ssize_t n = 0;
	int rc;

	err_clear(err);
	if (tar_open(&t, archive, err) < 0)
		return -1;
	t.limit = limit;
	while ((rc = tar_next(&t, &e, err)) > 0)
		while ((n = tar_read(&t, buf, sizeof(buf), err)) > 0)
			;
	tar_close(&t);
	return rc < 0 || n < 0 ? -1 : 1;
}

static void test_archive_good(void **state)
{
	unsigned char a[512 * 4] = { 0 };
	struct error err;

	(void)state;
	header(a, "etc/f", '0', "00000000005");
	memcpy(a + 512, "hello", 5);
	write_archive(a, sizeof(a));
	assert_int_equal(read_all(&err, 0), 1);
}

static void test_archive_broken(void **state)
{
	unsigned char a[512 * 4] = { 0 };
	struct error err;

	(void)state;
	header(a, "etc/f", '0', "00000000005");
	/* Truncated header. */
	write_archive(a, 300);
	assert_int_equal(read_all(&err, 0), -1);
	assert_non_null(strstr(err.msg, "truncated archive"));
	/* Truncated data. */
	header(a, "etc/f", '0', "00000010000");
	write_archive(a, 1024);
	assert_int_equal(read_all(&err, 0), -1);
	assert_non_null(strstr(err.msg, "truncated archive"));
	/* Bad checksum. */
	header(a, "etc/f", '0', "00000000005");
	a[0] ^= 0x20;
	write_archive(a, sizeof(a));
	assert_int_equal(read_all(&err, 0), -1);
	assert_non_null(strstr(err.msg, "bad header checksum at offset 0"));
	/* A size that is not octal, with a right checksum. */
	header(a, "etc/f", '0', "0000000x005");
	write_archive(a, sizeof(a));
	assert_int_equal(read_all(&err, 0), -1);
	assert_non_null(strstr(err.msg, "bad size field"));
	/* Base-256, negative. */
	header(a, "etc/f", '0', "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
	write_archive(a, sizeof(a));
	assert_int_equal(read_all(&err, 0), -1);
	assert_non_null(strstr(err.msg, "bad size field"));
	/* The size limit. */
	header(a, "etc/f", '0', "00000004000");
	write_archive(a, sizeof(a));
	assert_int_equal(read_all(&err, 1024), -1);
	assert_non_null(strstr(err.msg, "larger than 1024 bytes"));
	/* An unsupported type. */
	header(a, "etc/f", 'S', "00000000000");
	write_archive(a, sizeof(a));
	assert_int_equal(read_all(&err, 0), -1);
	assert_non_null(strstr(err.msg, "unsupported tar entry type 'S'"));
}

/* ---- rmtree ---- */

static void test_rmtree_symlinks(void **state)
{
	char top[] = "/tmp/vessel-rmtree-XXXXXX", outside[] =
		"/tmp/vessel-outside-XXXXXX", p[256];
	struct error err;
	struct stat st;
	int i;

	(void)state;
	assert_non_null(mkdtemp(top));
	assert_non_null(mkdtemp(outside));
	snprintf(p, sizeof(p), "%s/keep", outside);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	/* A link to the outside directory, at the top and deep down. */
	snprintf(p, sizeof(p), "%s/link", top);
	assert_int_equal(symlink(outside, p), 0);
	snprintf(p, sizeof(p), "%s/a", top);
	for (i = 0; i < 40; i++) {
		assert_int_equal(mkdir(p, 0700), 0);
		strcat(p, "/a");
		if (strlen(p) > sizeof(p) - 16)
			break;
	}
	strcat(p, "x");
	assert_int_equal(symlink(outside, p), 0);
	assert_int_equal(rmtree(top, &err), 0);
	assert_int_equal(lstat(top, &st), -1);
	snprintf(p, sizeof(p), "%s/keep", outside);
	assert_int_equal(stat(p, &st), 0);
	/* A symlink as the top: removed, not followed. */
	snprintf(p, sizeof(p), "%s.l", top);
	assert_int_equal(symlink(outside, p), 0);
	assert_int_equal(rmtree(p, &err), 0);
	assert_int_equal(lstat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/keep", outside);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(rmtree(outside, &err), 0);
	assert_int_equal(rmtree(outside, &err), 0);	/* already gone */
}

static int setup(void **state)
{
	int fd = mkstemp(archive);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(archive);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pax_good),
		cmocka_unit_test(test_pax_malformed),
		cmocka_unit_test(test_pax_nul_in_path),
		cmocka_unit_test(test_archive_good),
		cmocka_unit_test(test_archive_broken),
		cmocka_unit_test(test_rmtree_symlinks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

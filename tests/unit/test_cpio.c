/* Unit tests for the initramfs writer: the newc cpio writer
 * (tools/appliance/cpio.c) read back field by field after gunzip, its
 * padding and determinism, bad names; and the file set
 * (tools/appliance/fileset.c): sorted output, parents added, duplicates
 * merged or refused, a path under a file refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "../../tools/appliance/cpio.h"
#include "../../tools/appliance/fileset.h"

/* The gunzipped contents of fd (from 0). */
static unsigned char *gunzip_fd(int fd, size_t *len)
{
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char *in = malloc((size_t)size), *out = malloc(1 << 24);
	z_stream z = { 0 };

	assert_non_null(in);
	assert_non_null(out);
	assert_int_equal(pread(fd, in, (size_t)size, 0), size);
	/* The gzip header: no name, mtime 0. */
	assert_int_equal(in[0], 0x1f);
	assert_int_equal(in[1], 0x8b);
	assert_int_equal(in[4] | in[5] | in[6] | in[7], 0);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = in;
	z.avail_in = (uInt)size;
	z.next_out = out;
	z.avail_out = 1 << 24;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	*len = (1 << 24) - z.avail_out;
	inflateEnd(&z);
	free(in);
	return out;
}

struct rec {
	char name[256];
	uint32_t ino, mode, uid, gid, nlink, mtime, size, rmaj, rmin;
	const unsigned char *data;
};

static uint32_t hex8(const unsigned char *p)
{
	char s[9];

	memcpy(s, p, 8);
	s[8] = '\0';
	return (uint32_t)strtoul(s, NULL, 16);
}

/* Parse one record at *off; false at the trailer. */
static bool next_rec(const unsigned char *buf, size_t len, size_t *off, struct rec *r)
{
	const unsigned char *h = buf + *off;
	uint32_t namesize;

	assert_true(*off % 4 == 0);
	assert_true(*off + 110 <= len);
	assert_memory_equal(h, "070701", 6);
	r->ino = hex8(h + 6);
	r->mode = hex8(h + 14);
	r->uid = hex8(h + 22);
	r->gid = hex8(h + 30);
	r->nlink = hex8(h + 38);
	r->mtime = hex8(h + 46);
	r->size = hex8(h + 54);
	r->rmaj = hex8(h + 78);
	r->rmin = hex8(h + 86);
	namesize = hex8(h + 94);
	assert_true(namesize > 0 && namesize < sizeof(r->name));
	memcpy(r->name, h + 110, namesize);
	assert_int_equal(r->name[namesize - 1], '\0');
	*off += (110 + namesize + 3) & ~3u;
	r->data = buf + *off;
	*off += (r->size + 3) & ~3u;
	assert_true(*off <= len);
	return strcmp(r->name, "TRAILER!!!") != 0;
}

static void write_basic(int fd, uint32_t mtime)
{
	struct cpio_writer *w = malloc(sizeof(*w));
	struct error err = { 0 };

	assert_non_null(w);
	assert_int_equal(cpio_open(w, fd, mtime, &err), 0);
	assert_int_equal(cpio_add(w, "bin", S_IFDIR | 0755, NULL, 0, 0, &err), 0);
	assert_int_equal(cpio_add(w, "bin/hello", S_IFREG | 0755, "hello", 5, 0, &err), 0);
	assert_int_equal(cpio_add(w, "init", S_IFLNK | 0777, "bin/hello", 9, 0, &err), 0);
	assert_int_equal(cpio_add(w, "dev/console", S_IFCHR | 0600, NULL, 0,
				  makedev(5, 1), &err), 0);
	assert_int_equal(cpio_finish(w, &err), 0);
	free(w);
}

static void test_cpio_roundtrip(void **state)
{
	int fd = memfd_create("cpio", 0);
	unsigned char *buf;
	size_t len, off = 0;
	struct rec r;

	(void)state;
	write_basic(fd, 1234);
	buf = gunzip_fd(fd, &len);
	assert_true(len % 4 == 0);
	assert_true(next_rec(buf, len, &off, &r));
	assert_string_equal(r.name, "bin");
	assert_int_equal(r.mode, S_IFDIR | 0755);
	assert_int_equal(r.nlink, 2);
	assert_int_equal(r.ino, 1);
	assert_int_equal(r.mtime, 1234);
	assert_int_equal(r.uid, 0);
	assert_int_equal(r.gid, 0);
	assert_true(next_rec(buf, len, &off, &r));
	assert_string_equal(r.name, "bin/hello");
	assert_int_equal(r.size, 5);
	assert_memory_equal(r.data, "hello", 5);
	assert_int_equal(r.ino, 2);
	assert_true(next_rec(buf, len, &off, &r));
	assert_string_equal(r.name, "init");
	assert_int_equal(r.mode, S_IFLNK | 0777);
	assert_memory_equal(r.data, "bin/hello", 9);
	assert_true(next_rec(buf, len, &off, &r));
	assert_string_equal(r.name, "dev/console");
	assert_int_equal(r.rmaj, 5);
	assert_int_equal(r.rmin, 1);
	assert_false(next_rec(buf, len, &off, &r));
	assert_int_equal(off, len);
	free(buf);
	close(fd);
}

static void test_cpio_deterministic(void **state)
{
	int a = memfd_create("a", 0), b = memfd_create("b", 0);
	off_t la, lb;
	unsigned char *pa, *pb;

	(void)state;
	write_basic(a, 0);
	sleep(1);
	write_basic(b, 0);
	la = lseek(a, 0, SEEK_END);
	lb = lseek(b, 0, SEEK_END);
	assert_int_equal(la, lb);
	pa = malloc((size_t)la);
	pb = malloc((size_t)lb);
	assert_int_equal(pread(a, pa, (size_t)la, 0), la);
	assert_int_equal(pread(b, pb, (size_t)lb, 0), lb);
	assert_memory_equal(pa, pb, (size_t)la);
	free(pa);
	free(pb);
	close(a);
	close(b);
}

static void test_cpio_bad_names(void **state)
{
	struct cpio_writer *w = malloc(sizeof(*w));
	struct error err = { 0 };
	int fd = memfd_create("bad", 0);

	(void)state;
	assert_int_equal(cpio_open(w, fd, 0, &err), 0);
	assert_int_equal(cpio_add(w, "/abs", S_IFREG | 0644, "x", 1, 0, &err), -1);
	assert_int_equal(err.input, 1);
	err_clear(&err);
	assert_int_equal(cpio_add(w, "", S_IFREG | 0644, "x", 1, 0, &err), -1);
	err_clear(&err);
	/* A directory has no data. */
	assert_int_equal(cpio_add(w, "d", S_IFDIR | 0755, "x", 1, 0, &err), -1);
	cpio_abort(w);
	free(w);
	close(fd);
}

/* Names of a file set's archive, in order, joined by spaces. */
static void fileset_names(struct fileset *fs, char *out, size_t size)
{
	int fd = memfd_create("fs", 0);
	struct error err = { 0 };
	unsigned char *buf;
	size_t len, off = 0;
	struct rec r;

	assert_int_equal(fileset_write_cpio(fs, fd, 0, NULL, &err), 0);
	buf = gunzip_fd(fd, &len);
	out[0] = '\0';
	while (next_rec(buf, len, &off, &r)) {
		strncat(out, r.name, size - strlen(out) - 2);
		strcat(out, " ");
	}
	free(buf);
	close(fd);
}

static void test_fileset_sorted_parents(void **state)
{
	struct fileset fs = { 0 };
	struct error err = { 0 };
	char names[1024];

	(void)state;
	assert_int_equal(fileset_add_data(&fs, "etc/vessel/host.yaml", "h: 1\n", 5, 0644, &err), 0);
	assert_int_equal(fileset_add_symlink(&fs, "init", "bin/vessel", &err), 0);
	assert_int_equal(fileset_add_data(&fs, "bin/vessel", "ELF", 3, 0755, &err), 0);
	assert_int_equal(fileset_add_dir(&fs, "tmp", 01777, &err), 0);
	/* The same thing twice is fine. */
	assert_int_equal(fileset_add_symlink(&fs, "init", "bin/vessel", &err), 0);
	/* An explicit mode beats the implied parent's 0755. */
	assert_int_equal(fileset_add_dir(&fs, "etc", 0700, &err), 0);
	fileset_names(&fs, names, sizeof(names));
	assert_string_equal(names, "bin bin/vessel etc etc/vessel etc/vessel/host.yaml init tmp ");
	fileset_free(&fs);
}

static void test_fileset_conflicts(void **state)
{
	struct fileset fs = { 0 };
	struct error err = { 0 };
	int fd = memfd_create("c", 0);

	(void)state;
	assert_int_equal(fileset_add_symlink(&fs, "init", "bin/vessel", &err), 0);
	assert_int_equal(fileset_add_symlink(&fs, "init", "bin/sh", &err), 0);
	assert_int_equal(fileset_write_cpio(&fs, fd, 0, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "two different things at /init"));
	fileset_free(&fs);

	err_clear(&err);
	assert_int_equal(fileset_add_data(&fs, "a", "x", 1, 0644, &err), 0);
	assert_int_equal(fileset_add_data(&fs, "a/b", "y", 1, 0644, &err), 0);
	assert_int_equal(fileset_write_cpio(&fs, fd, 0, NULL, &err), -1);
	fileset_free(&fs);

	err_clear(&err);
	assert_int_equal(fileset_add_dir(&fs, "../etc", 0755, &err), -1);
	assert_int_equal(fileset_add_dir(&fs, "/etc", 0755, &err), -1);
	assert_int_equal(fileset_add_dir(&fs, "a//b", 0755, &err), -1);
	assert_int_equal(fileset_add_dir(&fs, "a/./b", 0755, &err), -1);
	fileset_free(&fs);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpio_roundtrip),
		cmocka_unit_test(test_cpio_deterministic),
		cmocka_unit_test(test_cpio_bad_names),
		cmocka_unit_test(test_fileset_sorted_parents),
		cmocka_unit_test(test_fileset_conflicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

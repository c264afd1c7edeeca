/* A disk's backup bitmap (devices/block/bitmap_file.c, cbt.c): the file
 * round trip; every bad file refused (truncated, magic, version, CRC,
 * flags, shift, reason, size against chunks and length, huge sizes, bits
 * past the end) and never trusted; the trust decision against the
 * image's fstat; and the VM's side: at open a file is loaded and at once
 * written not clean, at a clean close written clean with the marks and
 * the image's identity; a file that is not the truth starts over with
 * the reason kept; a forgotten disk stays not clean. A live backup's
 * take of the marks: every chunk changed since the old generation, the
 * marks restarting under the new one; settled done, the new generation
 * and only the later marks reach the file; failed (or not settled at
 * close), the taken marks merge back under the old generation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../../devices/block/bitmap_file.h"
#include "../../devices/block/cbt.h"
#include "le_bytes.h"

#define MIB (1ull << 20)

static void sample(struct blk_bitmap *b, uint64_t size)
{
	struct error err = { 0 };

	assert_int_equal(blk_bitmap_init(b, size, &err), 0);
	b->clean = true;
	b->generation = 0x123456789abcull;
	b->ino = 77;
	b->mtime_ns = 1700000000123456789ll;
	b->ctime_ns = 1700000001000000001ll;
	b->bm[0] = 0x8000000000000005ull;
	if (b->chunks > 64)
		b->bm[1] = 1;
}

static void test_round_trip(void **state)
{
	struct blk_bitmap a, b;
	struct error err = { 0 };
	uint8_t *buf;
	size_t len;

	(void)state;
	sample(&a, 65 * 4 * MIB + 1);           /* 66 chunks: 2 words */
	assert_int_equal(a.chunks, 66);
	assert_int_equal(blk_bitmap_encode(&a, &buf, &len, &err), 0);
	assert_int_equal(len, BLK_BITMAP_HDR + 16 + 4);
	assert_int_equal(blk_bitmap_parse(buf, len, &b, &err), 0);
	assert_true(b.clean);
	assert_int_equal(b.size, a.size);
	assert_int_equal(b.generation, a.generation);
	assert_int_equal(b.ino, 77);
	assert_int_equal(b.mtime_ns, a.mtime_ns);
	assert_int_equal(b.ctime_ns, a.ctime_ns);
	assert_int_equal(b.bm[0], a.bm[0]);
	assert_int_equal(b.bm[1], 1);
	assert_int_equal(blk_bitmap_count(&b), 4);
	assert_true(blk_bitmap_test(&b, 0) && blk_bitmap_test(&b, 2) &&
		    blk_bitmap_test(&b, 63) && blk_bitmap_test(&b, 64));
	assert_false(blk_bitmap_test(&b, 1) || blk_bitmap_test(&b, 65) ||
		     blk_bitmap_test(&b, 66) || blk_bitmap_test(&b, 1000));
	blk_bitmap_free(&b);
	free(buf);
	blk_bitmap_free(&a);
	/* An empty image: no words. */
	sample(&a, 0);
	a.bm[0] = 0;
	assert_int_equal(blk_bitmap_encode(&a, &buf, &len, &err), 0);
	assert_int_equal(len, BLK_BITMAP_HDR + 4);
	assert_int_equal(blk_bitmap_parse(buf, len, &b, &err), 0);
	assert_int_equal(b.chunks, 0);
	blk_bitmap_free(&b);
	free(buf);
	blk_bitmap_free(&a);
}

/* The file with a fresh CRC after f changed it. */
static void recrc(uint8_t *p, size_t len)
{
	set32(p + len - 4, (uint32_t)crc32(0, p, (uInt)(len - 4)));
}

static void refused(const uint8_t *p, size_t len, const char *what)
{
	struct blk_bitmap b;
	struct error err = { 0 };

	assert_int_equal(blk_bitmap_parse(p, len, &b, &err), -1);
	assert_int_equal(err.input, 1);
	if (!strstr(err.msg, what))
		fail_msg("'%s' lacks '%s'", err.msg, what);
	assert_null(b.bm);
}

static void test_bad_files(void **state)
{
	struct blk_bitmap a;
	struct error err = { 0 };
	uint8_t *buf, *p;
	size_t len;

	(void)state;
	sample(&a, 10 * 4 * MIB);               /* 10 chunks, 1 word */
	assert_int_equal(blk_bitmap_encode(&a, &buf, &len, &err), 0);
	p = malloc(len + 8);
	for (size_t n = 0; n < BLK_BITMAP_HDR + 4; n++)
		refused(buf, n, "truncated");
	memcpy(p, buf, len);
	refused(p, len - 1, "CRC");             /* one byte short */
	p[0] = 'X';
	refused(p, len, "magic");
	memcpy(p, buf, len);
	p[4] = 2;
	refused(p, len, "version 2");
	memcpy(p, buf, len);
	p[20] ^= 1;                             /* a flipped bit */
	refused(p, len, "bad CRC");
	memcpy(p, buf, len);
	p[5] = 2;
	recrc(p, len);
	refused(p, len, "flags");
	memcpy(p, buf, len);
	p[7] = 1;
	recrc(p, len);
	refused(p, len, "reserved");
	memcpy(p, buf, len);
	set32(p + 8, 16);
	recrc(p, len);
	refused(p, len, "shift");
	memcpy(p, buf, len);
	set32(p + 12, 99);
	recrc(p, len);
	refused(p, len, "reason");
	/* Size against chunks, and against the length. */
	memcpy(p, buf, len);
	set64(p + 16, 11 * 4 * MIB);
	recrc(p, len);
	refused(p, len, "10 chunks for an image");
	memcpy(p, buf, len);
	set64(p + 16, 100 * 4 * MIB);
	set64(p + 56, 100);
	recrc(p, len);
	refused(p, len, "for 100 chunks");
	/* Huge: 2^63 bytes, and chunks to match; 2^24 chunks + 1. */
	memcpy(p, buf, len);
	set64(p + 16, 1ull << 63);
	set64(p + 56, 1ull << 41);
	recrc(p, len);
	refused(p, len, "too large");
	memcpy(p, buf, len);
	set64(p + 16, (BLK_BITMAP_MAX_CHUNKS + 1) * 4 * MIB);
	set64(p + 56, BLK_BITMAP_MAX_CHUNKS + 1);
	recrc(p, len);
	refused(p, len, "too large");
	memcpy(p, buf, len);
	set64(p + 16, ~0ull);
	set64(p + 56, ~0ull);
	recrc(p, len);
	refused(p, len, "too large");
	/* A bit for chunk 10 of 10. */
	memcpy(p, buf, len);
	p[BLK_BITMAP_HDR + 1] |= 4;
	recrc(p, len);
	refused(p, len, "past the last chunk");
	/* Trailing bytes. */
	memcpy(p, buf, len);
	memset(p + len, 0, 8);
	recrc(p, len + 8);
	refused(p, len + 8, "bytes for 10 chunks");
	free(p);
	free(buf);
	blk_bitmap_free(&a);
}

static void test_trust(void **state)
{
	struct blk_bitmap b;
	struct stat st = { 0 };

	(void)state;
	sample(&b, 8 * MIB);
	st.st_mode = S_IFREG | 0600;
	st.st_size = 8 * MIB;
	st.st_ino = 77;
	st.st_mtim.tv_sec = 1700000000;
	st.st_mtim.tv_nsec = 123456789;
	st.st_ctim.tv_sec = 1700000001;
	st.st_ctim.tv_nsec = 1;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_TRUSTED);
	st.st_mtim.tv_nsec++;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_CHANGED);
	st.st_mtim.tv_nsec--;
	st.st_ctim.tv_sec++;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_CHANGED);
	st.st_ctim.tv_sec--;
	st.st_ino = 78;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_CHANGED);
	st.st_ino = 77;
	st.st_size += 512;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_RESIZED);
	st.st_size -= 512;
	b.lost = BLK_BM_UNCLEAN;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_UNCLEAN);
	b.lost = BLK_BM_MISSING;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_MISSING);
	b.lost = 0;
	b.clean = false;
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_UNCLEAN);
	assert_non_null(strstr(blk_bitmap_why_text(BLK_BM_UNCLEAN), "did not stop cleanly"));
	assert_string_equal(blk_bitmap_why_text(42), "unknown");
	blk_bitmap_free(&b);
}

/* ---- the VM's side ---------------------------------------------------- */

static char dir[64], image[96];

static int make_image(void **state)
{
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_blk_bitmap.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/d.img", dir);
	fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 40 * MIB), 0);
	close(fd);
	return 0;
}

static int remove_image(void **state)
{
	char path[128];

	(void)state;
	unlink(image);
	snprintf(path, sizeof(path), "%s%s", image, BLK_BITMAP_SUFFIX);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void load(struct blk_bitmap *b)
{
	struct error err = { 0 };

	if (blk_bitmap_load(image, b, &err) != 0)
		fail_msg("load: %s", err.msg);
}

/* A VM run on the image: open (the file is not clean at once), writes at
 * these offsets, then a clean close (unless forget). */
static void vm_run(const uint64_t *w, size_t n, bool forget)
{
	struct error err = { 0 };
	struct blk_cbt *c;
	struct blk_bitmap b;
	int fd = open(image, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(blk_cbt_open(&c, image, fd, &err), 0);
	assert_non_null(c);
	load(&b);
	assert_false(b.clean);
	blk_bitmap_free(&b);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(pwrite(fd, "x", 1, (off_t)w[i]), 1);
		blk_cbt_mark(c, w[i], 1);
	}
	if (forget)
		blk_cbt_forget(c);
	assert_int_equal(blk_cbt_close(c, fd, &err), 0);
	close(fd);
}

static void test_cbt_runs(void **state)
{
	struct error err = { 0 };
	const uint64_t w1[] = { 5 * MIB, 39 * MIB }, w2[] = { 0 };
	struct blk_bitmap b;
	struct stat st;
	int fd;

	(void)state;
	/* No file at first: a run tracks, but says history was lost. */
	assert_int_equal(blk_bitmap_load(image, &b, &err), 1);
	vm_run(w1, 2, false);
	load(&b);
	assert_true(b.clean);
	assert_int_equal(b.lost, BLK_BM_MISSING);
	assert_int_equal(b.chunks, 10);
	assert_int_equal(blk_bitmap_count(&b), 2);
	assert_true(blk_bitmap_test(&b, 1) && blk_bitmap_test(&b, 9));
	/* A backup's renewal: clean, nothing lost, generation 7. */
	b.lost = 0;
	b.generation = 7;
	memset(b.bm, 0, 8);
	assert_int_equal(stat(image, &st), 0);
	blk_bitmap_identify(&b, &st);
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_TRUSTED);
	assert_int_equal(blk_bitmap_save(image, &b, &err), 0);
	blk_bitmap_free(&b);
	/* Two clean runs: their marks add up, the generation stays. */
	vm_run(w1, 1, false);
	vm_run(w2, 1, false);
	load(&b);
	assert_int_equal(stat(image, &st), 0);
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_TRUSTED);
	assert_int_equal(b.generation, 7);
	assert_int_equal(blk_bitmap_count(&b), 2);
	assert_true(blk_bitmap_test(&b, 0) && blk_bitmap_test(&b, 1));
	blk_bitmap_free(&b);
	/* Changed outside vessel: the next run starts over, saying so. */
	fd = open(image, O_RDWR);
	usleep(20000);
	assert_int_equal(pwrite(fd, "y", 1, 20 * MIB), 1);
	close(fd);
	vm_run(w2, 1, false);
	load(&b);
	assert_true(b.clean);
	assert_int_equal(b.lost, BLK_BM_CHANGED);
	assert_int_equal(b.generation, 7);
	assert_int_equal(blk_bitmap_count(&b), 1);
	assert_int_equal(stat(image, &st), 0);
	assert_int_equal(blk_bitmap_trust(&b, &st), BLK_BM_CHANGED);
	blk_bitmap_free(&b);
	/* Handed over (a migration): stays not clean. */
	vm_run(w2, 1, true);
	load(&b);
	assert_false(b.clean);
	blk_bitmap_free(&b);
}

static void test_cbt_bad_file(void **state)
{
	struct error err = { 0 };
	char path[128];
	struct blk_bitmap b;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s%s", image, BLK_BITMAP_SUFFIX);
	f = fopen(path, "w");
	fputs("garbage", f);
	fclose(f);
	assert_int_equal(blk_bitmap_load(image, &b, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, path));
	vm_run(NULL, 0, false);
	load(&b);
	assert_true(b.clean);
	assert_int_equal(b.lost, BLK_BM_BAD);
	blk_bitmap_free(&b);
}

/* The file as a backup renews it: clean, nothing lost, generation gen,
 * chunks marked. */
static void renew(uint64_t gen, const uint64_t *chunk, size_t n)
{
	struct error err = { 0 };
	struct blk_bitmap b;
	struct stat st;

	assert_int_equal(stat(image, &st), 0);
	assert_int_equal(blk_bitmap_init(&b, (uint64_t)st.st_size, &err), 0);
	b.clean = true;
	b.generation = gen;
	for (size_t i = 0; i < n; i++)
		b.bm[chunk[i] / 64] |= 1ull << (chunk[i] % 64);
	blk_bitmap_identify(&b, &st);
	assert_int_equal(blk_bitmap_save(image, &b, &err), 0);
	blk_bitmap_free(&b);
}

static uint64_t word0(void)
{
	struct blk_bitmap b;
	uint64_t w;

	load(&b);
	w = b.bm[0];
	blk_bitmap_free(&b);
	return w;
}

static void expect_file(uint64_t gen, uint32_t lost, uint64_t w)
{
	struct blk_bitmap b;
	struct stat st;

	load(&b);
	assert_true(b.clean);
	assert_int_equal(b.generation, gen);
	assert_int_equal(b.lost, lost);
	assert_int_equal(stat(image, &st), 0);
	assert_int_equal(blk_bitmap_trust(&b, &st), lost);
	blk_bitmap_free(&b);
	assert_int_equal(word0(), w);
}

static struct blk_cbt *cbt_open(int *fd)
{
	struct error err = { 0 };
	struct blk_cbt *c;

	*fd = open(image, O_RDWR);
	assert_true(*fd >= 0);
	assert_int_equal(blk_cbt_open(&c, image, *fd, &err), 0);
	assert_non_null(c);
	return c;
}

static void cbt_close(struct blk_cbt *c, int fd)
{
	struct error err = { 0 };

	assert_int_equal(blk_cbt_close(c, fd, &err), 0);
	close(fd);
}

static void test_cbt_take(void **state)
{
	const uint64_t three[] = { 3 };
	struct error err = { 0 };
	struct blk_bitmap t, t2;
	struct blk_cbt *c;
	int fd;

	(void)state;
	/* Trusted at open (generation 7, chunk 3); chunk 5 written: the
	 * take has both, under 7; chunk 6 written after it. Done: the file
	 * has generation 9 and only chunk 6. */
	renew(7, three, 1);
	c = cbt_open(&fd);
	blk_cbt_mark(c, 5 * BLK_BITMAP_CHUNK + 10, 1);
	assert_int_equal(blk_cbt_take(c, 9, &t, &err), 0);
	assert_int_equal(t.generation, 7);
	assert_int_equal(t.lost, 0);
	assert_int_equal(t.chunks, 10);
	assert_int_equal(t.bm[0], (1ull << 3) | (1ull << 5));
	/* One take at a time. */
	assert_int_equal(blk_cbt_take(c, 10, &t2, &err), -1);
	assert_non_null(strstr(err.msg, "already"));
	assert_null(t2.bm);
	blk_cbt_mark(c, 6 * BLK_BITMAP_CHUNK, BLK_BITMAP_CHUNK);
	blk_cbt_settle(c, true);
	blk_bitmap_free(&t);
	cbt_close(c, fd);
	expect_file(9, 0, 1ull << 6);

	/* Failed: the taken marks (1, 6) merge back with the later one (2),
	 * under the old generation 9. */
	c = cbt_open(&fd);
	blk_cbt_mark(c, 1 * BLK_BITMAP_CHUNK, 1);
	assert_int_equal(blk_cbt_take(c, 11, &t, &err), 0);
	assert_int_equal(t.generation, 9);
	assert_int_equal(t.bm[0], (1ull << 1) | (1ull << 6));
	blk_bitmap_free(&t);
	blk_cbt_mark(c, 2 * BLK_BITMAP_CHUNK, 1);
	blk_cbt_settle(c, false);
	/* Settled: another take may come, and may fail too. */
	assert_int_equal(blk_cbt_take(c, 12, &t, &err), 0);
	assert_int_equal(t.generation, 9);
	assert_int_equal(t.bm[0], (1ull << 1) | (1ull << 2) | (1ull << 6));
	blk_bitmap_free(&t);
	blk_cbt_mark(c, 8 * BLK_BITMAP_CHUNK, 1);
	/* Not settled at the close (the VM stopped under it): failed. */
	cbt_close(c, fd);
	expect_file(9, 0, (1ull << 1) | (1ull << 2) | (1ull << 6) | (1ull << 8));
	blk_cbt_settle(NULL, true);
}

static void test_cbt_take_untrusted(void **state)
{
	struct error err = { 0 };
	struct blk_bitmap t;
	struct blk_cbt *c;
	int fd;

	(void)state;
	/* No file at open: the take says why, with generation 0. */
	c = cbt_open(&fd);
	blk_cbt_mark(c, 0, 1);
	assert_int_equal(blk_cbt_take(c, 21, &t, &err), 0);
	assert_int_equal(t.lost, BLK_BM_MISSING);
	assert_int_equal(t.generation, 0);
	assert_int_equal(t.bm[0], 1);
	blk_bitmap_free(&t);
	/* Failed: still untrusted. */
	blk_cbt_settle(c, false);
	cbt_close(c, fd);
	expect_file(0, BLK_BM_MISSING, 1);
	/* Done (the backup read it all): trusted from then on. */
	c = cbt_open(&fd);
	assert_int_equal(blk_cbt_take(c, 22, &t, &err), 0);
	assert_int_equal(t.lost, BLK_BM_MISSING);
	blk_bitmap_free(&t);
	blk_cbt_mark(c, 4 * BLK_BITMAP_CHUNK, 1);
	blk_cbt_settle(c, true);
	cbt_close(c, fd);
	expect_file(22, 0, 1ull << 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_trust),
		cmocka_unit_test_setup_teardown(test_cbt_runs, make_image, remove_image),
		cmocka_unit_test_setup_teardown(test_cbt_bad_file, make_image, remove_image),
		cmocka_unit_test_setup_teardown(test_cbt_take, make_image, remove_image),
		cmocka_unit_test_setup_teardown(test_cbt_take_untrusted, make_image,
						remove_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

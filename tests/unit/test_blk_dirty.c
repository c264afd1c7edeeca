/* A disk's write log for migration (devices/block/dirty.c): nothing is
 * marked unless started; a range marks exactly the 64 KiB blocks it
 * touches, clipped at the image's size; take ORs the marks out, counts
 * and clears them; start again clears; the bitmap's size in words. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../devices/block/dirty.h"

#define BLK     BLK_DIRTY_BLOCK
/* An odd-sized image: 100 whole blocks and 123 bytes of block 100. */
#define SIZE    (100 * BLK + 123)
#define WORDS   2                       /* 101 blocks */
#define GUARD   0x5a5a5a5a5a5a5a5aull   /* after the words: never touched */

static bool bit(const uint64_t *bm, uint64_t b)
{
	return bm[b / 64] >> (b % 64) & 1;
}

/* A fresh log of SIZE bytes marked [off, off + len) holds exactly the
 * blocks first to last (none when first > last). */
static void marks(uint64_t off, uint64_t len, uint64_t first, uint64_t last)
{
	struct blk_dirty d;
	struct error err = { 0 };
	uint64_t out[WORDS + 1] = { [WORDS] = GUARD };
	uint64_t want = first <= last ? last - first + 1 : 0;

	blk_dirty_init(&d);
	assert_int_equal(blk_dirty_start(&d, SIZE, &err), 0);
	blk_dirty_mark(&d, off, len);
	assert_int_equal(blk_dirty_take(&d, out), want);
	for (uint64_t b = 0; b < WORDS * 64; b++)
		if (bit(out, b) != (b >= first && b <= last))
			fail_msg("mark %llu+%llu: block %llu is %s",
				 (unsigned long long)off, (unsigned long long)len,
				 (unsigned long long)b, bit(out, b) ? "marked" :
				 "not marked");
	assert_true(out[WORDS] == GUARD);
	blk_dirty_destroy(&d);
}

static void test_not_started(void **state)
{
	struct blk_dirty d;
	struct error err = { 0 };
	uint64_t out[WORDS] = { 0 };

	(void)state;
	blk_dirty_init(&d);
	blk_dirty_mark(&d, 0, SIZE);
	assert_int_equal(blk_dirty_take(&d, out), 0);
	assert_int_equal(blk_dirty_start(&d, SIZE, &err), 0);
	blk_dirty_stop(&d);                     /* and after a stop */
	blk_dirty_mark(&d, 0, SIZE);
	assert_int_equal(blk_dirty_take(&d, out), 0);
	assert_true(out[0] == 0 && out[1] == 0);
	blk_dirty_destroy(&d);
}

static void test_ranges(void **state)
{
	(void)state;
	marks(100, 200, 0, 0);                  /* inside a block */
	marks(0, BLK, 0, 0);                    /* exactly one */
	marks(BLK - 1, 1, 0, 0);                /* its last byte */
	marks(BLK, 1, 1, 1);                    /* the next one's first */
	marks(BLK - 1, 2, 0, 1);                /* across a boundary */
	marks(3 * BLK, BLK + 1, 3, 4);
	marks(60 * BLK + 7, 10 * BLK, 60, 70);  /* across a word */
	marks(0, SIZE, 0, 100);                 /* the whole image */
	marks(SIZE - 1, 1, 100, 100);           /* its last byte */
	marks(99 * BLK, 5 * BLK, 99, 100);      /* past the end: clipped */
	marks(SIZE - 1, UINT64_MAX, 100, 100);  /* and off + len wraps */
	marks(SIZE, 1, 1, 0);                   /* starting at the end */
	marks(101 * BLK, BLK, 1, 0);
	marks(UINT64_MAX, 1, 1, 0);
	marks(5 * BLK, 0, 1, 0);                /* nothing */
	marks(0, 0, 1, 0);
}

/* take ORs into what out holds, counts only its own marks (each block
 * once) and clears them. */
static void test_take(void **state)
{
	struct blk_dirty d;
	struct error err = { 0 };
	uint64_t out[WORDS] = { 1ull << 63, 0 };

	(void)state;
	blk_dirty_init(&d);
	assert_int_equal(blk_dirty_start(&d, SIZE, &err), 0);
	blk_dirty_mark(&d, 0, 1);
	blk_dirty_mark(&d, 10, 1);              /* the same block again */
	blk_dirty_mark(&d, 64 * BLK, 1);
	assert_int_equal(blk_dirty_take(&d, out), 2);
	assert_true(out[0] == (1ull << 63 | 1) && out[1] == 1);
	assert_int_equal(blk_dirty_take(&d, out), 0);
	assert_true(out[0] == (1ull << 63 | 1) && out[1] == 1);
	blk_dirty_mark(&d, 2 * BLK, 1);         /* still watching */
	memset(out, 0, sizeof(out));
	assert_int_equal(blk_dirty_take(&d, out), 1);
	assert_true(out[0] == 4 && out[1] == 0);
	blk_dirty_destroy(&d);
}

/* Starting again drops the marks, and takes the new size. */
static void test_restart(void **state)
{
	struct blk_dirty d;
	struct error err = { 0 };
	uint64_t out[WORDS] = { 0 };

	(void)state;
	blk_dirty_init(&d);
	assert_int_equal(blk_dirty_start(&d, BLK, &err), 0);
	blk_dirty_mark(&d, 0, BLK);
	assert_int_equal(blk_dirty_start(&d, SIZE, &err), 0);
	assert_int_equal(blk_dirty_take(&d, out), 0);
	blk_dirty_mark(&d, SIZE - 1, 1);        /* past the old size */
	assert_int_equal(blk_dirty_take(&d, out), 1);
	assert_true(out[0] == 0 && out[1] == 1ull << 36);
	assert_int_equal(blk_dirty_start(&d, 0, &err), 0);   /* empty */
	blk_dirty_mark(&d, 0, 1);
	assert_int_equal(blk_dirty_take(&d, out), 0);
	blk_dirty_destroy(&d);
}

static void test_words(void **state)
{
	(void)state;
	assert_int_equal(blk_dirty_words(0), 0);
	assert_int_equal(blk_dirty_words(1), 1);
	assert_int_equal(blk_dirty_words(BLK), 1);
	assert_int_equal(blk_dirty_words(BLK * 64), 1);
	assert_int_equal(blk_dirty_words(BLK * 64 + 1), 2);
	assert_int_equal(blk_dirty_words(SIZE), WORDS);
	assert_int_equal(blk_dirty_words(1ull << 50), 1ull << 28);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_started),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

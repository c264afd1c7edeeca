/* Whether a backup may read only a disk's dirty chunks
 * (tools/backup/disk_bitmap.c, disk_plan_decide): only with a bitmap that
 * loaded, is clean, lost nothing, matches the image, follows the very
 * backup the guest's last manifest recorded (its generation), and whose
 * previous index fits the image; otherwise the reason, one per fault.
 * A running VM's marks (disk_plan_decide_live): only if the VM trusted
 * its bitmap at start, the size is the image's, and they follow the last
 * backup as above. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../tools/backup/disk.h"
#include "../../tools/backup/disk_bitmap.h"

#define SIZE (12ull << 20)              /* 3 chunks */

static struct blk_bitmap bm;
static struct stat st;
static struct manifest_item prev;
static struct index ix;
static char why[256];
/* bm as a running VM's marks, taken at the backup's point in time
 * (disk_plan_decide_live), or as a stopped VM's file. */
static bool live;

static int setup(void **state)
{
	struct error err = { 0 };

	(void)state;
	live = false;
	assert_int_equal(blk_bitmap_init(&bm, SIZE, &err), 0);
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | 0600;
	st.st_size = SIZE;
	st.st_ino = 5;
	st.st_mtim.tv_sec = 100;
	st.st_ctim.tv_sec = 101;
	blk_bitmap_identify(&bm, &st);
	bm.clean = true;
	bm.generation = 42;
	memset(&prev, 0, sizeof(prev));
	prev.type = ITEM_DISK;
	prev.bitmap_gen = 42;
	index_init(&ix, INDEX_DISK, DISK_CHUNK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(index_add(&ix, NULL, DISK_CHUNK, INDEX_ZERO, &err), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blk_bitmap_free(&bm);
	index_free(&ix);
	return 0;
}

static bool decide(void)
{
	return live ? disk_plan_decide_live(&bm, &st, &prev, &ix, why, sizeof(why)) :
		      disk_plan_decide(&bm, NULL, &st, &prev, &ix, why, sizeof(why));
}

static void expect_full(const char *what)
{
	assert_false(decide());
	if (!strstr(why, what))
		fail_msg("reason '%s' lacks '%s'", why, what);
}

static void test_trusted(void **state)
{
	(void)state;
	assert_true(decide());
	assert_string_equal(why, "");
}

static void test_no_bitmap(void **state)
{
	(void)state;
	assert_false(disk_plan_decide(NULL, NULL, &st, &prev, &ix, why, sizeof(why)));
	assert_non_null(strstr(why, "no dirty bitmap"));
	assert_false(disk_plan_decide(NULL, "/x/d.img.vbitmap: bad CRC", &st,
				      &prev, &ix, why, sizeof(why)));
	assert_string_equal(why, "/x/d.img.vbitmap: bad CRC");
}

static void test_untrusted(void **state)
{
	(void)state;
	bm.clean = false;
	expect_full("did not stop cleanly");
	bm.clean = true;
	bm.lost = BLK_BM_CHANGED;
	expect_full("not tracked before the VM's last start: the image was "
		    "changed outside vessel");
	bm.lost = 0;
	st.st_mtim.tv_nsec = 1;
	expect_full("changed outside vessel");
	st.st_mtim.tv_nsec = 0;
	st.st_size = SIZE + 4096;
	expect_full("size changed");
}

static void test_previous_backup(void **state)
{
	(void)state;
	assert_false(disk_plan_decide(&bm, NULL, &st, NULL, &ix, why, sizeof(why)));
	assert_non_null(strstr(why, "no earlier backup"));
	prev.bitmap_gen = 0;                    /* an older vessel's manifest */
	expect_full("generation mismatch");
	prev.bitmap_gen = 43;
	expect_full("generation mismatch");
	prev.bitmap_gen = 42;
	assert_false(disk_plan_decide(&bm, NULL, &st, &prev, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "index does not fit"));
	ix.n = 2;
	expect_full("index does not fit");
	ix.n = 3;
	ix.size = SIZE - 1;
	expect_full("index does not fit");
	ix.size = SIZE;
	ix.kind = INDEX_TREE;
	expect_full("index does not fit");
	ix.kind = INDEX_DISK;
	assert_true(decide());
}

static void test_live(void **state)
{
	(void)state;
	live = true;
	/* The file flag and identity are the running VM's business: a
	 * not-clean file with another mtime still counts. */
	bm.clean = false;
	st.st_mtim.tv_nsec = 7;
	assert_true(decide());
	assert_string_equal(why, "");
	assert_false(disk_plan_decide_live(NULL, &st, &prev, &ix, why,
					   sizeof(why)));
	assert_non_null(strstr(why, "does not track"));
	bm.lost = BLK_BM_UNCLEAN;
	expect_full("the VM's bitmap was not trusted at start");
	expect_full("did not stop cleanly");
	bm.lost = BLK_BM_MISSING;
	expect_full("no dirty bitmap");
	bm.lost = 0;
	st.st_size = SIZE + 4096;
	expect_full("size changed");
	st.st_size = SIZE;
	prev.bitmap_gen = 41;
	expect_full("generation mismatch");
	prev.bitmap_gen = 0;
	expect_full("generation mismatch");
	prev.bitmap_gen = 42;
	assert_false(disk_plan_decide_live(&bm, &st, NULL, &ix, why, sizeof(why)));
	assert_non_null(strstr(why, "no earlier backup"));
	assert_false(disk_plan_decide_live(&bm, &st, &prev, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "index does not fit"));
	ix.n = 4;
	expect_full("index does not fit");
	ix.n = 3;
	assert_true(decide());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_bitmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_previous_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Copy-before-write for live backups (devices/block/cbw.c), on a real
 * image file in a temporary directory: a write to an unread chunk saves
 * its old data first; a chunk read before the write is not copied; a
 * write to a chunk being read waits for the read; all-zero chunks are not
 * stored; a cancel lets writes go and fails the backup; and through the
 * real block backend (both engines), with writes racing the backup's
 * reads, the backup's view equals the image as it was at the start; and
 * disk_backup through the view, written meanwhile, restores as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../container/rmtree.h"
#include "../../devices/block/backend.h"
#include "../../devices/block/cbw.h"
#include "../../tools/backup/disk.h"
#include "../../tools/base/fdio.h"

#define CHUNK   (64u * 1024)
#define NCHUNK  16
#define SIZE    (NCHUNK * CHUNK - 4096)         /* the last chunk short */

struct fx {
	char dir[64], path[96];
	int fd;                 /* the test's view of the image */
	uint8_t *orig;          /* the image at the start */
	struct blk_cbw c;
};

static size_t clen(unsigned i)
{
	return i == NCHUNK - 1 ? SIZE - (NCHUNK - 1) * CHUNK : CHUNK;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9) + 1);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/vessel-test-cbw-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	f->orig = malloc(SIZE);
	if (f->fd < 0 || !f->orig || ftruncate(f->fd, SIZE) < 0)
		return -1;
	/* Data everywhere but chunk 3 (a hole: zeros). */
	fill(f->orig, SIZE, 1);
	memset(f->orig + 3 * CHUNK, 0, CHUNK);
	for (unsigned i = 0; i < NCHUNK; i++)
		if (i != 3 && pwrite_all(f->fd, f->orig + (size_t)i * CHUNK, clen(i),
					 (off_t)i * CHUNK) < 0)
			return -1;
	blk_cbw_init(&f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	blk_cbw_destroy(&f->c);
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f->orig);
	free(f);
	return 0;
}

static void start(struct fx *f)
{
	struct error err = { 0 };

	if (blk_cbw_start(&f->c, f->path, f->dir, CHUNK, &err) < 0)
		fail_msg("start: %s", err.msg);
}

/* A guest write as the backend does it: cbw first, then the image. */
static void gwrite(struct fx *f, uint64_t off, size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	fill(p, len, seed);
	blk_cbw_before_write(&f->c, off, len);
	assert_int_equal(pwrite_all(f->fd, p, len, (off_t)off), 0);
	free(p);
}

/* The backup's read of chunk i, as disk_backup does it: into buf. */
static int bread(struct fx *f, unsigned i, uint8_t *buf)
{
	struct error err = { 0 };
	int r = blk_cbw_claim(&f->c, (uint64_t)i * CHUNK, buf, clen(i), &err);

	if (r == BLK_CBW_IMAGE) {
		assert_int_equal(pread_full(f->fd, buf, clen(i), (off_t)i * CHUNK),
				 (ssize_t)clen(i));
		if (blk_cbw_release(&f->c, (uint64_t)i * CHUNK, &err) < 0)
			return -1;
	} else if (r == BLK_CBW_ZERO) {
		memset(buf, 0, clen(i));
	}
	return r;
}

static void check_chunk(struct fx *f, unsigned i, const uint8_t *buf)
{
	if (memcmp(buf, f->orig + (size_t)i * CHUNK, clen(i)))
		fail_msg("chunk %u differs from the image at the start", i);
}

static void test_write_saves_old(void **state)
{
	struct fx *f = *state;
	uint8_t buf[CHUNK];
	struct blk_cbw_stats st;

	start(f);
	assert_true(blk_cbw_pending(&f->c, 5 * CHUNK + 100, 10));
	gwrite(f, 5 * CHUNK + 100, 1000, 9);    /* inside chunk 5 */
	assert_false(blk_cbw_pending(&f->c, 5 * CHUNK, CHUNK));
	gwrite(f, 5 * CHUNK, 10, 10);           /* again: no second copy */
	blk_cbw_get_stats(&f->c, &st);
	assert_int_equal(st.copies, 1);
	assert_int_equal(st.copied, CHUNK);
	assert_int_equal(bread(f, 5, buf), BLK_CBW_COPY);
	check_chunk(f, 5, buf);
	/* The copy's room is given back once read. */
	assert_int_equal(bread(f, 4, buf), BLK_CBW_IMAGE);
	check_chunk(f, 4, buf);
	/* A write across chunks 6..8 and past the end of the image. */
	gwrite(f, 6 * CHUNK + 5, 2 * CHUNK, 11);
	blk_cbw_get_stats(&f->c, &st);
	assert_int_equal(st.copies, 4);
	for (unsigned i = 6; i <= 8; i++) {
		assert_int_equal(bread(f, i, buf), BLK_CBW_COPY);
		check_chunk(f, i, buf);
	}
	/* The short last chunk. */
	gwrite(f, SIZE - 10, 10, 12);
	assert_int_equal(bread(f, NCHUNK - 1, buf), BLK_CBW_COPY);
	check_chunk(f, NCHUNK - 1, buf);
	blk_cbw_stop(&f->c);
}

static void test_read_first_no_copy(void **state)
{
	struct fx *f = *state;
	uint8_t buf[CHUNK];
	struct blk_cbw_stats st;
	struct error err = { 0 };

	start(f);
	assert_int_equal(bread(f, 2, buf), BLK_CBW_IMAGE);
	check_chunk(f, 2, buf);
	assert_false(blk_cbw_pending(&f->c, 2 * CHUNK, CHUNK));
	gwrite(f, 2 * CHUNK, CHUNK, 20);
	blk_cbw_get_stats(&f->c, &st);
	assert_int_equal(st.copies, 0);
	assert_int_equal(st.waits, 0);
	/* Claimed twice: refused. A chunk that is no chunk: refused. */
	assert_int_equal(blk_cbw_claim(&f->c, 2 * CHUNK, buf, CHUNK, &err), -1);
	assert_int_equal(blk_cbw_claim(&f->c, CHUNK + 1, buf, CHUNK, &err), -1);
	assert_int_equal(blk_cbw_claim(&f->c, 0, buf, CHUNK - 1, &err), -1);
	assert_int_equal(blk_cbw_claim(&f->c, (uint64_t)NCHUNK * CHUNK, buf,
				       CHUNK, &err), -1);
	blk_cbw_stop(&f->c);
}

static void test_zero_chunk(void **state)
{
	struct fx *f = *state;
	uint8_t buf[CHUNK];
	struct blk_cbw_stats st;

	start(f);
	gwrite(f, 3 * CHUNK + 4096, 4096, 30);  /* chunk 3 was a hole */
	blk_cbw_get_stats(&f->c, &st);
	assert_int_equal(st.copies, 0);         /* nothing stored */
	assert_int_equal(bread(f, 3, buf), BLK_CBW_ZERO);
	check_chunk(f, 3, buf);
	blk_cbw_stop(&f->c);
}

struct writer {
	struct fx *f;
	uint64_t off;
	size_t len;
	unsigned seed;
	int done;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	gwrite(w->f, w->off, w->len, w->seed);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Claim chunk i for reading the image, then start a writer into it. */
static void claim_then_write(struct fx *f, unsigned i, struct writer *w,
			     pthread_t *t)
{
	uint8_t buf[CHUNK];
	struct error err = { 0 };

	assert_int_equal(blk_cbw_claim(&f->c, (uint64_t)i * CHUNK, buf, CHUNK,
				       &err), BLK_CBW_IMAGE);
	assert_int_equal(pthread_create(t, NULL, writer_main, w), 0);
}

/* A write to a chunk the backup is reading waits until it is read. */
static void test_write_waits_for_read(void **state)
{
	struct fx *f = *state;
	struct writer w = { f, 7 * CHUNK + 512, 4096, 40, 0 };
	uint8_t buf[CHUNK];
	struct blk_cbw_stats st;
	struct error err = { 0 };
	pthread_t t;

	start(f);
	claim_then_write(f, 7, &w, &t);
	sleep_ms(100);
	assert_int_equal(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(pread_full(f->fd, buf, CHUNK, 7 * CHUNK), CHUNK);
	check_chunk(f, 7, buf);                 /* untouched while read */
	assert_int_equal(blk_cbw_release(&f->c, 7 * CHUNK, &err), 0);
	pthread_join(t, NULL);
	assert_int_equal(w.done, 1);
	blk_cbw_get_stats(&f->c, &st);
	assert_int_equal(st.copies, 0);
	assert_true(st.waits >= 1);
	blk_cbw_stop(&f->c);
}

/* A cancel (the guest stops): a waiting write goes, claims fail. */
static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct writer w = { f, 9 * CHUNK, 100, 50, 0 };
	uint8_t buf[CHUNK];
	struct error err = { 0 };
	pthread_t t;

	start(f);
	claim_then_write(f, 9, &w, &t);
	sleep_ms(50);
	blk_cbw_cancel(&f->c, "the guest stopped");
	pthread_join(t, NULL);
	assert_int_equal(blk_cbw_release(&f->c, 9 * CHUNK, &err), -1);
	assert_string_equal(err.msg, "the guest stopped");
	assert_int_equal(blk_cbw_claim(&f->c, 0, buf, CHUNK, &err), -1);
	assert_false(blk_cbw_pending(&f->c, 0, CHUNK));
	blk_cbw_stop(&f->c);
	/* Stopped: nothing pending, writes unhindered, start again works. */
	gwrite(f, 0, 10, 51);
	start(f);
	assert_true(blk_cbw_pending(&f->c, 0, 1));
	blk_cbw_stop(&f->c);
}

/* ---- through the real backend ---- */

struct bk {
	pthread_mutex_t m;
	pthread_cond_t cv;
	unsigned done, failed;
};

static void on_done(void *opaque, struct blk_io *list)
{
	struct bk *k = opaque;

	pthread_mutex_lock(&k->m);
	for (; list; list = list->next) {
		k->done++;
		k->failed += list->result != 0;
	}
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->m);
}

#define NWRITES 400

struct storm {
	struct blk_backend *b;
	struct bk *k;
	struct blk_io io[NWRITES];
	struct iovec iov[NWRITES];
	uint8_t *data;
};

/* Writes, write-zeroes and discards all over the image, a few in flight
 * at a time, while the backup reads. */
static void *storm_main(void *arg)
{
	struct storm *s = arg;
	unsigned seed = 7;

	for (unsigned i = 0; i < NWRITES; i++) {
		struct blk_io *io = &s->io[i];
		uint64_t off;

		seed = seed * 1103515245 + 12345;
		off = (uint64_t)(seed >> 8) % (SIZE / 4096) * 4096;
		*io = (struct blk_io){ .op = BLK_OP_WRITE, .offset = off,
				       .len = 4096 * (1 + (seed >> 4) % 8) };
		if (io->len > SIZE - off)
			io->len = SIZE - off;
		if (i % 10 == 3)
			io->op = BLK_OP_WRITE_ZEROES;
		else if (i % 10 == 7)
			io->op = BLK_OP_DISCARD;
		s->iov[i] = (struct iovec){ s->data, io->len };
		io->iov = &s->iov[i];
		io->niov = io->op == BLK_OP_WRITE;
		if (io->op != BLK_OP_WRITE)
			io->iov = NULL;
		blk_backend_submit(s->b, io);
		pthread_mutex_lock(&s->k->m);
		while (i + 1 - s->k->done > 8)  /* at most 8 in flight */
			pthread_cond_wait(&s->k->cv, &s->k->m);
		pthread_mutex_unlock(&s->k->m);
		if (i % 16 == 0)
			sleep_ms(1);
	}
	pthread_mutex_lock(&s->k->m);
	while (s->k->done < NWRITES)
		pthread_cond_wait(&s->k->cv, &s->k->m);
	pthread_mutex_unlock(&s->k->m);
	return NULL;
}

static void backend_race(struct fx *f, enum disk_cache cache)
{
	struct blk_backend_opts o = { .path = f->path, .cache = cache,
				      .cbw = &f->c };
	struct storm *s = calloc(1, sizeof(*s));
	struct bk k = { .done = 0 };
	struct loop loop;
	struct error err = { 0 };
	uint8_t *buf = malloc(CHUNK);
	struct blk_cbw_stats st;
	pthread_t t;

	assert_non_null(s);
	assert_non_null(buf);
	assert_int_equal(posix_memalign((void **)&s->data, 4096, 8 * 4096), 0);
	fill(s->data, 8 * 4096, 60);
	pthread_mutex_init(&k.m, NULL);
	pthread_cond_init(&k.cv, NULL);
	assert_int_equal(loop_init(&loop, &err), 0);
	assert_int_equal(loop_start(&loop, &err), 0);
	if (blk_backend_open(&s->b, &o, &loop, on_done, &k, &err) < 0)
		fail_msg("open: %s", err.msg);
	s->k = &k;
	start(f);               /* nothing in flight yet */
	assert_int_equal(pthread_create(&t, NULL, storm_main, s), 0);
	for (unsigned i = 0; i < NCHUNK; i++) {
		int r = bread(f, i, buf);

		assert_true(r >= 0);
		check_chunk(f, i, buf);
		sleep_ms(3);
	}
	pthread_join(t, NULL);
	assert_int_equal(k.failed, 0);
	blk_cbw_get_stats(&f->c, &st);
	print_message("cache %d: %llu chunks copied, %llu writes waited\n", cache,
		      (unsigned long long)st.copies, (unsigned long long)st.waits);
	blk_cbw_stop(&f->c);
	/* The image did change under the backup. */
	assert_int_equal(pread_full(f->fd, buf, CHUNK, 0), CHUNK);
	blk_backend_close(s->b);
	loop_stop(&loop);
	loop_destroy(&loop);
	pthread_cond_destroy(&k.cv);
	pthread_mutex_destroy(&k.m);
	free(s->data);
	free(s);
	free(buf);
}

static void test_backend_writeback(void **state)
{
	backend_race(*state, DISK_CACHE_WRITEBACK);
}

static void test_backend_none(void **state)
{
	backend_race(*state, DISK_CACHE_NONE);
}

/* ---- disk_backup through the view (tools/backup/disk.c) ---- */

#define BIG     (3 * DISK_CHUNK + 1234 * 512)   /* 4 chunks, the last short */

/* A guest write of 8 KiB at off, as the backend does it. */
static void scrawl(struct blk_cbw *c, int fd, uint64_t off, unsigned seed)
{
	uint8_t p[8192];

	fill(p, sizeof(p), seed);
	blk_cbw_before_write(c, off, sizeof(p));
	assert_int_equal(pwrite_all(fd, p, sizeof(p), (off_t)off), 0);
}

/* The view, with the guest writing just ahead of the backup (the next
 * chunk, not read yet) and just behind it (the chunk just read). */
struct racing_view {
	struct blk_cbw *c;
	int fd;
};

static int racing_claim(void *opaque, uint64_t off, uint8_t *buf, size_t len,
			struct error *err)
{
	struct racing_view *v = opaque;

	if (off + DISK_CHUNK + 8192 <= BIG)
		scrawl(v->c, v->fd, off + DISK_CHUNK + 4096, 70);
	return blk_cbw_claim(v->c, off, buf, len, err);
}

static int racing_release(void *opaque, uint64_t off, struct error *err)
{
	struct racing_view *v = opaque;
	int r = blk_cbw_release(v->c, off, err);

	scrawl(v->c, v->fd, off, 71);
	return r;
}

/* The backup of an image written meanwhile restores byte for byte as the
 * image was when it began: whole chunks from the image or from copies. */
static void test_disk_backup_view(void **state)
{
	struct fx *f = *state;
	char img[128], repo[128], restored[160];
	uint8_t *orig = malloc(BIG), *back = malloc(BIG);
	struct racing_view rv = { &f->c, -1 };
	struct disk_view view = { racing_claim, racing_release, &rv };
	struct error err = { 0 };
	struct progress pg;
	struct blk_cbw_stats st;
	struct disk_plan plan;
	struct index ix;
	struct store s;
	struct repo r;
	int fd;

	assert_non_null(orig);
	assert_non_null(back);
	snprintf(img, sizeof(img), "%s/big.img", f->dir);
	snprintf(repo, sizeof(repo), "%s/repo", f->dir);
	fd = open(img, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	rv.fd = fd;
	fill(orig, BIG, 5);
	memset(orig + DISK_CHUNK, 0, DISK_CHUNK);       /* a hole */
	assert_int_equal(ftruncate(fd, BIG), 0);
	assert_int_equal(pwrite_all(fd, orig, DISK_CHUNK, 0), 0);
	assert_int_equal(pwrite_all(fd, orig + 2 * DISK_CHUNK, BIG - 2 * DISK_CHUNK,
				    2 * DISK_CHUNK), 0);
	assert_int_equal(blk_cbw_start(&f->c, img, f->dir, DISK_CHUNK, &err), 0);
	assert_int_equal(repo_open(&r, repo, REPO_CREATE, &err), 0);
	assert_int_equal(store_init(&s, &r, &err), 0);
	progress_start(&pg, false, BIG);
	assert_int_equal(disk_plan_live(&plan, &r, img, "disk0", NULL, NULL, 0,
					 &err), 0);
	if (disk_backup(&s, &plan, &view, &ix, &pg, &err) < 0)
		fail_msg("disk_backup: %s", err.msg);
	disk_plan_close(&plan);
	blk_cbw_get_stats(&f->c, &st);
	blk_cbw_stop(&f->c);
	assert_int_equal(st.copies, 2);         /* chunks 2 and 3; 1 was zeros */
	assert_int_equal(ix.size, BIG);
	assert_int_equal(disk_restore(&s, &ix, r.dirfd, "restored.img", &pg, &err), 0);
	snprintf(restored, sizeof(restored), "%s/restored.img", repo);
	close(fd);
	fd = open(restored, O_RDONLY);
	assert_int_equal(pread_full(fd, back, BIG, 0), BIG);
	if (memcmp(back, orig, BIG))
		fail_msg("the restored image differs from the image at the start");
	close(fd);
	index_free(&ix);
	store_free(&s);
	repo_close(&r);
	assert_int_equal(rmtree(repo, &err), 0);
	unlink(img);
	free(orig);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_saves_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_first_no_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_waits_for_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_writeback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_backup_view, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The split virtqueue against a hostile guest. A small "driver"
 * (fake_guest.h) writes descriptors and avail entries into fake guest memory
 * the way a guest would; the device side (devices/virtio/queue.c) must take
 * well-formed chains apart into iovecs and refuse everything else without
 * touching memory outside the used ring. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../boot/layout.h"
#include "../../devices/virtio/queue.h"
#include "fake_guest.h"

#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)

/* Spec constant (virtio 1.x, 2.7), spelled out by the "driver" */
#define AVAIL_F_NO_INTERRUPT 1

/* The fake guest: 1 MiB of RAM, a 16-entry queue at fixed addresses */
#define RAM		(1 * MiB)
#define QSZ		16
#define DESC_GPA	0x1000ULL
#define AVAIL_GPA	0x2000ULL
#define USED_GPA	0x3000ULL
#define USED_LEN	(6 + 8 * QSZ)
#define ITAB_GPA	0x4000ULL	/* an indirect table */
#define DATA_GPA	0x10000ULL	/* buffers */

struct fx {
	uint8_t *ram;
	uint8_t *snap;
	struct gmem m;
	struct virtq q;
	struct virtq_req *req;
	struct drvq d;		/* the driver's side of q */
};

/* ---- fixture ---- */

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ram = guest_ram_new(RAM);
	f->snap = malloc(RAM);
	f->req = malloc(sizeof(*f->req));
	if (!f->ram || !f->snap || !f->req)
		return -1;
	drvq_init(&f->d, f->ram, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA);
	gmem_init_fake(&f->m, f->ram, RAM);
	if (drvq_enable(&f->d, &f->q, &f->m))
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	free(f->ram);
	free(f->snap);
	free(f->req);
	free(f);
	return 0;
}

static void snap(struct fx *f)
{
	memcpy(f->snap, f->ram, RAM);
}

/* Compare RAM with the snapshot, skipping [skip, skip+skip_len) */
static void assert_ram_same_except(struct fx *f, uint64_t skip, uint64_t skip_len)
{
	uint64_t end = skip + skip_len;

	if (!memcmp(f->ram, f->snap, skip) &&
	    !memcmp(f->ram + end, f->snap + end, RAM - end))
		return;
	for (uint64_t i = 0; i < RAM; i++) {
		if (i >= skip && i < skip + skip_len)
			continue;
		if (f->ram[i] != f->snap[i])
			fail_msg("guest byte 0x%llx changed: 0x%02x -> 0x%02x",
				 (unsigned long long)i, f->snap[i], f->ram[i]);
	}
}

static void assert_ram_same(struct fx *f)
{
	assert_ram_same_except(f, 0, 0);
}

static void assert_iov(const struct iovec *iov, struct fx *f, uint64_t gpa,
		       size_t len)
{
	assert_ptr_equal(iov->iov_base, f->ram + gpa);
	assert_int_equal(iov->iov_len, len);
}

/* The queue must refuse what the driver queued: -1, broken, and no byte of
 * guest memory changed; it then stays broken. */
static void expect_broken(struct fx *f)
{
	snap(f);
	assert_int_equal(virtq_pop(&f->q, f->req), -1);
	assert_true(f->q.broken);
	assert_ram_same(f);
	assert_int_equal(virtq_pop(&f->q, f->req), -1);
	assert_int_equal(virtq_push(&f->q, 0, 0), -1);
	assert_true(f->q.broken);
	assert_ram_same(f);
}

static void pop_ok(struct fx *f, uint16_t head)
{
	assert_int_equal(virtq_pop(&f->q, f->req), 1);
	assert_false(f->q.broken);
	assert_int_equal(f->req->head, head);
}

/* ---- well-formed rings ---- */

static void test_out_in_chain(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 1);
	drvq_desc(&f->d, 1, DATA_GPA + 0x1000, 512, F_NEXT, 2);
	drvq_desc(&f->d, 2, DATA_GPA + 0x2000, 1, F_WRITE, 0);
	drvq_avail(&f->d, 0);

	snap(f);
	pop_ok(f, 0);
	assert_ram_same(f);
	assert_int_equal(f->req->nout, 2);
	assert_int_equal(f->req->nin, 1);
	assert_iov(&f->req->out[0], f, DATA_GPA, 16);
	assert_iov(&f->req->out[1], f, DATA_GPA + 0x1000, 512);
	assert_iov(&f->req->in[0], f, DATA_GPA + 0x2000, 1);
	assert_int_equal(f->req->out_len, 528);
	assert_int_equal(f->req->in_len, 1);
	assert_int_equal(f->q.last_avail, 1);

	assert_int_equal(virtq_pop(&f->q, f->req), 0);	/* nothing more */

	snap(f);
	assert_int_equal(virtq_push(&f->q, 0, 1), 0);
	assert_int_equal(drvq_used_idx(&f->d), 1);
	assert_int_equal(drvq_used_id(&f->d, 0), 0);
	assert_int_equal(drvq_used_len(&f->d, 0), 1);
	assert_int_equal(f->q.used_idx, 1);
	/* exactly the element and idx: bytes 2..3 and 4..11 */
	assert_ram_same_except(f, USED_GPA + 2, 10);
	assert_int_equal(f->ram[USED_GPA], 0);	/* flags untouched */
	assert_int_equal(f->ram[USED_GPA + 1], 0);
}

static bool page_marked(const uint64_t *bm, uint64_t gpa)
{
	return bm[gpa / 4096 / 64] >> (gpa / 4096 % 64) & 1;
}

/* While RAM is tracked for a migration (gmem_dirty_start), a push marks
 * the used ring and the writable buffers of the pushed chain (what the
 * device wrote), not its readable ones nor the descriptor table; nothing
 * is marked before tracking starts or after it stops, and a take clears. */
static void test_dirty_marks(void **state)
{
	struct fx *f = *state;
	uint64_t *bm = calloc(gmem_dirty_words(&f->m), sizeof(uint64_t));
	size_t words = gmem_dirty_words(&f->m);
	struct error err;

	assert_non_null(bm);
	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 1);
	drvq_desc(&f->d, 1, DATA_GPA + 0x2800, 0x1000, F_WRITE, 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_int_equal(virtq_push(&f->q, 0, 0x1000), 0);
	gmem_dirty_take(&f->m, bm);		/* not tracked: no bitmap */
	for (size_t i = 0; i < words; i++)
		assert_int_equal(bm[i], 0);

	assert_int_equal(gmem_dirty_start(&f->m, &err), 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_int_equal(virtq_push(&f->q, 0, 0x1000), 0);
	gmem_dirty_take(&f->m, bm);
	assert_true(page_marked(bm, USED_GPA));
	assert_true(page_marked(bm, DATA_GPA + 0x2000));	/* 0x2800.. */
	assert_true(page_marked(bm, DATA_GPA + 0x3000));	/* ..0x37ff */
	assert_false(page_marked(bm, DATA_GPA));		/* readable */
	assert_false(page_marked(bm, DATA_GPA + 0x4000));
	assert_false(page_marked(bm, DESC_GPA));
	assert_false(page_marked(bm, AVAIL_GPA));

	memset(bm, 0, words * sizeof(uint64_t));
	gmem_dirty_take(&f->m, bm);		/* the take cleared them */
	for (size_t i = 0; i < words; i++)
		assert_int_equal(bm[i], 0);

	gmem_dirty_stop(&f->m);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_int_equal(virtq_push(&f->q, 0, 0x1000), 0);
	gmem_dirty_take(&f->m, bm);
	for (size_t i = 0; i < words; i++)
		assert_int_equal(bm[i], 0);
	free(bm);
	gmem_free(&f->m);			/* the bitmap */
}

static void test_multiple_requests(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 3, DATA_GPA, 8, F_NEXT, 4);
	drvq_desc(&f->d, 4, DATA_GPA + 0x100, 64, F_WRITE, 0);
	drvq_desc(&f->d, 7, DATA_GPA + 0x200, 32, 0, 0);
	drvq_desc(&f->d, 9, DATA_GPA + 0x300, 128, F_WRITE | F_NEXT, 10);
	drvq_desc(&f->d, 10, DATA_GPA + 0x400, 4, F_WRITE, 0);
	drvq_avail(&f->d, 3);
	drvq_avail(&f->d, 7);
	drvq_avail(&f->d, 9);

	pop_ok(f, 3);
	assert_int_equal(f->req->nout, 1);
	assert_int_equal(f->req->nin, 1);
	assert_iov(&f->req->out[0], f, DATA_GPA, 8);
	assert_iov(&f->req->in[0], f, DATA_GPA + 0x100, 64);

	pop_ok(f, 7);
	assert_int_equal(f->req->nout, 1);
	assert_int_equal(f->req->nin, 0);
	assert_iov(&f->req->out[0], f, DATA_GPA + 0x200, 32);
	assert_int_equal(f->req->in_len, 0);

	pop_ok(f, 9);
	assert_int_equal(f->req->nout, 0);
	assert_int_equal(f->req->nin, 2);
	assert_iov(&f->req->in[0], f, DATA_GPA + 0x300, 128);
	assert_iov(&f->req->in[1], f, DATA_GPA + 0x400, 4);
	assert_int_equal(f->req->in_len, 132);

	assert_int_equal(virtq_pop(&f->q, f->req), 0);

	/* Completed out of order */
	assert_int_equal(virtq_push(&f->q, 9, 132), 0);
	assert_int_equal(virtq_push(&f->q, 3, 64), 0);
	assert_int_equal(virtq_push(&f->q, 7, 0), 0);
	assert_int_equal(drvq_used_idx(&f->d), 3);
	assert_int_equal(drvq_used_id(&f->d, 0), 9);
	assert_int_equal(drvq_used_len(&f->d, 0), 132);
	assert_int_equal(drvq_used_id(&f->d, 1), 3);
	assert_int_equal(drvq_used_len(&f->d, 1), 64);
	assert_int_equal(drvq_used_id(&f->d, 2), 7);
	assert_int_equal(drvq_used_len(&f->d, 2), 0);

	/* The driver reuses the descriptors */
	drvq_avail(&f->d, 7);
	pop_ok(f, 7);
	assert_int_equal(f->q.last_avail, 4);
}

static void test_empty(void **state)
{
	struct fx *f = *state;

	snap(f);
	assert_int_equal(virtq_pop(&f->q, f->req), 0);
	assert_int_equal(virtq_pop(&f->q, f->req), 0);
	assert_false(f->q.broken);
	assert_ram_same(f);
}

/* A full ring: exactly size entries outstanding is fine */
static void test_full_ring(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < QSZ; i++) {
		drvq_desc(&f->d, i, DATA_GPA + 0x100 * i, 0x10 + i, F_WRITE, 0);
		drvq_avail(&f->d, QSZ - 1 - i);
	}
	for (unsigned i = 0; i < QSZ; i++) {
		unsigned h = QSZ - 1 - i;

		pop_ok(f, h);
		assert_int_equal(f->req->nin, 1);
		assert_iov(&f->req->in[0], f, DATA_GPA + 0x100 * h, 0x10 + h);
	}
	assert_int_equal(virtq_pop(&f->q, f->req), 0);
}

/* Free-running 16-bit indexes wrap from 65535 to 0 */
static void test_wraparound(void **state)
{
	struct fx *f = *state;

	f->q.last_avail = 65534;
	f->q.used_idx = 65534;
	guest_put16(f->ram, USED_GPA + 2, 65534);
	f->d.avail_idx = 65534;
	guest_put16(f->ram, AVAIL_GPA + 2, 65534);

	for (unsigned i = 0; i < 4; i++) {
		drvq_desc(&f->d, i + 5, DATA_GPA + 0x40 * i, 0x20, F_WRITE, 0);
		drvq_avail(&f->d, i + 5);
	}
	assert_int_equal(guest_get16(f->ram, AVAIL_GPA + 2), 2);
	/* ring slots 14, 15, 0, 1 */
	assert_int_equal(guest_get16(f->ram, AVAIL_GPA + 4 + 2 * 14), 5);
	assert_int_equal(guest_get16(f->ram, AVAIL_GPA + 4 + 2 * 1), 8);

	for (unsigned i = 0; i < 4; i++) {
		pop_ok(f, i + 5);
		assert_iov(&f->req->in[0], f, DATA_GPA + 0x40 * i, 0x20);
		assert_int_equal(virtq_push(&f->q, i + 5, 0x20), 0);
	}
	assert_int_equal(f->q.last_avail, 2);
	assert_int_equal(virtq_pop(&f->q, f->req), 0);
	assert_int_equal(drvq_used_idx(&f->d), 2);
	assert_int_equal(drvq_used_id(&f->d, 14), 5);
	assert_int_equal(drvq_used_id(&f->d, 15), 6);
	assert_int_equal(drvq_used_id(&f->d, 0), 7);
	assert_int_equal(drvq_used_id(&f->d, 1), 8);
	assert_int_equal(drvq_used_len(&f->d, 1), 0x20);
}

/* A chain using every descriptor of the table is legal */
static void test_chain_of_size(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < QSZ; i++)
		drvq_desc(&f->d, i, DATA_GPA + 0x10 * i, 0x10,
			 i < QSZ - 1 ? F_NEXT : 0, (uint16_t)(i + 1));
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_int_equal(f->req->nout, QSZ);
	assert_int_equal(f->req->out_len, 0x10 * QSZ);
	assert_iov(&f->req->out[QSZ - 1], f, DATA_GPA + 0x10 * (QSZ - 1), 0x10);
}

/* Zero-length buffers are skipped: no iovec, no harm */
static void test_zero_length_skipped(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 1);
	drvq_desc(&f->d, 1, DATA_GPA + 0x100, 0, F_NEXT, 2);
	drvq_desc(&f->d, 2, DATA_GPA + 0x200, 0, F_WRITE | F_NEXT, 3);
	drvq_desc(&f->d, 3, DATA_GPA + 0x300, 8, F_WRITE, 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_int_equal(f->req->nout, 1);
	assert_int_equal(f->req->nin, 1);
	assert_iov(&f->req->out[0], f, DATA_GPA, 16);
	assert_iov(&f->req->in[0], f, DATA_GPA + 0x300, 8);
	assert_int_equal(f->req->out_len, 16);
	assert_int_equal(f->req->in_len, 8);
}

static void test_last_byte_of_ram(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, RAM - 1, 1, F_WRITE, 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_iov(&f->req->in[0], f, RAM - 1, 1);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;

	desc_write(f->ram + ITAB_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	desc_write(f->ram + ITAB_GPA, 1, DATA_GPA + 0x100, 7, F_NEXT, 2);
	desc_write(f->ram + ITAB_GPA, 2, DATA_GPA + 0x200, 100, F_WRITE, 0);
	/* the WRITE flag of the indirect descriptor itself is ignored */
	drvq_desc(&f->d, 5, ITAB_GPA, 3 * 16, F_INDIRECT | F_WRITE, 0);
	drvq_avail(&f->d, 5);

	pop_ok(f, 5);
	assert_int_equal(f->req->nout, 2);
	assert_int_equal(f->req->nin, 1);
	assert_iov(&f->req->out[0], f, DATA_GPA, 16);
	assert_iov(&f->req->out[1], f, DATA_GPA + 0x100, 7);
	assert_iov(&f->req->in[0], f, DATA_GPA + 0x200, 100);
	assert_int_equal(f->req->out_len, 23);
	assert_int_equal(f->req->in_len, 100);
	assert_int_equal(virtq_push(&f->q, 5, 100), 0);
	assert_int_equal(drvq_used_id(&f->d, 0), 5);
}

/* Direct descriptors, then an indirect table; an unaligned table and an
 * indirect table longer than the queue are fine */
static void test_indirect_after_direct(void **state)
{
	struct fx *f = *state;
	const uint64_t itab = ITAB_GPA + 3;	/* no alignment required */
	const unsigned n = 3 * QSZ;

	for (unsigned i = 0; i < n; i++)
		desc_write(f->ram + itab, i, DATA_GPA + 0x10 * i, 0x10,
			 i < n - 1 ? F_NEXT | F_WRITE : F_WRITE, (uint16_t)(i + 1));
	drvq_desc(&f->d, 2, DATA_GPA + 0x4000, 12, F_NEXT, 8);
	drvq_desc(&f->d, 8, itab, n * 16, F_INDIRECT, 0);
	drvq_avail(&f->d, 2);

	pop_ok(f, 2);
	assert_int_equal(f->req->nout, 1);
	assert_int_equal(f->req->nin, n);
	assert_iov(&f->req->out[0], f, DATA_GPA + 0x4000, 12);
	assert_iov(&f->req->in[0], f, DATA_GPA, 0x10);
	assert_iov(&f->req->in[n - 1], f, DATA_GPA + 0x10 * (n - 1), 0x10);
	assert_int_equal(f->req->in_len, 0x10 * n);
}

/* ---- hostile guests ---- */

static void test_loop_two(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 1);
	drvq_desc(&f->d, 1, DATA_GPA, 16, F_NEXT, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_loop_self(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 4, DATA_GPA, 16, F_WRITE | F_NEXT, 4);
	drvq_avail(&f->d, 4);
	expect_broken(f);
}

/* size + 1 descriptors: the last one revisits the chain */
static void test_chain_longer_than_queue(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < QSZ; i++)
		drvq_desc(&f->d, i, DATA_GPA, 0x10, F_NEXT, (uint16_t)((i + 1) % QSZ));
	drvq_desc(&f->d, QSZ - 1, DATA_GPA, 0x10, F_NEXT, 7);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_addr_past_ram(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, RAM - 8, 16, 0, 0);	/* straddles the end */
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_addr_outside_ram(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 1);
	drvq_desc(&f->d, 1, MMIO_HOLE_START, 16, F_WRITE, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_addr_wraps(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, 0xfffffffffffffff0ULL, 32, 0, 0);	/* wraps to 0x10 */
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_huge_length(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 0xffffffff, F_WRITE, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

/* A zero-length buffer touches nothing, but its address must still be RAM */
static void test_zero_length_outside_ram(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, RAM, 0, 0, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, 0, 0);
	drvq_avail(&f->d, QSZ);
	expect_broken(f);
}

static void test_head_ffff(void **state)
{
	struct fx *f = *state;

	drvq_avail(&f->d, 0xffff);
	expect_broken(f);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, QSZ);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < QSZ; i++)
		drvq_desc(&f->d, i, DATA_GPA, 16, 0, 0);
	guest_put16(f->ram, AVAIL_GPA + 2, QSZ + 1);	/* 17 outstanding of 16 */
	expect_broken(f);
}

static void test_avail_idx_backwards(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, 0, 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	guest_put16(f->ram, AVAIL_GPA + 2, 0);	/* = last_avail - 1: 65535 outstanding */
	expect_broken(f);
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_WRITE | F_NEXT, 1);
	drvq_desc(&f->d, 1, DATA_GPA + 0x100, 16, 0, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_readable_after_writable_indirect(void **state)
{
	struct fx *f = *state;

	/* writable direct buffer, then a readable one in the table */
	desc_write(f->ram + ITAB_GPA, 0, DATA_GPA, 16, 0, 0);
	drvq_desc(&f->d, 0, DATA_GPA + 0x100, 16, F_WRITE | F_NEXT, 1);
	drvq_desc(&f->d, 1, ITAB_GPA, 16, F_INDIRECT, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void indirect_case(struct fx *f, uint64_t table, uint32_t len,
			  uint16_t flags)
{
	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 1);
	drvq_desc(&f->d, 1, table, len, flags, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

static void test_indirect_len_not_multiple(void **state)
{
	struct fx *f = *state;

	desc_write(f->ram + ITAB_GPA, 0, DATA_GPA, 16, 0, 0);
	desc_write(f->ram + ITAB_GPA, 1, DATA_GPA, 16, 0, 0);
	indirect_case(f, ITAB_GPA, 24, F_INDIRECT);
}

static void test_indirect_len_zero(void **state)
{
	indirect_case(*state, ITAB_GPA, 0, F_INDIRECT);
}

static void test_indirect_outside_ram(void **state)
{
	struct fx *f = *state;

	desc_write(f->ram + RAM - 16, 0, DATA_GPA, 16, 0, 0);
	indirect_case(f, RAM - 16, 32, F_INDIRECT);	/* 2nd entry past the end */
}

static void test_indirect_huge(void **state)
{
	indirect_case(*state, ITAB_GPA, 0xfffffff0, F_INDIRECT);
}

static void test_indirect_wraps(void **state)
{
	indirect_case(*state, 0xfffffffffffffff0ULL, 32, F_INDIRECT);
}

static void test_indirect_nested(void **state)
{
	struct fx *f = *state;

	desc_write(f->ram + ITAB_GPA + 0x100, 0, DATA_GPA, 16, 0, 0);
	desc_write(f->ram + ITAB_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	desc_write(f->ram + ITAB_GPA, 1, ITAB_GPA + 0x100, 16, F_INDIRECT, 0);
	indirect_case(f, ITAB_GPA, 32, F_INDIRECT);
}

static void test_indirect_and_next(void **state)
{
	struct fx *f = *state;

	desc_write(f->ram + ITAB_GPA, 0, DATA_GPA, 16, 0, 0);
	drvq_desc(&f->d, 2, DATA_GPA, 16, F_WRITE, 0);
	indirect_case(f, ITAB_GPA, 16, F_INDIRECT | F_NEXT);
}

/* Entries of a table index the table, not the queue: next = 2 is a valid
 * queue index but past a 2-entry table */
static void test_indirect_next_out_of_table(void **state)
{
	struct fx *f = *state;

	desc_write(f->ram + ITAB_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	desc_write(f->ram + ITAB_GPA, 1, DATA_GPA, 16, F_NEXT, 2);
	desc_write(f->ram + ITAB_GPA, 2, DATA_GPA, 16, 0, 0);	/* exists, not in table */
	indirect_case(f, ITAB_GPA, 32, F_INDIRECT);
}

static void test_indirect_loop(void **state)
{
	struct fx *f = *state;

	desc_write(f->ram + ITAB_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	desc_write(f->ram + ITAB_GPA, 1, DATA_GPA, 16, F_NEXT, 0);
	indirect_case(f, ITAB_GPA, 32, F_INDIRECT);
}

static void test_indirect_self_loop_big_table(void **state)
{
	struct fx *f = *state;

	/* A large table of self-loops: bounded by the table length */
	for (unsigned i = 0; i < 256; i++)
		desc_write(f->ram + ITAB_GPA, i, DATA_GPA, 16, F_NEXT, (uint16_t)i);
	indirect_case(f, ITAB_GPA, 256 * 16, F_INDIRECT);
}

/* A table of n one-byte buffers at gpa */
static void big_table(struct fx *f, uint64_t gpa, unsigned n, uint16_t flags)
{
	for (unsigned i = 0; i < n; i++)
		desc_write(f->ram + gpa, i, DATA_GPA + i, 1,
			 i < n - 1 ? flags | F_NEXT : flags, (uint16_t)(i + 1));
}

/* A request holds up to VIRTQ_MAX_IOV buffers each way: more is refused,
 * never overflowed */
static void test_indirect_max_buffers(void **state)
{
	struct fx *f = *state;
	const uint64_t table = 0x20000;

	big_table(f, table, VIRTQ_MAX_IOV, F_WRITE);
	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 1);
	drvq_desc(&f->d, 1, table, VIRTQ_MAX_IOV * 16, F_INDIRECT, 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_int_equal(f->req->nout, 1);
	assert_int_equal(f->req->nin, VIRTQ_MAX_IOV);
	assert_iov(&f->req->in[VIRTQ_MAX_IOV - 1], f, DATA_GPA + VIRTQ_MAX_IOV - 1, 1);
	assert_int_equal(f->req->in_len, VIRTQ_MAX_IOV);

	big_table(f, table, VIRTQ_MAX_IOV, 0);
	drvq_desc(&f->d, 3, table, VIRTQ_MAX_IOV * 16, F_INDIRECT, 0);
	drvq_avail(&f->d, 3);
	pop_ok(f, 3);
	assert_int_equal(f->req->nout, VIRTQ_MAX_IOV);
	assert_int_equal(f->req->nin, 0);
	assert_iov(&f->req->out[VIRTQ_MAX_IOV - 1], f, DATA_GPA + VIRTQ_MAX_IOV - 1, 1);
}

static void test_indirect_too_many_out(void **state)
{
	struct fx *f = *state;
	const uint64_t table = 0x20000;

	/* 1 direct + VIRTQ_MAX_IOV in the table: one too many */
	big_table(f, table, VIRTQ_MAX_IOV, 0);
	indirect_case(f, table, VIRTQ_MAX_IOV * 16, F_INDIRECT);
}

static void test_indirect_too_many_in(void **state)
{
	struct fx *f = *state;
	const uint64_t table = 0x20000;

	big_table(f, table, VIRTQ_MAX_IOV + 1, F_WRITE);
	drvq_desc(&f->d, 0, table, (VIRTQ_MAX_IOV + 1) * 16, F_INDIRECT, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);
}

/* Chain over 4 GiB in total (spec: drivers must not): refused. Needs RAM
 * big enough for the buffers to be valid one by one. */
static void test_chain_over_4g(void **state)
{
	const uint64_t ram = 3 * GiB + 64 * MiB;	/* 3 GiB low + 64 MiB high */
	struct virtq_req *req = malloc(sizeof(*req));
	struct gmem m;
	struct virtq q = { 0 };
	uint8_t *h;

	(void)state;
	assert_non_null(req);
	h = mmap(NULL, ram, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(h != MAP_FAILED);
	gmem_init_fake(&m, h, ram);
	q.size = QSZ;
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	q.mem = &m;
	assert_int_equal(virtq_activate(&q), 0);

	/* 2 GiB - 1 + 2 GiB - 1 + 2 bytes = 4 GiB: the limit, accepted */
	desc_write(h + DESC_GPA, 0, 0x40000000, 0x7fffffff, F_NEXT, 1);
	desc_write(h + DESC_GPA, 1, 0x40000000, 0x7fffffff, F_NEXT, 2);
	desc_write(h + DESC_GPA, 2, 0x40000000, 2, 0, 0);
	h[AVAIL_GPA + 2] = 1;			/* avail->idx = 1, head 0 */
	assert_int_equal(virtq_pop(&q, req), 1);
	assert_int_equal(req->out_len, 1ULL << 32);
	assert_int_equal(req->nout, 3);

	/* one byte more: refused */
	desc_write(h + DESC_GPA, 2, 0x40000000, 3, 0, 0);
	h[AVAIL_GPA + 2] = 2;
	assert_int_equal(virtq_pop(&q, req), -1);
	assert_true(q.broken);

	munmap(h, ram);
	free(req);
}

/* ---- activation ---- */

static void expect_activate_fails(struct fx *f)
{
	snap(f);
	assert_int_equal(virtq_activate(&f->q), -1);
	assert_true(f->q.broken);
	assert_int_equal(virtq_pop(&f->q, f->req), -1);
	assert_int_equal(virtq_push(&f->q, 0, 0), -1);
	assert_ram_same(f);
}

static void test_activate_desc_past_ram(void **state)
{
	struct fx *f = *state;

	f->q.desc_gpa = RAM - 16 * QSZ + 16;	/* last entry past the end */
	expect_activate_fails(f);
}

static void test_activate_avail_past_ram(void **state)
{
	struct fx *f = *state;

	f->q.avail_gpa = RAM - (6 + 2 * QSZ) + 2;	/* used_event past the end */
	expect_activate_fails(f);
}

static void test_activate_used_past_ram(void **state)
{
	struct fx *f = *state;

	f->q.used_gpa = RAM - (USED_LEN - 2);	/* only avail_event past the end */
	expect_activate_fails(f);
}

static void test_activate_wrapping_gpa(void **state)
{
	struct fx *f = *state;

	f->q.desc_gpa = 0xfffffffffffffff0ULL;
	expect_activate_fails(f);
}

static void test_activate_misaligned(void **state)
{
	struct fx *f = *state;

	f->q.desc_gpa = DESC_GPA + 8;
	expect_activate_fails(f);
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = AVAIL_GPA + 1;
	expect_activate_fails(f);
	f->q.avail_gpa = AVAIL_GPA;
	f->q.used_gpa = USED_GPA + 2;
	expect_activate_fails(f);
	f->q.used_gpa = USED_GPA;
	assert_int_equal(virtq_activate(&f->q), 0);
	assert_false(f->q.broken);
}

static void test_activate_bad_size(void **state)
{
	struct fx *f = *state;

	f->q.size = 0;
	expect_activate_fails(f);
	f->q.size = 12;
	expect_activate_fails(f);
	f->q.size = 2 * VIRTQ_MAX_SIZE;
	expect_activate_fails(f);
	f->q.size = 0xffff;
	expect_activate_fails(f);
	f->q.size = 1;
	assert_int_equal(virtq_activate(&f->q), 0);
	f->q.mem = NULL;
	expect_activate_fails(f);
}

/* The transport moving the used ring after activation: push refuses to
 * write anywhere */
static void test_push_used_ring_gone(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_WRITE, 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	f->q.used_gpa = RAM - 8;
	snap(f);
	assert_int_equal(virtq_push(&f->q, 0, 16), -1);
	assert_true(f->q.broken);
	assert_ram_same(f);
}

static void test_push_bad_head(void **state)
{
	struct fx *f = *state;

	snap(f);
	assert_int_equal(virtq_push(&f->q, QSZ, 0), -1);
	assert_true(f->q.broken);
	assert_ram_same(f);
	assert_int_equal(f->q.used_idx, 0);
}

/* Vessel's guest RAM is always host-writable (gmem_alloc maps it
 * PROT_READ|PROT_WRITE and there is no ROM), so "a used ring the device
 * cannot write" means a used ring that is not wholly in one RAM region:
 * straddling the end of low RAM, inside the MMIO hole, straddling the end of
 * high RAM. Over a 3 GiB + 64 KiB fake guest (MAP_NORESERVE: only touched
 * pages cost). Rings in high RAM work. */
static void test_rings_across_regions(void **state)
{
	const uint64_t ram = 3 * GiB + 64 * 1024;
	const uint64_t high_end = HIGH_RAM_START + 64 * 1024;
	struct virtq_req *req = malloc(sizeof(*req));
	struct gmem m;
	struct virtq q = { 0 };
	uint8_t *h, *hi;

	(void)state;
	assert_non_null(req);
	h = mmap(NULL, ram, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(h != MAP_FAILED);
	gmem_init_fake(&m, h, ram);
	assert_int_equal(m.nregions, 2);
	hi = h + MMIO_HOLE_START;	/* host address of HIGH_RAM_START */

	q.size = QSZ;
	q.desc_gpa = HIGH_RAM_START;
	q.avail_gpa = HIGH_RAM_START + 0x1000;
	q.mem = &m;

	q.used_gpa = MMIO_HOLE_START - 64;	/* straddles the end of low RAM */
	assert_int_equal(virtq_activate(&q), -1);
	assert_true(q.broken);
	q.used_gpa = MMIO_HOLE_START;		/* in the hole */
	assert_int_equal(virtq_activate(&q), -1);
	q.used_gpa = IOAPIC_ADDR;
	assert_int_equal(virtq_activate(&q), -1);
	q.used_gpa = high_end - 64;		/* straddles the end of RAM */
	assert_int_equal(virtq_activate(&q), -1);
	q.used_gpa = high_end;
	assert_int_equal(virtq_activate(&q), -1);

	q.used_gpa = HIGH_RAM_START + 0x2000;
	assert_int_equal(virtq_activate(&q), 0);
	assert_false(q.broken);

	/* a buffer straddling the low/high boundary in guest-physical terms
	 * would be contiguous on the host here: it must still be refused */
	desc_write(hi, 0, MMIO_HOLE_START - 8, 16, 0, 0);
	hi[0x1000 + 2] = 1;			/* avail->idx = 1, head 0 */
	assert_int_equal(virtq_pop(&q, req), -1);
	assert_true(q.broken);

	/* a buffer in high RAM is fine */
	desc_write(hi, 0, HIGH_RAM_START + 0x8000, 0x100, F_WRITE, 0);
	virtq_reset(&q);
	assert_int_equal(virtq_activate(&q), 0);
	assert_int_equal(virtq_pop(&q, req), 1);
	assert_int_equal(req->nin, 1);
	assert_ptr_equal(req->in[0].iov_base, hi + 0x8000);
	assert_int_equal(virtq_push(&q, 0, 0x100), 0);
	assert_int_equal(hi[0x2000 + 2], 1);	/* used->idx */
	assert_int_equal(hi[0x2000 + 8], 0);	/* used->ring[0].len = 0x100 */
	assert_int_equal(hi[0x2000 + 9], 1);

	munmap(h, ram);
	free(req);
}

/* ---- reset ---- */

static void test_reset_clears_broken(void **state)
{
	struct fx *f = *state;

	drvq_desc(&f->d, 0, DATA_GPA, 16, F_NEXT, 0);
	drvq_avail(&f->d, 0);
	expect_broken(f);

	/* fixing the ring is not enough: broken until reset */
	drvq_desc(&f->d, 0, DATA_GPA, 16, 0, 0);
	assert_int_equal(virtq_pop(&f->q, f->req), -1);

	virtq_reset(&f->q);
	assert_false(f->q.broken);
	assert_int_equal(f->q.last_avail, 0);
	assert_int_equal(f->q.used_idx, 0);
	/* the driver starts over */
	memset(f->ram + AVAIL_GPA, 0, 6 + 2 * QSZ);
	memset(f->ram + USED_GPA, 0, USED_LEN);
	f->d.avail_idx = 0;
	assert_int_equal(virtq_activate(&f->q), 0);
	assert_int_equal(virtq_pop(&f->q, f->req), 0);
	drvq_avail(&f->d, 0);
	pop_ok(f, 0);
	assert_iov(&f->req->out[0], f, DATA_GPA, 16);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_int_equal(drvq_used_idx(&f->d), 1);
}

/* ---- notification ---- */

static void test_notify_flags(void **state)
{
	struct fx *f = *state;

	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_true(virtq_should_notify(&f->q));
	guest_put16(f->ram, AVAIL_GPA, AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_should_notify(&f->q));
	guest_put16(f->ram, AVAIL_GPA, 0);
	assert_true(virtq_should_notify(&f->q));
}

static void test_notify_event_idx(void **state)
{
	struct fx *f = *state;

	f->q.event_idx = true;
	guest_put16(f->ram, AVAIL_GPA, AVAIL_F_NO_INTERRUPT);	/* ignored with EVENT_IDX */

	/* first time: always, even though used_event is not reached */
	drvq_set_used_event(&f->d, 0x100);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_true(virtq_should_notify(&f->q));
	assert_int_equal(f->q.signalled_used, 1);
	drvq_set_used_event(&f->d, 0);

	/* used_event 0 already passed: 1 -> 2 does not cross it */
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_false(virtq_should_notify(&f->q));

	/* nothing pushed since: no */
	drvq_set_used_event(&f->d, 1);
	assert_false(virtq_should_notify(&f->q));

	/* used_event 3: 2 -> 3 does not reach it, 3 -> 5 crosses it */
	drvq_set_used_event(&f->d, 3);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_false(virtq_should_notify(&f->q));
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_true(virtq_should_notify(&f->q));
	assert_int_equal(f->q.signalled_used, 5);
}

static void test_notify_event_idx_wrap(void **state)
{
	struct fx *f = *state;

	f->q.event_idx = true;
	f->q.used_idx = 65535;
	f->q.signalled_used = 65535;
	f->q.signalled_valid = true;
	drvq_set_used_event(&f->d, 0);		/* interrupt when entry 0 is used */
	assert_int_equal(virtq_push(&f->q, 1, 0), 0);	/* 65535 -> 0 */
	assert_false(virtq_should_notify(&f->q));
	assert_int_equal(virtq_push(&f->q, 1, 0), 0);	/* 0 -> 1: entry 0 */
	assert_true(virtq_should_notify(&f->q));

	f->q.signalled_used = 65534;		/* 65534 -> 1 crosses 65535 */
	f->q.used_idx = 1;
	drvq_set_used_event(&f->d, 65535);
	assert_true(virtq_should_notify(&f->q));
}

/* With EVENT_IDX the device publishes avail_event = last_avail, and writes
 * nothing outside the used ring */
static void test_avail_event(void **state)
{
	struct fx *f = *state;

	f->q.event_idx = true;
	guest_put16(f->ram, USED_GPA + 4 + 8 * QSZ, 0x7777);	/* stale */
	snap(f);
	assert_int_equal(virtq_pop(&f->q, f->req), 0);	/* empty: publishes too */
	assert_int_equal(drvq_avail_event(&f->d), 0);
	assert_ram_same_except(f, USED_GPA + 4 + 8 * QSZ, 2);

	drvq_desc(&f->d, 0, DATA_GPA, 16, 0, 0);
	drvq_avail(&f->d, 0);
	drvq_avail(&f->d, 0);
	snap(f);
	pop_ok(f, 0);
	assert_int_equal(drvq_avail_event(&f->d), 1);
	pop_ok(f, 0);
	assert_int_equal(drvq_avail_event(&f->d), 2);
	assert_int_equal(virtq_pop(&f->q, f->req), 0);
	assert_ram_same_except(f, USED_GPA + 4 + 8 * QSZ, 2);
}

/* ---- copying across iovecs ---- */

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
} __attribute__((packed));

/* A virtio-blk-like request with its 16-byte header split 7 + 9 across two
 * descriptors, data in a third, a 1-byte status */
static void test_split_header(void **state)
{
	struct fx *f = *state;
	struct blk_hdr hdr = { htole32(1), 0, htole64(0x1122334455667788ULL) };
	struct blk_hdr got;
	uint8_t data[32], status = 0;

	memcpy(f->ram + DATA_GPA + 0x500, &hdr, 7);
	memcpy(f->ram + DATA_GPA + 0x100, (uint8_t *)&hdr + 7, 9);
	for (unsigned i = 0; i < sizeof(data); i++)
		f->ram[DATA_GPA + 0x800 + i] = (uint8_t)(0xa0 + i);
	f->ram[DATA_GPA + 0x900] = 0xee;

	drvq_desc(&f->d, 1, DATA_GPA + 0x500, 7, F_NEXT, 6);
	drvq_desc(&f->d, 6, DATA_GPA + 0x100, 9, F_NEXT, 2);
	drvq_desc(&f->d, 2, DATA_GPA + 0x800, sizeof(data), F_NEXT, 3);
	drvq_desc(&f->d, 3, DATA_GPA + 0x900, 1, F_WRITE, 0);
	drvq_avail(&f->d, 1);
	pop_ok(f, 1);
	assert_int_equal(f->req->nout, 3);
	assert_int_equal(f->req->out_len, 16 + sizeof(data));

	memset(&got, 0, sizeof(got));
	assert_int_equal(iov_to_buf(f->req->out, f->req->nout, 0, &got, sizeof(got)), 16);
	assert_int_equal(le32toh(got.type), 1);
	assert_int_equal(le32toh(got.reserved), 0);
	assert_int_equal(le64toh(got.sector), 0x1122334455667788ULL);

	/* data after the header, from an offset inside the second iovec too */
	memset(data, 0, sizeof(data));
	assert_int_equal(iov_to_buf(f->req->out, f->req->nout, 16, data, sizeof(data)),
			 sizeof(data));
	for (unsigned i = 0; i < sizeof(data); i++)
		assert_int_equal(data[i], 0xa0 + i);
	assert_int_equal(iov_to_buf(f->req->out, f->req->nout, 10, data, 4), 4);
	assert_memory_equal(data, (uint8_t *)&hdr + 10, 4);
	/* from inside the first iovec across into the third */
	memset(data, 0, sizeof(data));
	assert_int_equal(iov_to_buf(f->req->out, f->req->nout, 3, data, 15), 15);
	assert_memory_equal(data, (uint8_t *)&hdr + 3, 13);
	assert_int_equal(data[13], 0xa0);
	assert_int_equal(data[14], 0xa1);
	assert_int_equal(data[15], 0);	/* no more than asked */

	/* bounded by the list */
	assert_int_equal(iov_to_buf(f->req->out, f->req->nout, 40, data, sizeof(data)), 8);
	assert_int_equal(data[0], 0xa0 + 24);
	assert_int_equal(iov_to_buf(f->req->out, f->req->nout, 48, data, 1), 0);
	assert_int_equal(iov_to_buf(f->req->out, f->req->nout, 1000, data, 1), 0);

	status = 0x5a;
	assert_int_equal(iov_from_buf(f->req->in, f->req->nin, 0, &status, 1), 1);
	assert_int_equal(f->ram[DATA_GPA + 0x900], 0x5a);
	assert_int_equal(f->ram[DATA_GPA + 0x901], (uint8_t)((DATA_GPA + 0x901) * 131 + 7));
	assert_int_equal(iov_from_buf(f->req->in, f->req->nin, 1, &status, 1), 0);
}

static void test_iov_from_buf_split(void **state)
{
	uint8_t a[3], b[5], c[4];
	struct iovec iov[3] = { { a, 3 }, { b, 5 }, { c, 4 } };
	const uint8_t src[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	const uint8_t b_want[5] = { 9, 9, 1, 2, 3 };

	(void)state;
	memset(a, 9, 3);
	memset(b, 9, 5);
	memset(c, 9, 4);
	/* from offset 5 (inside b), 12 bytes asked, 7 fit */
	assert_int_equal(iov_from_buf(iov, 3, 5, src, sizeof(src)), 7);
	assert_memory_equal(b, b_want, 5);
	assert_int_equal(c[0], 4);
	assert_int_equal(c[3], 7);
	assert_int_equal(a[2], 9);
	/* less than an iovec: the rest of it untouched */
	memset(b, 9, 5);
	assert_int_equal(iov_from_buf(iov, 3, 4, src, 2), 2);
	assert_memory_equal(b, ((const uint8_t[5]){ 9, 1, 2, 9, 9 }), 5);
	/* across three iovecs from inside the first */
	memset(a, 9, 3);
	memset(b, 9, 5);
	memset(c, 9, 4);
	assert_int_equal(iov_from_buf(iov, 3, 1, src, 10), 10);
	assert_memory_equal(a, ((const uint8_t[3]){ 9, 1, 2 }), 3);
	assert_memory_equal(b, src + 2, 5);
	assert_memory_equal(c, ((const uint8_t[4]){ 8, 9, 10, 9 }), 4);
	assert_int_equal(iov_from_buf(iov, 0, 0, src, 1), 0);
	assert_int_equal(iov_from_buf(iov, 3, 0, src, 0), 0);
}

/* ---- random and concurrent guests ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A descriptor that is sometimes valid, often not */
static void rnd_desc(struct fx *f, uint64_t table, unsigned i, unsigned n)
{
	static const uint64_t addrs[] = { DATA_GPA, ITAB_GPA, RAM - 16, RAM,
					  0xfffffffffffffff0ULL, DESC_GPA };
	static const uint32_t lens[] = { 0, 1, 16, 24, 32, 48, 0x1000, 0xffffffff };
	uint64_t r = rnd();

	desc_write(f->ram + table, i, addrs[r % 6] + (r >> 8) % 64, lens[(r >> 16) % 8],
		 (uint16_t)((r >> 24) & 7), (uint16_t)((r >> 32) % (n + 2)));
}

static void assert_req_in_ram(struct fx *f)
{
	uint64_t out = 0, in = 0;

	assert_true(f->req->nout <= VIRTQ_MAX_IOV && f->req->nin <= VIRTQ_MAX_IOV);
	for (unsigned i = 0; i < f->req->nout + f->req->nin; i++) {
		const struct iovec *v = i < f->req->nout ? &f->req->out[i] :
			&f->req->in[i - f->req->nout];
		uint8_t *b = v->iov_base;

		assert_true(v->iov_len > 0);
		assert_true(b >= f->ram && b + v->iov_len <= f->ram + RAM);
		*(i < f->req->nout ? &out : &in) += v->iov_len;
	}
	assert_int_equal(out, f->req->out_len);
	assert_int_equal(in, f->req->in_len);
}

static void test_random_rings(void **state)
{
	struct fx *f = *state;
	unsigned ok = 0, broken = 0;

	for (unsigned iter = 0; iter < 3000; iter++) {
		for (unsigned i = 0; i < QSZ; i++)
			rnd_desc(f, DESC_GPA, i, QSZ);
		for (unsigned i = 0; i < 8; i++)
			rnd_desc(f, ITAB_GPA, i, 8);
		for (unsigned i = 0; i < QSZ; i++)
			guest_put16(f->ram, AVAIL_GPA + 4 + 2 * i,
				    (uint16_t)(rnd() % (QSZ + 2)));
		guest_put16(f->ram, AVAIL_GPA + 2,
			    (uint16_t)(f->q.last_avail + rnd() % (QSZ + 3)));
		f->q.event_idx = rnd() & 1;

		snap(f);
		for (unsigned k = 0; k < QSZ + 3; k++) {
			int r = virtq_pop(&f->q, f->req);

			if (r <= 0) {
				broken += r < 0;
				break;
			}
			ok++;
			assert_req_in_ram(f);
			assert_int_equal(virtq_push(&f->q, f->req->head, 1), 0);
		}
		assert_ram_same_except(f, USED_GPA, USED_LEN);
		if (f->q.broken) {
			virtq_reset(&f->q);
			assert_int_equal(virtq_activate(&f->q), 0);
		}
	}
	/* both outcomes exercised */
	assert_true(ok > 100);
	assert_true(broken > 100);
}

struct scribbler {
	struct fx *f;
	int stop;
};

/* Another "vCPU" rewriting descriptors and avail entries while we pop */
static void *scribble(void *arg)
{
	struct scribbler *s = arg;
	uint64_t x = 0x1234567887654321ULL;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		uint64_t off;
		uint8_t *p;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* a byte of the descriptor table or of the indirect table */
		off = (x >> 8) % (16 * QSZ + 8 * 16);
		if (off < 16 * QSZ)
			p = s->f->ram + DESC_GPA + off;
		else
			p = s->f->ram + ITAB_GPA + off - 16 * QSZ;
		__atomic_store_n(p, (uint8_t)x, __ATOMIC_RELAXED);
		/* now and then, the low byte of an avail ring entry */
		if (!(x & 0xf00)) {
			p = s->f->ram + AVAIL_GPA + 4 + 2 * ((x >> 20) % QSZ);
			__atomic_store_n(p, (uint8_t)((x >> 40) % (QSZ + 1)),
					 __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void test_concurrent_guest(void **state)
{
	struct fx *f = *state;
	struct scribbler s = { f, 0 };
	pthread_t t;
	unsigned ok = 0;

	for (unsigned i = 0; i < QSZ; i++)
		drvq_desc(&f->d, i, DATA_GPA + 0x100 * i, 0x40,
			 (i & 1) ? F_WRITE : F_NEXT, (uint16_t)(i + 1));
	snap(f);
	assert_int_equal(pthread_create(&t, NULL, scribble, &s), 0);
	for (unsigned iter = 0; iter < 20000; iter++) {
		int r;

		f->d.avail_idx = f->q.last_avail;
		drvq_avail(&f->d, (uint16_t)(iter % QSZ));
		r = virtq_pop(&f->q, f->req);
		if (r == 1) {
			ok++;
			assert_req_in_ram(f);
			assert_int_equal(virtq_push(&f->q, f->req->head, 0), 0);
		} else if (r < 0) {
			virtq_reset(&f->q);
			assert_int_equal(virtq_activate(&f->q), 0);
		}
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	(void)ok;
	/* Nothing written outside the rings the guest and device share */
	for (uint64_t i = 0; i < RAM; i++) {
		if ((i >= DESC_GPA && i < DESC_GPA + 16 * QSZ) ||
		    (i >= AVAIL_GPA && i < AVAIL_GPA + 6 + 2 * QSZ) ||
		    (i >= USED_GPA && i < USED_GPA + USED_LEN) ||
		    (i >= ITAB_GPA && i < ITAB_GPA + 8 * 16))
			continue;
		if (f->ram[i] != f->snap[i])
			fail_msg("guest byte 0x%llx changed", (unsigned long long)i);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_out_in_chain),
		T(test_dirty_marks),
		T(test_multiple_requests),
		T(test_empty),
		T(test_full_ring),
		T(test_wraparound),
		T(test_chain_of_size),
		T(test_zero_length_skipped),
		T(test_last_byte_of_ram),
		T(test_indirect),
		T(test_indirect_after_direct),
		T(test_loop_two),
		T(test_loop_self),
		T(test_chain_longer_than_queue),
		T(test_addr_past_ram),
		T(test_addr_outside_ram),
		T(test_addr_wraps),
		T(test_huge_length),
		T(test_zero_length_outside_ram),
		T(test_head_out_of_range),
		T(test_head_ffff),
		T(test_next_out_of_range),
		T(test_avail_idx_jump),
		T(test_avail_idx_backwards),
		T(test_readable_after_writable),
		T(test_readable_after_writable_indirect),
		T(test_indirect_len_not_multiple),
		T(test_indirect_len_zero),
		T(test_indirect_outside_ram),
		T(test_indirect_huge),
		T(test_indirect_wraps),
		T(test_indirect_nested),
		T(test_indirect_and_next),
		T(test_indirect_next_out_of_table),
		T(test_indirect_loop),
		T(test_indirect_self_loop_big_table),
		T(test_indirect_max_buffers),
		T(test_indirect_too_many_out),
		T(test_indirect_too_many_in),
		cmocka_unit_test(test_chain_over_4g),
		T(test_activate_desc_past_ram),
		T(test_activate_avail_past_ram),
		T(test_activate_used_past_ram),
		T(test_activate_wrapping_gpa),
		T(test_activate_misaligned),
		T(test_activate_bad_size),
		T(test_push_used_ring_gone),
		T(test_push_bad_head),
		cmocka_unit_test(test_rings_across_regions),
		T(test_reset_clears_broken),
		T(test_notify_flags),
		T(test_notify_event_idx),
		T(test_notify_event_idx_wrap),
		T(test_avail_event),
		T(test_split_header),
		cmocka_unit_test(test_iov_from_buf_split),
		T(test_random_rings),
		T(test_concurrent_guest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

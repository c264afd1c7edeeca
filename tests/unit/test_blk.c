/* virtio-blk: request parsing against hostile chains (devices/block/
 * request.c), the disk backend end to end on a temporary image (sync
 * workers, libaio + O_DIRECT, bounce buffers), and the data plane
 * (devices/block/engine.c) driven through a real split virtqueue in fake
 * guest memory, with the real event loop delivering completions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unlink_image.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../devices/block/backend.h"
#include "../../devices/block/engine.h"
#include "../../devices/block/request.h"
#include "../../vmm/loop.h"
#include "fake_guest.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)

/* ================= request parsing ================= */

#define CAP 2048ULL     /* sectors: a 1 MiB disk */

struct pfx {
	struct virtq_req *vr;
	struct iovec *iov;
	uint8_t *buf;           /* "guest memory" the iovecs point into */
	struct blk_limits lim;
	struct blk_req r;
};

static int pfx_setup(void **state)
{
	struct pfx *p = calloc(1, sizeof(*p));

	if (!p)
		return -1;
	p->vr = calloc(1, sizeof(*p->vr));
	p->iov = calloc(VIRTQ_MAX_IOV, sizeof(*p->iov));
	p->buf = malloc(64 * KiB);
	if (!p->vr || !p->iov || !p->buf)
		return -1;
	memset(p->buf, 0xa5, 64 * KiB);
	p->lim = (struct blk_limits){
		.capacity = CAP,
		.max_discard_sectors = 1024,
		.max_write_zeroes_sectors = 512,
		.max_discard_seg = 1,
	};
	*state = p;
	return 0;
}

static int pfx_teardown(void **state)
{
	struct pfx *p = *state;

	free(p->vr);
	free(p->iov);
	free(p->buf);
	free(p);
	return 0;
}

static void vr_out(struct virtq_req *vr, void *base, size_t len)
{
	vr->out[vr->nout].iov_base = base;
	vr->out[vr->nout].iov_len = len;
	vr->nout++;
	vr->out_len += len;
}

static void vr_in(struct virtq_req *vr, void *base, size_t len)
{
	vr->in[vr->nin].iov_base = base;
	vr->in[vr->nin].iov_len = len;
	vr->nin++;
	vr->in_len += len;
}

static void put_hdr(uint8_t *p, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type), z = 0;
	uint64_t s = htole64(sector);

	memcpy(p, &t, 4);
	memcpy(p + 4, &z, 4);
	memcpy(p + 8, &s, 8);
}

static void put_seg(uint8_t *p, uint64_t sector, uint32_t num, uint32_t flags)
{
	sector = htole64(sector);
	num = htole32(num);
	flags = htole32(flags);
	memcpy(p, &sector, 8);
	memcpy(p + 8, &num, 4);
	memcpy(p + 12, &flags, 4);
}

static enum blk_verdict parse(struct pfx *p)
{
	return blk_parse(p->vr, &p->lim, p->iov, &p->r);
}

/* Buffers inside p->buf */
#define HDR   0
#define DATA  4096
#define STAT  32768

/* header | data (len) | status, each its own buffer */
static void simple_req(struct pfx *p, uint32_t type, uint64_t sector,
		       size_t len)
{
	put_hdr(p->buf + HDR, type, sector);
	vr_out(p->vr, p->buf + HDR, 16);
	if (type == VIRTIO_BLK_T_OUT)
		vr_out(p->vr, p->buf + DATA, len);
	else if (len)
		vr_in(p->vr, p->buf + DATA, len);
	vr_in(p->vr, p->buf + STAT, 1);
}

static void test_parse_read(void **state)
{
	struct pfx *p = *state;

	p->vr->head = 7;
	simple_req(p, VIRTIO_BLK_T_IN, 3, 1024);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.head, 7);
	assert_int_equal(p->r.io.op, BLK_OP_READ);
	assert_int_equal(p->r.io.offset, 3 * 512);
	assert_int_equal(p->r.io.len, 1024);
	assert_int_equal(p->r.io.niov, 1);
	assert_ptr_equal(p->r.io.iov, p->iov);
	assert_ptr_equal(p->iov[0].iov_base, p->buf + DATA);
	assert_int_equal(p->iov[0].iov_len, 1024);
	assert_ptr_equal(p->r.status, p->buf + STAT);
	assert_int_equal(p->r.used_len, 1025);
}

static void test_parse_write(void **state)
{
	struct pfx *p = *state;

	simple_req(p, VIRTIO_BLK_T_OUT, CAP - 2, 1024);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.op, BLK_OP_WRITE);
	assert_int_equal(p->r.io.offset, (CAP - 2) * 512);
	assert_int_equal(p->r.io.len, 1024);
	assert_int_equal(p->r.io.niov, 1);
	assert_ptr_equal(p->iov[0].iov_base, p->buf + DATA);
	assert_int_equal(p->r.used_len, 1);
}

/* The header split 7 + 9 across two buffers; data in the second one too */
static void test_parse_split_header(void **state)
{
	struct pfx *p = *state;
	uint8_t hdr[16];

	put_hdr(hdr, VIRTIO_BLK_T_OUT, 0x0102030405ULL & 0x3ff);
	memcpy(p->buf + 100, hdr, 7);
	memcpy(p->buf + 200, hdr + 7, 9);
	vr_out(p->vr, p->buf + 100, 7);
	vr_out(p->vr, p->buf + 200, 9 + 512);   /* rest of header + data */
	vr_out(p->vr, p->buf + DATA, 512);
	vr_in(p->vr, p->buf + STAT, 1);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.op, BLK_OP_WRITE);
	assert_int_equal(p->r.io.offset, (0x0102030405ULL & 0x3ff) * 512);
	assert_int_equal(p->r.io.len, 1024);
	assert_int_equal(p->r.io.niov, 2);
	assert_ptr_equal(p->iov[0].iov_base, p->buf + 209);
	assert_int_equal(p->iov[0].iov_len, 512);
	assert_ptr_equal(p->iov[1].iov_base, p->buf + DATA);
	assert_int_equal(p->iov[1].iov_len, 512);
}

/* Header split byte by byte over 16 buffers */
static void test_parse_header_bytewise(void **state)
{
	struct pfx *p = *state;
	uint8_t hdr[16];

	put_hdr(hdr, VIRTIO_BLK_T_IN, 5);
	for (int i = 0; i < 16; i++) {
		p->buf[1000 + 2 * i] = hdr[i];
		vr_out(p->vr, p->buf + 1000 + 2 * i, 1);
	}
	vr_in(p->vr, p->buf + DATA, 512);
	vr_in(p->vr, p->buf + STAT, 1);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.offset, 5 * 512);
}

/* Data and status in one writable buffer: the status is its last byte */
static void test_parse_status_in_data_buffer(void **state)
{
	struct pfx *p = *state;

	put_hdr(p->buf + HDR, VIRTIO_BLK_T_IN, 0);
	vr_out(p->vr, p->buf + HDR, 16);
	vr_in(p->vr, p->buf + DATA, 300);
	vr_in(p->vr, p->buf + DATA + 1000, 213);        /* 212 data + status */
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_ptr_equal(p->r.status, p->buf + DATA + 1000 + 212);
	assert_int_equal(p->r.io.len, 512);
	assert_int_equal(p->r.io.niov, 2);
	assert_int_equal(p->iov[0].iov_len, 300);
	assert_ptr_equal(p->iov[1].iov_base, p->buf + DATA + 1000);
	assert_int_equal(p->iov[1].iov_len, 212);
	assert_int_equal(p->r.used_len, 513);
}

/* The status byte alone in the last buffer after data: not part of data */
static void test_parse_status_last_of_many(void **state)
{
	struct pfx *p = *state;

	put_hdr(p->buf + HDR, VIRTIO_BLK_T_IN, 0);
	vr_out(p->vr, p->buf + HDR, 16);
	for (int i = 0; i < 8; i++)
		vr_in(p->vr, p->buf + DATA + 512 * i, 512);
	vr_in(p->vr, p->buf + STAT, 4);         /* 3 junk + status */
	assert_int_equal(parse(p), BLK_COMPLETE);       /* 4099 data bytes */
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(p->r.status, p->buf + STAT + 3);
}

static void expect_ioerr(struct pfx *p)
{
	assert_int_equal(parse(p), BLK_COMPLETE);
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(p->r.status, p->buf + STAT);
}

static void test_parse_out_of_range(void **state)
{
	struct pfx *p = *state;
	static const struct {
		uint32_t type;
		uint64_t sector;
		size_t len;
		bool ok;
	} c[] = {
		{ VIRTIO_BLK_T_IN, CAP - 1, 512, true },
		{ VIRTIO_BLK_T_IN, CAP - 1, 1024, false },
		{ VIRTIO_BLK_T_IN, CAP, 512, false },
		{ VIRTIO_BLK_T_IN, CAP + 1, 512, false },
		{ VIRTIO_BLK_T_OUT, 0, CAP * 512, true },
		{ VIRTIO_BLK_T_OUT, 0, CAP * 512 + 512, false },
		{ VIRTIO_BLK_T_OUT, 1, CAP * 512, false },
		/* sector * 512 and sector + len overflow 64 bits */
		{ VIRTIO_BLK_T_IN, 1ULL << 63, 512, false },
		{ VIRTIO_BLK_T_IN, UINT64_MAX, 512, false },
		{ VIRTIO_BLK_T_IN, UINT64_MAX >> 9, 512, false },
		{ VIRTIO_BLK_T_OUT, (1ULL << 55) + 1, 512, false },
		{ VIRTIO_BLK_T_OUT, UINT64_MAX - 1, 1024, false },
	};
	uint8_t *big = malloc(CAP * 512 + 512);

	assert_non_null(big);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(p->vr, 0, sizeof(*p->vr));
		put_hdr(p->buf + HDR, c[i].type, c[i].sector);
		vr_out(p->vr, p->buf + HDR, 16);
		if (c[i].type == VIRTIO_BLK_T_OUT)
			vr_out(p->vr, big, c[i].len);
		else
			vr_in(p->vr, big, c[i].len);
		vr_in(p->vr, p->buf + STAT, 1);
		if (c[i].ok) {
			assert_int_equal(parse(p), BLK_SUBMIT);
			assert_true(p->r.io.offset + p->r.io.len <= CAP * 512);
		} else {
			expect_ioerr(p);
		}
	}
	free(big);
}

static void test_parse_len_not_sector_multiple(void **state)
{
	struct pfx *p = *state;
	static const size_t lens[] = { 1, 511, 513, 1000, 4095 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(p->vr, 0, sizeof(*p->vr));
		simple_req(p, VIRTIO_BLK_T_IN, 0, lens[i]);
		expect_ioerr(p);
		memset(p->vr, 0, sizeof(*p->vr));
		simple_req(p, VIRTIO_BLK_T_OUT, 0, lens[i]);
		expect_ioerr(p);
	}
}

static void test_parse_zero_length(void **state)
{
	struct pfx *p = *state;

	simple_req(p, VIRTIO_BLK_T_IN, 0, 0);
	assert_int_equal(parse(p), BLK_COMPLETE);
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_OK);
	memset(p->vr, 0, sizeof(*p->vr));
	simple_req(p, VIRTIO_BLK_T_IN, CAP + 1, 0);     /* still range-checked */
	expect_ioerr(p);
}

static void test_parse_readonly(void **state)
{
	struct pfx *p = *state;

	p->lim.readonly = true;
	simple_req(p, VIRTIO_BLK_T_OUT, 0, 512);
	expect_ioerr(p);

	memset(p->vr, 0, sizeof(*p->vr));
	simple_req(p, VIRTIO_BLK_T_IN, 0, 512);
	assert_int_equal(parse(p), BLK_SUBMIT);

	memset(p->vr, 0, sizeof(*p->vr));
	simple_req(p, VIRTIO_BLK_T_FLUSH, 0, 0);
	assert_int_equal(parse(p), BLK_COMPLETE);
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_OK);

	for (uint32_t t = VIRTIO_BLK_T_DISCARD; t <= VIRTIO_BLK_T_WRITE_ZEROES; t += 2) {
		memset(p->vr, 0, sizeof(*p->vr));
		put_hdr(p->buf + HDR, t, 0);
		put_seg(p->buf + HDR + 16, 0, 8, 0);
		vr_out(p->vr, p->buf + HDR, 32);
		vr_in(p->vr, p->buf + STAT, 1);
		expect_ioerr(p);
	}
}

static void test_parse_no_status_byte(void **state)
{
	struct pfx *p = *state;

	/* Only readable buffers */
	put_hdr(p->buf + HDR, VIRTIO_BLK_T_IN, 0);
	vr_out(p->vr, p->buf + HDR, 16);
	vr_out(p->vr, p->buf + DATA, 512);
	assert_int_equal(parse(p), BLK_MALFORMED);

	/* Nothing at all */
	memset(p->vr, 0, sizeof(*p->vr));
	assert_int_equal(parse(p), BLK_MALFORMED);

	/* A flush without its status */
	memset(p->vr, 0, sizeof(*p->vr));
	put_hdr(p->buf + HDR, VIRTIO_BLK_T_FLUSH, 0);
	vr_out(p->vr, p->buf + HDR, 16);
	assert_int_equal(parse(p), BLK_MALFORMED);
}

static void test_parse_short_header(void **state)
{
	struct pfx *p = *state;

	put_hdr(p->buf + HDR, VIRTIO_BLK_T_IN, 0);
	vr_out(p->vr, p->buf + HDR, 15);
	vr_in(p->vr, p->buf + DATA, 512);
	vr_in(p->vr, p->buf + STAT, 1);
	expect_ioerr(p);

	memset(p->vr, 0, sizeof(*p->vr));       /* no readable buffer */
	vr_in(p->vr, p->buf + STAT, 1);
	expect_ioerr(p);
}

static void test_parse_unsupported(void **state)
{
	struct pfx *p = *state;
	static const uint32_t types[] = { 2, 3, 5, 10, 12, 14, 0x80000000, UINT32_MAX };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(p->vr, 0, sizeof(*p->vr));
		simple_req(p, types[i], 0, 512);
		assert_int_equal(parse(p), BLK_COMPLETE);
		assert_int_equal(p->r.status_code, VIRTIO_BLK_S_UNSUPP);
	}
}

static void test_parse_flush(void **state)
{
	struct pfx *p = *state;

	simple_req(p, VIRTIO_BLK_T_FLUSH, 12345, 0);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.op, BLK_OP_FLUSH);
	assert_int_equal(p->r.io.niov, 0);
}

static void test_parse_get_id(void **state)
{
	struct pfx *p = *state;
	char id[VIRTIO_BLK_ID_BYTES];
	static const size_t sizes[] = { 0, 1, 8, 19, 20, 21, 64 };

	blk_make_id(id, "guest", 3);
	assert_string_equal(id, "vessel-guest-3");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], want = n < 20 ? n : 20;

		memset(p->vr, 0, sizeof(*p->vr));
		memset(p->buf, 0xa5, 64 * KiB);
		put_hdr(p->buf + HDR, VIRTIO_BLK_T_GET_ID, 0);
		vr_out(p->vr, p->buf + HDR, 16);
		vr_in(p->vr, p->buf + DATA, n + 1);     /* id and status together */
		assert_int_equal(parse(p), BLK_GET_ID);
		assert_ptr_equal(p->r.status, p->buf + DATA + n);
		assert_int_equal(blk_put_id(&p->r, id), want);
		assert_memory_equal(p->buf + DATA, id, want);
		/* Nothing past the id, the status byte included, was touched */
		for (size_t k = DATA + want; k < DATA + 100; k++)
			assert_int_equal(p->buf[k], 0xa5);
		assert_int_equal(p->buf[DATA - 1], 0xa5);
	}
	/* Split across buffers */
	memset(p->vr, 0, sizeof(*p->vr));
	vr_out(p->vr, p->buf + HDR, 16);
	vr_in(p->vr, p->buf + DATA, 5);
	vr_in(p->vr, p->buf + DATA + 100, 30);
	assert_int_equal(parse(p), BLK_GET_ID);
	assert_int_equal(blk_put_id(&p->r, id), 20);
	assert_memory_equal(p->buf + DATA, id, 5);
	assert_memory_equal(p->buf + DATA + 100, id + 5, 15);
}

static void test_make_id(void **state)
{
	char id[VIRTIO_BLK_ID_BYTES + 1] = { 0 };

	(void)state;
	blk_make_id(id, NULL, 0);
	assert_string_equal(id, "vessel-0");
	blk_make_id(id, "", 1);
	assert_string_equal(id, "vessel-1");
	blk_make_id(id, "a very long guest name indeed", 12);
	assert_int_equal(strlen(id), 20);
	assert_string_equal(id, "vessel-a_very_lon-12");
	blk_make_id(id, "x", 4294967295U);
	assert_string_equal(id, "vessel-x-4294967295");
	blk_make_id(id, "web/db\n\"", 2);
	assert_string_equal(id, "vessel-web_db__-2");
}

static void seg_req(struct pfx *p, uint32_t type, uint64_t sector,
		    uint32_t num, uint32_t flags)
{
	memset(p->vr, 0, sizeof(*p->vr));
	put_hdr(p->buf + HDR, type, 0);
	put_seg(p->buf + HDR + 16, sector, num, flags);
	vr_out(p->vr, p->buf + HDR, 32);
	vr_in(p->vr, p->buf + STAT, 1);
}

static void test_parse_discard(void **state)
{
	struct pfx *p = *state;

	seg_req(p, VIRTIO_BLK_T_DISCARD, 8, 16, 0);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.op, BLK_OP_DISCARD);
	assert_int_equal(p->r.io.offset, 8 * 512);
	assert_int_equal(p->r.io.len, 16 * 512);

	/* bad num_sectors: over the limit, past the end, overflowing */
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, 1025, 0);
	expect_ioerr(p);
	seg_req(p, VIRTIO_BLK_T_DISCARD, CAP - 8, 16, 0);
	expect_ioerr(p);
	seg_req(p, VIRTIO_BLK_T_DISCARD, UINT64_MAX - 3, 8, 0);
	expect_ioerr(p);
	seg_req(p, VIRTIO_BLK_T_DISCARD, 1ULL << 63, 8, 0);
	expect_ioerr(p);
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, UINT32_MAX, 0);
	expect_ioerr(p);
	/* the last sectors exactly */
	seg_req(p, VIRTIO_BLK_T_DISCARD, CAP - 16, 16, 0);
	assert_int_equal(parse(p), BLK_SUBMIT);
	/* nothing to do */
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, 0, 0);
	assert_int_equal(parse(p), BLK_COMPLETE);
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_OK);

	/* unmap on a discard, and unknown flags: unsupported */
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WZ_F_UNMAP);
	assert_int_equal(parse(p), BLK_COMPLETE);
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_UNSUPP);
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, 8, 2);
	assert_int_equal(parse(p), BLK_COMPLETE);
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_UNSUPP);
}

static void test_parse_discard_segments(void **state)
{
	struct pfx *p = *state;

	/* two segments: more than max_discard_seg */
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, 8, 0);
	put_seg(p->buf + HDR + 32, 64, 8, 0);
	p->vr->out[0].iov_len = 48;
	p->vr->out_len = 48;
	expect_ioerr(p);
	/* a partial segment */
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, 8, 0);
	p->vr->out[0].iov_len = 31;
	p->vr->out_len = 31;
	expect_ioerr(p);
	/* no segment */
	seg_req(p, VIRTIO_BLK_T_DISCARD, 0, 8, 0);
	p->vr->out[0].iov_len = 16;
	p->vr->out_len = 16;
	expect_ioerr(p);
	/* the segment split 3 + 13 across buffers, after a split header */
	memset(p->vr, 0, sizeof(*p->vr));
	put_hdr(p->buf + 100, VIRTIO_BLK_T_DISCARD, 0);
	put_seg(p->buf + 300, 40, 24, 0);
	vr_out(p->vr, p->buf + 100, 16 + 0);
	vr_out(p->vr, p->buf + 300, 3);
	vr_out(p->vr, p->buf + 303, 13);
	vr_in(p->vr, p->buf + STAT, 1);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.offset, 40 * 512);
	assert_int_equal(p->r.io.len, 24 * 512);
}

static void test_parse_write_zeroes(void **state)
{
	struct pfx *p = *state;

	seg_req(p, VIRTIO_BLK_T_WRITE_ZEROES, 16, 32, 0);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.op, BLK_OP_WRITE_ZEROES);
	assert_false(p->r.io.unmap);
	assert_int_equal(p->r.io.offset, 16 * 512);
	assert_int_equal(p->r.io.len, 32 * 512);

	seg_req(p, VIRTIO_BLK_T_WRITE_ZEROES, 16, 32, VIRTIO_BLK_WZ_F_UNMAP);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_true(p->r.io.unmap);

	seg_req(p, VIRTIO_BLK_T_WRITE_ZEROES, 0, 513, 0);     /* over max */
	expect_ioerr(p);
	seg_req(p, VIRTIO_BLK_T_WRITE_ZEROES, CAP, 1, 0);
	expect_ioerr(p);
	seg_req(p, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0x80000001);
	assert_int_equal(parse(p), BLK_COMPLETE);
	assert_int_equal(p->r.status_code, VIRTIO_BLK_S_UNSUPP);
}

/* Many small buffers: the data list keeps every one, and no more */
static void test_parse_many_iovecs(void **state)
{
	struct pfx *p = *state;

	put_hdr(p->buf + HDR, VIRTIO_BLK_T_OUT, 0);
	vr_out(p->vr, p->buf + HDR, 16);
	for (int i = 0; i < VIRTQ_MAX_IOV - 1; i++)
		vr_out(p->vr, p->buf + DATA + 8 * i, 8);        /* 1023 * 8 */
	vr_in(p->vr, p->buf + STAT, 1);
	expect_ioerr(p);                                        /* 8184 bytes */

	memset(p->vr, 0, sizeof(*p->vr));
	vr_out(p->vr, p->buf + HDR, 16);
	for (int i = 0; i < 1016; i++)
		vr_out(p->vr, p->buf + DATA + 8 * i, 8);        /* 8128 */
	vr_out(p->vr, p->buf + 20000, 64);                      /* 8192 */
	vr_in(p->vr, p->buf + STAT, 1);
	assert_int_equal(parse(p), BLK_SUBMIT);
	assert_int_equal(p->r.io.niov, 1017);
	assert_int_equal(p->r.io.len, 8192);
}

/* ================= the backend, on a temporary image ================= */

struct collect {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned done;
	bool on_loop_thread;
	pthread_t loop_thread;
};

struct bfx {
	struct loop loop;
	char path[64];
	int fd;                         /* the test's own view of the image */
	struct collect col;
};

#define IMG_SIZE (4 * MiB)

static void on_done(void *opaque, struct blk_io *list)
{
	struct collect *c = opaque;

	pthread_mutex_lock(&c->m);
	while (list) {
		struct blk_io *next = list->next;

		c->done++;
		list = next;
	}
	c->on_loop_thread = pthread_equal(pthread_self(), c->loop_thread);
	pthread_cond_broadcast(&c->c);
	pthread_mutex_unlock(&c->m);
}

static void wait_done(struct collect *c, unsigned n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	pthread_mutex_lock(&c->m);
	while (c->done < n)
		if (pthread_cond_timedwait(&c->c, &c->m, &ts) == ETIMEDOUT)
			break;
	assert_int_equal(c->done, n);
	pthread_mutex_unlock(&c->m);
}

static int bfx_setup(void **state)
{
	struct bfx *f = calloc(1, sizeof(*f));
	struct error err;

	if (!f)
		return -1;
	strcpy(f->path, "/tmp/vessel-test-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	if (f->fd < 0 || ftruncate(f->fd, IMG_SIZE) < 0)
		return -1;
	pthread_mutex_init(&f->col.m, NULL);
	pthread_cond_init(&f->col.c, NULL);
	if (loop_init(&f->loop, &err) < 0 || loop_start(&f->loop, &err) < 0)
		return -1;
	f->col.loop_thread = f->loop.thread;
	*state = f;
	return 0;
}

static int bfx_teardown(void **state)
{
	struct bfx *f = *state;

	loop_destroy(&f->loop);
	close(f->fd);
	unlink_image(f->path);
	pthread_cond_destroy(&f->col.c);
	pthread_mutex_destroy(&f->col.m);
	free(f);
	return 0;
}

static struct blk_backend *bopen(struct bfx *f, enum disk_cache cache,
				 bool readonly, unsigned workers)
{
	struct blk_backend_opts o = {
		.path = f->path, .readonly = readonly, .cache = cache,
		.workers = workers,
	};
	struct blk_backend *b;
	struct error err;

	if (blk_backend_open(&b, &o, &f->loop, on_done, &f->col, &err) < 0)
		fail_msg("open: %s", err.msg);
	return b;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

static void *xalign(size_t n)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, n + 4096), 0);
	return p;
}

/* Write through the backend from oddly split buffers (offset 1 in
 * memory), read back into other ones, check the file itself. */
static void rw_roundtrip(struct bfx *f, enum disk_cache cache, const char *mode)
{
	struct blk_backend *b = bopen(f, cache, false, 0);
	uint8_t *src = xalign(64 * KiB), *dst = xalign(64 * KiB);
	uint8_t *file = malloc(64 * KiB);
	struct blk_io w = { 0 }, r = { 0 }, fl = { 0 };
	struct iovec wv[3], rv[2];
	struct blk_stats st;

	assert_string_equal(blk_backend_mode(b), mode);
	assert_int_equal(blk_backend_size(b), IMG_SIZE);
	fill(src, 64 * KiB, 1);
	wv[0] = (struct iovec){ src + 1, 100 };
	wv[1] = (struct iovec){ src + 101, 412 };
	wv[2] = (struct iovec){ src + 513, 64 * KiB - 512 };
	w = (struct blk_io){ .op = BLK_OP_WRITE, .offset = 512 * KiB,
			     .len = 64 * KiB, .iov = wv, .niov = 3 };
	blk_backend_submit(b, &w);
	wait_done(&f->col, 1);
	assert_int_equal(w.result, 0);
	assert_true(f->col.on_loop_thread);

	fl.op = BLK_OP_FLUSH;
	blk_backend_submit(b, &fl);
	wait_done(&f->col, 2);
	assert_int_equal(fl.result, 0);

	memset(dst, 0, 64 * KiB + 1);
	rv[0] = (struct iovec){ dst + 1, 4096 };
	rv[1] = (struct iovec){ dst + 4097, 60 * KiB };
	r = (struct blk_io){ .op = BLK_OP_READ, .offset = 512 * KiB,
			     .len = 64 * KiB, .iov = rv, .niov = 2 };
	blk_backend_submit(b, &r);
	wait_done(&f->col, 3);
	assert_int_equal(r.result, 0);
	assert_memory_equal(dst + 1, src + 1, 64 * KiB);

	assert_int_equal(pread(f->fd, file, 64 * KiB, 512 * KiB), 64 * KiB);
	assert_memory_equal(file, src + 1, 64 * KiB);

	/* Buffers at odd addresses: O_DIRECT needs a bounce, the page cache
	 * does not; nothing went to aio. */
	blk_backend_stats(b, &st);
	assert_int_equal(st.aio, 0);
	assert_int_equal(st.sync, 3);
	assert_int_equal(st.bounce, cache == DISK_CACHE_NONE ? 2 : 0);
	blk_backend_close(b);
	free(src);
	free(dst);
	free(file);
}

static void test_backend_sync_rw(void **state)
{
	rw_roundtrip(*state, DISK_CACHE_WRITEBACK, "sync");
}

static bool odirect_ok(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void test_backend_aio_rw(void **state)
{
	struct bfx *f = *state;

	if (!odirect_ok(f->path))
		skip();
	rw_roundtrip(f, DISK_CACHE_NONE, "aio");
}

/* Aligned buffers through aio, many at once */
static void test_backend_aio_many(void **state)
{
	struct bfx *f = *state;
	enum { N = 200, SZ = 8192 };
	struct blk_backend *b;
	struct blk_io *io = calloc(2 * N, sizeof(*io));
	struct iovec *v = calloc(2 * N, sizeof(*v));
	uint8_t *src = xalign((size_t)N * SZ), *dst = xalign((size_t)N * SZ);
	struct blk_stats st;

	if (!odirect_ok(f->path))
		skip();
	b = bopen(f, DISK_CACHE_NONE, false, 1);
	fill(src, (size_t)N * SZ, 3);
	for (int i = 0; i < N; i++) {
		v[i] = (struct iovec){ src + (size_t)i * SZ, SZ };
		io[i] = (struct blk_io){ .op = BLK_OP_WRITE,
					 .offset = (uint64_t)i * SZ, .len = SZ,
					 .iov = &v[i], .niov = 1 };
		blk_backend_submit(b, &io[i]);
	}
	wait_done(&f->col, N);
	for (int i = N; i < 2 * N; i++) {
		v[i] = (struct iovec){ dst + (size_t)(i - N) * SZ, SZ };
		io[i] = (struct blk_io){ .op = BLK_OP_READ,
					 .offset = (uint64_t)(i - N) * SZ,
					 .len = SZ, .iov = &v[i], .niov = 1 };
		blk_backend_submit(b, &io[i]);
	}
	wait_done(&f->col, 2 * N);
	for (int i = 0; i < 2 * N; i++)
		assert_int_equal(io[i].result, 0);
	assert_memory_equal(src, dst, (size_t)N * SZ);
	blk_backend_stats(b, &st);
	assert_int_equal(st.aio, 2 * N);        /* zero copy, all of them */
	/* but those that would have blocked (allocating writes into the
	 * sparse image) were redone by a worker */
	assert_int_equal(st.sync, st.retried);
	assert_int_equal(st.bounce, 0);
	blk_backend_close(b);
	free(io);
	free(v);
	free(src);
	free(dst);
}

static void zeroes_and_discard(struct bfx *f, enum disk_cache cache)
{
	struct blk_backend *b = bopen(f, cache, false, 0);
	uint8_t *buf = xalign(256 * KiB);
	struct blk_io io = { 0 };
	struct iovec v = { buf, 256 * KiB };
	unsigned n = 0;

	fill(buf, 256 * KiB, 5);
	io = (struct blk_io){ .op = BLK_OP_WRITE, .offset = MiB,
			      .len = 256 * KiB, .iov = &v, .niov = 1 };
	blk_backend_submit(b, &io);
	wait_done(&f->col, ++n);
	assert_int_equal(io.result, 0);

	/* zero [MiB + 4K, MiB + 68K) in place, then [MiB + 128K, +64K) unmapped */
	io = (struct blk_io){ .op = BLK_OP_WRITE_ZEROES, .offset = MiB + 4 * KiB,
			      .len = 64 * KiB };
	blk_backend_submit(b, &io);
	wait_done(&f->col, ++n);
	assert_int_equal(io.result, 0);
	io = (struct blk_io){ .op = BLK_OP_WRITE_ZEROES, .offset = MiB + 128 * KiB,
			      .len = 64 * KiB, .unmap = true };
	blk_backend_submit(b, &io);
	wait_done(&f->col, ++n);
	assert_int_equal(io.result, 0);

	memset(buf, 0xee, 256 * KiB);
	io = (struct blk_io){ .op = BLK_OP_READ, .offset = MiB,
			      .len = 256 * KiB, .iov = &v, .niov = 1 };
	blk_backend_submit(b, &io);
	wait_done(&f->col, ++n);
	assert_int_equal(io.result, 0);
	{
		uint8_t *want = malloc(256 * KiB);

		fill(want, 256 * KiB, 5);
		memset(want + 4 * KiB, 0, 64 * KiB);
		memset(want + 128 * KiB, 0, 64 * KiB);
		assert_memory_equal(buf, want, 256 * KiB);
		free(want);
	}
	/* discard: succeeds; the data is then unspecified */
	io = (struct blk_io){ .op = BLK_OP_DISCARD, .offset = MiB, .len = 64 * KiB };
	blk_backend_submit(b, &io);
	wait_done(&f->col, ++n);
	assert_int_equal(io.result, 0);
	blk_backend_close(b);
	free(buf);
}

static void test_backend_sync_zeroes(void **state)
{
	zeroes_and_discard(*state, DISK_CACHE_WRITEBACK);
}

static void test_backend_aio_zeroes(void **state)
{
	struct bfx *f = *state;

	if (!odirect_ok(f->path))
		skip();
	zeroes_and_discard(f, DISK_CACHE_NONE);
}

/* Requests the device should never make are refused, not executed */
static void test_backend_refuses(void **state)
{
	struct bfx *f = *state;
	struct blk_backend *b = bopen(f, DISK_CACHE_WRITEBACK, true, 0);
	uint8_t buf[1024] = { 0 };
	struct iovec v = { buf, 512 };
	struct blk_io io[6];

	io[0] = (struct blk_io){ .op = BLK_OP_WRITE, .offset = 0, .len = 512,
				 .iov = &v, .niov = 1 };        /* read-only */
	io[1] = (struct blk_io){ .op = BLK_OP_WRITE_ZEROES, .offset = 0, .len = 512 };
	io[2] = (struct blk_io){ .op = BLK_OP_READ, .offset = IMG_SIZE, .len = 512,
				 .iov = &v, .niov = 1 };        /* past the end */
	io[3] = (struct blk_io){ .op = BLK_OP_READ, .offset = UINT64_MAX - 100,
				 .len = 512, .iov = &v, .niov = 1 };
	io[4] = (struct blk_io){ .op = BLK_OP_READ, .offset = 0, .len = 1024,
				 .iov = &v, .niov = 1 };        /* iovecs too short */
	io[5] = (struct blk_io){ .op = BLK_OP_READ, .offset = IMG_SIZE - 512,
				 .len = 512, .iov = &v, .niov = 1 };    /* fine */
	for (int i = 0; i < 6; i++)
		blk_backend_submit(b, &io[i]);
	wait_done(&f->col, 6);
	assert_int_equal(io[0].result, -EROFS);
	assert_int_equal(io[1].result, -EROFS);
	assert_int_equal(io[2].result, -EIO);
	assert_int_equal(io[3].result, -EIO);
	assert_int_equal(io[4].result, -EINVAL);
	assert_int_equal(io[5].result, 0);
	blk_backend_close(b);
}

static void test_backend_open_errors(void **state)
{
	struct bfx *f = *state;
	struct blk_backend_opts o = { .path = "/nonexistent/vessel.img" };
	struct blk_backend *b, *b2;
	struct error err;

	assert_int_equal(blk_backend_open(&b, &o, &f->loop, on_done, &f->col, &err), -1);
	assert_null(b);
	assert_non_null(strstr(err.msg, "cannot open"));
	assert_non_null(strstr(err.msg, "No such file"));

	o.path = "/tmp";
	o.readonly = true;
	assert_int_equal(blk_backend_open(&b, &o, &f->loop, on_done, &f->col, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file or a block device"));

	/* One writer at a time; readers share */
	o.path = f->path;
	o.readonly = false;
	assert_int_equal(blk_backend_open(&b, &o, &f->loop, on_done, &f->col, &err), 0);
	assert_int_equal(blk_backend_open(&b2, &o, &f->loop, on_done, &f->col, &err), -1);
	assert_non_null(strstr(err.msg, "locked: in use"));
	o.readonly = true;
	assert_int_equal(blk_backend_open(&b2, &o, &f->loop, on_done, &f->col, &err), -1);
	blk_backend_close(b);
	assert_int_equal(blk_backend_open(&b, &o, &f->loop, on_done, &f->col, &err), 0);
	assert_int_equal(blk_backend_open(&b2, &o, &f->loop, on_done, &f->col, &err), 0);
	blk_backend_close(b2);
	blk_backend_close(b);
}

/* After drain, every request is finished with its buffers (result set),
 * even before the loop delivered it; close delivers what is left. */
static void test_backend_drain_close(void **state)
{
	struct bfx *f = *state;
	enum { N = 64 };
	struct blk_backend *b = bopen(f, DISK_CACHE_WRITEBACK, false, 2);
	struct blk_io io[N];
	uint8_t *buf = xalign(N * 4096);
	struct iovec v[N];

	for (int i = 0; i < N; i++) {
		v[i] = (struct iovec){ buf + i * 4096, 4096 };
		io[i] = (struct blk_io){ .op = i % 2 ? BLK_OP_READ : BLK_OP_WRITE,
					 .offset = (uint64_t)i * 4096, .len = 4096,
					 .iov = &v[i], .niov = 1, .result = 1 };
		blk_backend_submit(b, &io[i]);
	}
	blk_backend_drain(b);
	for (int i = 0; i < N; i++)
		assert_int_equal(io[i].result, 0);
	/* They may still sit in the done list: only once delivered are they
	 * ours to reuse. */
	wait_done(&f->col, N);
	for (int i = 0; i < N; i++) {
		io[i].result = 1;
		blk_backend_submit(b, &io[i]);
	}
	blk_backend_close(b);   /* drains, then delivers the rest here */
	for (int i = 0; i < N; i++)
		assert_int_equal(io[i].result, 0);
	assert_int_equal(f->col.done, 2 * N);   /* nothing left behind */
	free(buf);
}

/* ================= the data plane through a virtqueue ================= */

#define RAM      (4 * MiB)
#define QSZ      16
#define DESC_GPA  0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA  0x3000ULL
#define HDR_GPA   0x4000ULL     /* 16 bytes per request slot */
#define STAT_GPA  0x5000ULL     /* 1 byte per request slot */
#define DATA_GPA  0x100000ULL

struct efx {
	struct bfx *bf;
	uint8_t *ram;
	struct gmem m;
	struct virtq q;
	pthread_mutex_t lock;
	struct blk_engine *e;
	struct drvq d;          /* the driver's side of q */
	unsigned used_calls, broken_calls, more_calls;
	struct disk_spec disk;
};

static void e_used(void *opaque)
{
	struct efx *x = opaque;

	x->used_calls++;
}

static void e_broken(void *opaque)
{
	struct efx *x = opaque;

	x->broken_calls++;
}

static void e_more(void *opaque)
{
	struct efx *x = opaque;

	x->more_calls++;
}

static const struct blk_engine_ops eops = {
	.used = e_used, .broken = e_broken, .more = e_more,
};

static void q_program(struct efx *x)
{
	drvq_init(&x->d, x->ram, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA);
	memset(&x->q, 0, sizeof(x->q));
	assert_int_equal(drvq_enable(&x->d, &x->q, &x->m), 0);
}

static void efx_open(struct efx *x, enum disk_cache cache, bool readonly)
{
	struct blk_engine_opts o = { .disk = &x->disk, .index = 1, .name = "test" };
	struct error err;

	x->disk = (struct disk_spec){ .path = x->bf->path, .readonly = readonly,
				    .cache = cache };
	if (blk_engine_open(&x->e, &o, &x->bf->loop, &err) < 0)
		fail_msg("open: %s", err.msg);
	blk_engine_attach(x->e, &x->lock, &x->q, &eops, x);
}

static int efx_setup(void **state)
{
	struct efx *x = calloc(1, sizeof(*x));
	void *bf;

	if (!x || bfx_setup(&bf) < 0)
		return -1;
	x->bf = bf;
	x->ram = guest_ram_new(RAM);
	if (!x->ram)
		return -1;
	gmem_init_fake(&x->m, x->ram, RAM);
	pthread_mutex_init(&x->lock, NULL);
	q_program(x);
	*state = x;
	return 0;
}

static int efx_teardown(void **state)
{
	struct efx *x = *state;
	void *bf = x->bf;

	blk_engine_close(x->e);
	bfx_teardown(&bf);
	pthread_mutex_destroy(&x->lock);
	free(x->ram);
	free(x);
	return 0;
}

/* A data request in slot s: header, data, status (each its own buffer) */
static uint16_t post_rw(struct efx *x, unsigned s, uint32_t type,
			uint64_t sector, uint64_t data_gpa, uint32_t len)
{
	struct dbuf b[3];
	unsigned n = 0;

	put_hdr(x->ram + HDR_GPA + 16 * s, type, sector);
	x->ram[STAT_GPA + s] = 0xff;
	b[n++] = (struct dbuf){ HDR_GPA + 16 * s, 16, false };
	if (len)
		b[n++] = (struct dbuf){ data_gpa, len, type != VIRTIO_BLK_T_OUT };
	b[n++] = (struct dbuf){ STAT_GPA + s, 1, true };
	return drvq_chain(&x->d, b, n);
}

static uint16_t used_idx(struct efx *x)
{
	uint16_t v;

	pthread_mutex_lock(&x->lock);
	v = drvq_used_idx(&x->d);
	pthread_mutex_unlock(&x->lock);
	return v;
}

static void wait_used(struct efx *x, uint16_t n)
{
	for (int i = 0; i < 20000 && used_idx(x) < n; i++)
		usleep(1000);
	assert_int_equal(used_idx(x), n);
}

static void kick(struct efx *x)
{
	pthread_mutex_lock(&x->lock);
	blk_engine_notify(x->e);
	pthread_mutex_unlock(&x->lock);
}

static void engine_rw(struct efx *x)
{
	uint8_t *w = x->ram + DATA_GPA, *r = x->ram + DATA_GPA + 64 * KiB;
	uint8_t *file = malloc(32 * KiB);
	uint16_t h0, h1, h2;

	fill(w, 32 * KiB, 9);
	h0 = post_rw(x, 0, VIRTIO_BLK_T_OUT, 100, DATA_GPA, 32 * KiB);
	kick(x);
	wait_used(x, 1);
	assert_int_equal(x->ram[STAT_GPA + 0], VIRTIO_BLK_S_OK);
	assert_int_equal(drvq_used_id(&x->d, 0), h0);
	assert_int_equal(drvq_used_len(&x->d, 0), 1);

	h1 = post_rw(x, 1, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick(x);
	wait_used(x, 2);
	assert_int_equal(x->ram[STAT_GPA + 1], VIRTIO_BLK_S_OK);
	assert_int_equal(drvq_used_id(&x->d, 1), h1);

	memset(r, 0, 32 * KiB);
	h2 = post_rw(x, 2, VIRTIO_BLK_T_IN, 100, DATA_GPA + 64 * KiB, 32 * KiB);
	kick(x);
	wait_used(x, 3);
	assert_int_equal(x->ram[STAT_GPA + 2], VIRTIO_BLK_S_OK);
	assert_int_equal(drvq_used_id(&x->d, 2), h2);
	assert_int_equal(drvq_used_len(&x->d, 2), 32 * KiB + 1);
	assert_memory_equal(r, w, 32 * KiB);

	assert_int_equal(pread(x->bf->fd, file, 32 * KiB, 100 * 512), 32 * KiB);
	assert_memory_equal(file, w, 32 * KiB);
	assert_true(x->used_calls >= 3);
	assert_int_equal(x->broken_calls, 0);
	free(file);
}

static void test_engine_rw_sync(void **state)
{
	struct efx *x = *state;

	efx_open(x, DISK_CACHE_WRITEBACK, false);
	engine_rw(x);
}

static void test_engine_rw_aio(void **state)
{
	struct efx *x = *state;
	struct blk_stats st;

	if (!odirect_ok(x->bf->path))
		skip();
	efx_open(x, DISK_CACHE_NONE, false);
	assert_string_equal(blk_backend_mode(x->e->be), "aio");
	engine_rw(x);
	blk_backend_stats(x->e->be, &st);
	assert_int_equal(st.aio, 2);            /* guest pages straight to disk */
	assert_int_equal(st.sync, 1 + st.retried);      /* the flush */
	assert_int_equal(st.bounce, 0);
}

/* Unaligned guest buffers under O_DIRECT: the bounce path, same result */
static void test_engine_unaligned_aio(void **state)
{
	struct efx *x = *state;
	uint64_t wg = DATA_GPA + 3, rg = DATA_GPA + 64 * KiB + 1;
	struct dbuf b[4];
	struct blk_stats st;

	if (!odirect_ok(x->bf->path))
		skip();
	efx_open(x, DISK_CACHE_NONE, false);
	fill(x->ram + wg, 8 * KiB, 4);
	post_rw(x, 0, VIRTIO_BLK_T_OUT, 7, wg, 8 * KiB);
	kick(x);
	wait_used(x, 1);
	assert_int_equal(x->ram[STAT_GPA], VIRTIO_BLK_S_OK);
	/* read back: 1000 + 7192 bytes, and the status in the last buffer */
	put_hdr(x->ram + HDR_GPA + 16, VIRTIO_BLK_T_IN, 7);
	b[0] = (struct dbuf){ HDR_GPA + 16, 16, false };
	b[1] = (struct dbuf){ rg, 1000, true };
	b[2] = (struct dbuf){ rg + 1000, 7192 + 1, true };
	drvq_chain(&x->d, b, 3);
	kick(x);
	wait_used(x, 2);
	assert_int_equal(x->ram[rg + 8 * KiB], VIRTIO_BLK_S_OK);
	assert_memory_equal(x->ram + rg, x->ram + wg, 8 * KiB);
	blk_backend_stats(x->e->be, &st);
	assert_int_equal(st.aio, 0);
	assert_int_equal(st.bounce, 2);
}

static void test_engine_immediate_answers(void **state)
{
	struct efx *x = *state;
	char id[VIRTIO_BLK_ID_BYTES];
	struct dbuf b[2];

	efx_open(x, DISK_CACHE_WRITEBACK, false);
	/* out of range, unsupported, and GET_ID: answered within the kick */
	post_rw(x, 0, VIRTIO_BLK_T_IN, IMG_SIZE / 512, DATA_GPA, 512);
	post_rw(x, 1, 99, 0, DATA_GPA, 512);
	put_hdr(x->ram + HDR_GPA + 32, VIRTIO_BLK_T_GET_ID, 0);
	b[0] = (struct dbuf){ HDR_GPA + 32, 16, false };
	b[1] = (struct dbuf){ DATA_GPA + 4096, 21, true };
	drvq_chain(&x->d, b, 2);
	kick(x);
	assert_int_equal(drvq_used_idx(&x->d), 3);
	assert_int_equal(x->ram[STAT_GPA + 0], VIRTIO_BLK_S_IOERR);
	assert_int_equal(x->ram[STAT_GPA + 1], VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(x->ram[DATA_GPA + 4096 + 20], VIRTIO_BLK_S_OK);
	blk_make_id(id, "test", 1);
	assert_memory_equal(x->ram + DATA_GPA + 4096, id, 20);
	assert_string_equal((char *)x->ram + DATA_GPA + 4096, "vessel-test-1");
	assert_int_equal(x->used_calls, 1);     /* one interrupt for the batch */
}

static void test_engine_readonly(void **state)
{
	struct efx *x = *state;

	efx_open(x, DISK_CACHE_WRITEBACK, true);
	post_rw(x, 0, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512);
	post_rw(x, 1, VIRTIO_BLK_T_IN, 0, DATA_GPA, 512);
	kick(x);
	wait_used(x, 2);
	assert_int_equal(x->ram[STAT_GPA + 0], VIRTIO_BLK_S_IOERR);
	assert_int_equal(x->ram[STAT_GPA + 1], VIRTIO_BLK_S_OK);
}

/* A chain with no writable byte: the device breaks, nothing is pushed,
 * and it stays quiet until reset. */
static void test_engine_malformed(void **state)
{
	struct efx *x = *state;
	struct dbuf b[2];

	efx_open(x, DISK_CACHE_WRITEBACK, false);
	put_hdr(x->ram + HDR_GPA, VIRTIO_BLK_T_IN, 0);
	b[0] = (struct dbuf){ HDR_GPA, 16, false };
	b[1] = (struct dbuf){ DATA_GPA, 512, false };
	drvq_chain(&x->d, b, 2);
	post_rw(x, 1, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick(x);
	assert_int_equal(x->broken_calls, 1);
	assert_int_equal(drvq_used_idx(&x->d), 0);
	kick(x);
	assert_int_equal(x->broken_calls, 1);
	assert_int_equal(drvq_used_idx(&x->d), 0);

	pthread_mutex_lock(&x->lock);
	blk_engine_reset(x->e);
	q_program(x);
	pthread_mutex_unlock(&x->lock);
	post_rw(x, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick(x);
	wait_used(x, 1);
	assert_int_equal(x->ram[STAT_GPA], VIRTIO_BLK_S_OK);
}

/* Requests in flight at a reset never touch the new ring. */
static void test_engine_reset_inflight(void **state)
{
	struct efx *x = *state;
	efx_open(x, DISK_CACHE_WRITEBACK, false);
	pthread_mutex_lock(&x->lock);   /* completions wait behind us */
	for (unsigned s = 0; s < 8; s++) {
		post_rw(x, s, s % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, s * 64,
			DATA_GPA + s * 32 * KiB, 32 * KiB);
		blk_engine_notify(x->e);        /* frees the descriptors */
	}
	assert_int_equal(x->e->inflight, 8);
	blk_engine_reset(x->e);
	q_program(x);
	for (unsigned s = 0; s < 8; s++)
		x->ram[STAT_GPA + s] = 0xee;
	pthread_mutex_unlock(&x->lock);

	/* A request after the reset: once it is back, the stale ones (queued
	 * before it) have been delivered and dropped. */
	post_rw(x, 9, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick(x);
	wait_used(x, 1);
	usleep(20000);
	assert_int_equal(used_idx(x), 1);
	assert_int_equal(x->ram[STAT_GPA + 9], VIRTIO_BLK_S_OK);
	for (unsigned s = 0; s < 8; s++)
		assert_int_equal(x->ram[STAT_GPA + s], 0xee);
	assert_int_equal(x->e->inflight, 0);
}

/* A guest re-posting descriptors cannot push more than a queue's worth of
 * requests to the backend; the rest waits in the ring. */
static void test_engine_throttle(void **state)
{
	struct efx *x = *state;
	struct dbuf b[2];

	efx_open(x, DISK_CACHE_WRITEBACK, false);
	put_hdr(x->ram + HDR_GPA, VIRTIO_BLK_T_FLUSH, 0);
	b[0] = (struct dbuf){ HDR_GPA, 16, false };
	b[1] = (struct dbuf){ STAT_GPA, 1, true };
	pthread_mutex_lock(&x->lock);
	for (unsigned i = 0; i < QSZ; i++) {
		x->d.next_desc = 0;       /* the same chain every time */
		drvq_chain(&x->d, b, 2);
	}
	blk_engine_notify(x->e);
	assert_int_equal(x->e->inflight, QSZ);
	for (unsigned i = 0; i < QSZ; i++) {
		x->d.next_desc = 0;
		drvq_chain(&x->d, b, 2);
	}
	blk_engine_notify(x->e);
	assert_int_equal(x->e->inflight, QSZ);
	assert_true(x->e->throttled);
	assert_int_equal(x->q.last_avail, QSZ);
	pthread_mutex_unlock(&x->lock);
	/* completions resume the queue on their own */
	wait_used(x, 2 * QSZ);
	assert_int_equal(x->ram[STAT_GPA], VIRTIO_BLK_S_OK);
	assert_int_equal(x->broken_calls, 0);
}

/* A guest that keeps its ring full of requests answered at once (here 256
 * unsupported ones, the same chain re-posted) gets BLK_ENGINE_BUDGET per
 * notify and a call for more; the rest comes on the next notifies, none
 * lost, none answered twice. */
static void test_engine_budget(void **state)
{
	struct efx *x = *state;
	struct dbuf b[2];
	uint16_t head;
	unsigned rounds = 256 / BLK_ENGINE_BUDGET;

	efx_open(x, DISK_CACHE_WRITEBACK, false);
	drvq_init(&x->d, x->ram, 256, DESC_GPA, AVAIL_GPA, USED_GPA);
	memset(&x->q, 0, sizeof(x->q));
	assert_int_equal(drvq_enable(&x->d, &x->q, &x->m), 0);
	put_hdr(x->ram + HDR_GPA, 99, 0);
	b[0] = (struct dbuf){ HDR_GPA, 16, false };
	b[1] = (struct dbuf){ STAT_GPA, 1, true };
	head = drvq_chain(&x->d, b, 2);
	for (unsigned i = 1; i < 256; i++)
		drvq_avail(&x->d, head);
	for (unsigned r = 1; r < rounds; r++) {
		kick(x);
		assert_int_equal(drvq_used_idx(&x->d), r * BLK_ENGINE_BUDGET);
		assert_int_equal(x->more_calls, r);
		assert_int_equal(x->used_calls, r);
	}
	kick(x);
	kick(x);
	assert_int_equal(drvq_used_idx(&x->d), 256);
	for (unsigned i = 0; i < 256; i++) {
		assert_int_equal(drvq_used_id(&x->d, i), head);
		assert_int_equal(drvq_used_len(&x->d, i), 1);
	}
	assert_int_equal(x->ram[STAT_GPA], VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(x->used_calls, rounds);
	assert_int_equal(x->broken_calls, 0);
	assert_int_equal(x->e->inflight, 0);
}

/* Closing with requests in flight: no crash, no leak, nothing pushed */
static void test_engine_close_inflight(void **state)
{
	struct efx *x = *state;

	efx_open(x, DISK_CACHE_WRITEBACK, false);
	for (unsigned s = 0; s < 8; s++) {
		post_rw(x, s, VIRTIO_BLK_T_OUT, s * 64, DATA_GPA + s * 32 * KiB,
			32 * KiB);
		kick(x);
	}
	blk_engine_close(x->e);
	x->e = NULL;
	assert_true(drvq_used_idx(&x->d) <= 8);
}

/* Discard and write-zeroes through the ring */
static void test_engine_write_zeroes(void **state)
{
	struct efx *x = *state;
	struct dbuf b[2];

	efx_open(x, DISK_CACHE_WRITEBACK, false);
	fill(x->ram + DATA_GPA, 16 * KiB, 2);
	post_rw(x, 0, VIRTIO_BLK_T_OUT, 64, DATA_GPA, 16 * KiB);
	kick(x);
	wait_used(x, 1);

	put_hdr(x->ram + HDR_GPA + 16, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	put_seg(x->ram + HDR_GPA + 32, 72, 8, VIRTIO_BLK_WZ_F_UNMAP);
	b[0] = (struct dbuf){ HDR_GPA + 16, 32, false };
	b[1] = (struct dbuf){ STAT_GPA + 1, 1, true };
	drvq_chain(&x->d, b, 2);
	kick(x);
	wait_used(x, 2);
	assert_int_equal(x->ram[STAT_GPA + 1], VIRTIO_BLK_S_OK);

	put_hdr(x->ram + HDR_GPA + 64, VIRTIO_BLK_T_DISCARD, 0);
	put_seg(x->ram + HDR_GPA + 80, 88, 8, 0);
	b[0] = (struct dbuf){ HDR_GPA + 64, 32, false };
	b[1] = (struct dbuf){ STAT_GPA + 2, 1, true };
	drvq_chain(&x->d, b, 2);
	kick(x);
	wait_used(x, 3);
	assert_int_equal(x->ram[STAT_GPA + 2], VIRTIO_BLK_S_OK);

	post_rw(x, 3, VIRTIO_BLK_T_IN, 64, DATA_GPA + 64 * KiB, 8 * KiB);
	kick(x);
	wait_used(x, 4);
	assert_memory_equal(x->ram + DATA_GPA + 64 * KiB, x->ram + DATA_GPA, 4 * KiB);
	for (size_t i = 4 * KiB; i < 8 * KiB; i++)
		assert_int_equal(x->ram[DATA_GPA + 64 * KiB + i], 0);
}

#define P(fn) cmocka_unit_test_setup_teardown(fn, pfx_setup, pfx_teardown)
#define B(fn) cmocka_unit_test_setup_teardown(fn, bfx_setup, bfx_teardown)
#define E(fn) cmocka_unit_test_setup_teardown(fn, efx_setup, efx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		P(test_parse_read),
		P(test_parse_write),
		P(test_parse_split_header),
		P(test_parse_header_bytewise),
		P(test_parse_status_in_data_buffer),
		P(test_parse_status_last_of_many),
		P(test_parse_out_of_range),
		P(test_parse_len_not_sector_multiple),
		P(test_parse_zero_length),
		P(test_parse_readonly),
		P(test_parse_no_status_byte),
		P(test_parse_short_header),
		P(test_parse_unsupported),
		P(test_parse_flush),
		P(test_parse_get_id),
		cmocka_unit_test(test_make_id),
		P(test_parse_discard),
		P(test_parse_discard_segments),
		P(test_parse_write_zeroes),
		P(test_parse_many_iovecs),
		B(test_backend_sync_rw),
		B(test_backend_aio_rw),
		B(test_backend_aio_many),
		B(test_backend_sync_zeroes),
		B(test_backend_aio_zeroes),
		B(test_backend_refuses),
		B(test_backend_open_errors),
		B(test_backend_drain_close),
		E(test_engine_rw_sync),
		E(test_engine_rw_aio),
		E(test_engine_unaligned_aio),
		E(test_engine_immediate_answers),
		E(test_engine_readonly),
		E(test_engine_malformed),
		E(test_engine_reset_inflight),
		E(test_engine_throttle),
		E(test_engine_budget),
		E(test_engine_close_inflight),
		E(test_engine_write_zeroes),
	};

	/* Threads and a real disk: a hang must not stall `make unit` */
	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

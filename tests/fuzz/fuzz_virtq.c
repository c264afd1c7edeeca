/* libFuzzer target: the split virtqueue (devices/virtio/queue.c, iov.c) as a
 * device drives it over 1 MiB of fake guest RAM the guest wrote. The input:
 *   byte 0      queue size: below 0xf0, 1 << (b % 9) (1..256); else one of
 *               a few invalid sizes (virtq_activate must refuse them);
 *   byte 1      bit 0 VIRTIO_F_EVENT_IDX negotiated;
 *               bit 1 RAM in two regions, [0, 512K) and [4G, 4G + 512K), as
 *                     gmem_layout lays out RAM past the MMIO hole;
 *               bit 2 dirty tracking on (a migration: pushes walk the
 *                     chains again to mark their writable buffers);
 *               bit 3 the device writes into the writable buffers (else
 *                     RAM must end as it began but for the used ring: the
 *                     queue writes nothing else);
 *               bit 4 a second round: virtq_reset, virtq_activate, pop again
 *                     over what the first round left in RAM;
 *   byte 2      pushes batched by (b & 7) through virtq_push_many (0 or 1:
 *               one virtq_push per request);
 *   byte 3      offset into a chain's buffers where the device copies;
 *   byte 4      piece size for the same copy done piecewise;
 *   bytes 5-7   unused;
 *   bytes 8-19  desc, avail, used addresses, u32 each (ring_gpa() below:
 *               a plain address, near the end of low RAM, around 4 GiB, or
 *               just below 2^64);
 *   the rest    guest RAM from gpa 0 (and, with two regions, again from
 *               4 GiB): rings, descriptors, indirect tables, buffers.
 * INDIRECT_DESC has no switch: vessel always offers it (devices/virtio/pci.c)
 * and the queue takes indirect descriptors whatever the driver negotiated.
 * The queue must refuse what is malformed (-1, broken) and never touch
 * memory outside RAM; what it returns must hold what queue.h promises. */
#include <stdlib.h>
#include <string.h>

#include "../../boot/layout.h"
#include "../../devices/virtio/queue.h"
#include "../../tools/base/le.h"
#include "../../vmm/memory.h"

#define RAM	(1u << 20)
#define HDR	20
#define BUF	4096	/* the device's copy buffer */
#define BATCH	8
#define PAGE	4096u	/* of the dirty bitmap */

static uint8_t *ram;
static struct virtq_req *req;
static size_t touched_lo = RAM, touched_hi;	/* host offsets written */

/* The layout of this run: one region [0, RAM) or two halves */
static bool split;

#define check(c) do { if (!(c)) __builtin_trap(); } while (0)

static void touch(const void *p, size_t len)
{
	size_t off = (size_t)((const uint8_t *)p - ram);

	if (!len)
		return;
	if (off < touched_lo)
		touched_lo = off;
	if (off + len > touched_hi)
		touched_hi = off + len;
}

static uint64_t low_end(void)
{
	return split ? RAM / 2 : RAM;
}

static uint64_t ring_gpa(uint32_t v)
{
	switch (v >> 30) {
	case 0:
		return v;
	case 1:
		return low_end() - (v & 0xfff);
	case 2:
		return HIGH_RAM_START - 0x1000 + (v & 0xfffff);
	default:
		return UINT64_MAX - (v & 0xffff);
	}
}

/* The host address of [gpa, gpa + len) if it lies inside one region of this
 * run's RAM, else NULL: the fuzzer's own idea of RAM, not gmem_ptr's. */
static uint8_t *host(uint64_t gpa, uint64_t len)
{
	uint64_t half = RAM / 2;

	if (!split)
		return gpa < RAM && len <= RAM - gpa ? ram + gpa : NULL;
	if (gpa < half)
		return len <= half - gpa ? ram + gpa : NULL;
	if (gpa >= HIGH_RAM_START && gpa - HIGH_RAM_START < half)
		return len <= half - (gpa - HIGH_RAM_START) ?
		       ram + half + (gpa - HIGH_RAM_START) : NULL;
	return NULL;
}

/* An iovec from virtq_pop: not empty, inside one region of RAM */
static void check_iov(const struct iovec *v)
{
	const uint8_t *b = v->iov_base;
	size_t lo = 0, hi = RAM;

	check(v->iov_len > 0);
	check(b >= ram && b < ram + RAM);
	if (split && (size_t)(b - ram) >= RAM / 2)
		lo = RAM / 2;
	else if (split)
		hi = RAM / 2;
	check((size_t)(b - ram) >= lo && v->iov_len <= hi - (size_t)(b - ram));
}

/* RAM [lo, hi) holds its first n bytes from src, then zeros, but for
 * [skip_lo, skip_hi) */
static void unchanged(size_t lo, size_t hi, const uint8_t *src, size_t n,
		      size_t skip_lo, size_t skip_hi)
{
	static const uint8_t zero[PAGE];

	if (n > hi - lo)
		n = hi - lo;
	for (size_t o = lo; o < hi;) {
		size_t end = o < skip_lo ? skip_lo : hi, l;

		if (o >= skip_lo && o < skip_hi) {
			o = skip_hi;
			continue;
		}
		if (end > hi)
			end = hi;
		if (o < lo + n) {
			l = (lo + n < end ? lo + n : end) - o;
			check(!memcmp(ram + o, src + (o - lo), l));
		} else {
			l = end - o < PAGE ? end - o : PAGE;
			check(!memcmp(ram + o, zero, l));
		}
		o += l;
	}
}

static bool overlap(const struct iovec *a, const struct iovec *b)
{
	const uint8_t *pa = a->iov_base, *pb = b->iov_base;

	return pa < pb + b->iov_len && pb < pa + a->iov_len;
}

static size_t expect_copy(uint64_t total, size_t off, size_t len)
{
	if (off >= total)
		return 0;
	return total - off < len ? (size_t)(total - off) : len;
}

/* What a device does with one request: read the readable part (whole and
 * piecewise, which must agree), write into the writable part. Returns the
 * length to push. */
static uint32_t serve(const struct virtq_req *r, size_t off, size_t piece,
		      bool write)
{
	static uint8_t a[BUF], b[BUF];
	uint64_t out = 0, in = 0;
	size_t n, w;

	check(r->nout <= VIRTQ_MAX_IOV && r->nin <= VIRTQ_MAX_IOV);
	for (unsigned i = 0; i < r->nout; i++) {
		check_iov(&r->out[i]);
		out += r->out[i].iov_len;
	}
	for (unsigned i = 0; i < r->nin; i++) {
		check_iov(&r->in[i]);
		in += r->in[i].iov_len;
	}
	check(out == r->out_len && in == r->in_len);
	check(out + in <= 1ULL << 32);

	n = iov_to_buf(r->out, r->nout, off, a, BUF);
	check(n == expect_copy(out, off, BUF));
	for (size_t p = 0; p < n; p += piece) {
		size_t l = n - p < piece ? n - p : piece;

		check(iov_to_buf(r->out, r->nout, off + p, b + p, l) == l);
	}
	check(!memcmp(a, b, n));

	if (!write)
		return 0;
	for (size_t i = n; i < BUF; i++)
		a[i] = (uint8_t)(i * 7 + 1);
	w = iov_from_buf(r->in, r->nin, off, a, BUF);
	check(w == expect_copy(in, off, BUF));
	for (unsigned i = 0; i < r->nin; i++)
		touch(r->in[i].iov_base, r->in[i].iov_len);
	/* Read back what was written, unless the guest made two writable
	 * buffers share memory */
	if (r->nin <= 32) {
		bool alias = false;

		for (unsigned i = 0; i < r->nin && !alias; i++)
			for (unsigned j = i + 1; j < r->nin && !alias; j++)
				alias = overlap(&r->in[i], &r->in[j]);
		if (!alias) {
			check(iov_to_buf(r->in, r->nin, off, b, w) == w);
			check(!memcmp(a, b, w));
		}
	}
	return w ? (uint32_t)(off + w) : 0;
}

/* Return the batched chains; the used ring must then show them */
static void push(struct virtq *q, const uint16_t *head, const uint32_t *len,
		 unsigned n, bool many, const uint8_t *used)
{
	uint16_t before = q->used_idx;
	bool broken = q->broken;
	int r;

	if (!n)
		return;
	if (many || n > 1)
		r = virtq_push_many(q, head, len, n);
	else
		r = virtq_push(q, head[0], len[0]);
	if (broken) {
		check(r == -1);
		return;
	}
	/* Heads from virtq_pop, rings that were fine: nothing to refuse */
	check(r == 0 && q->used_idx == (uint16_t)(before + n));
	check(rd16(used + 2) == q->used_idx);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = used + 4 + 8 * ((before + i) & (q->size - 1));

		check(rd32(e) == head[i] && rd32(e + 4) == len[i]);
	}
}

static void notify(struct virtq *q, const uint8_t *avail)
{
	bool want = !(rd16(avail) & 1);	/* VRING_AVAIL_F_NO_INTERRUPT */
	bool r = virtq_should_notify(q);

	if (!q->event_idx)
		check(r == want);
}

/* Pop until empty or broken (at most 2 * size + 1 times), serve and push */
static void round_(struct virtq *q, bool ok, const uint8_t *data,
		   struct gmem *m)
{
	unsigned batch = data[2] & 7, nb = 0;
	size_t off = data[3], piece = data[4] + 1u;
	bool write = data[1] & 8;
	uint16_t head[BATCH];
	uint32_t len[BATCH];
	const uint8_t *avail = ok ? host(q->avail_gpa, 0) : NULL;
	const uint8_t *used = ok ? host(q->used_gpa, 0) : NULL;

	/* virtq_push_many takes at most size chains */
	if (batch > q->size)
		batch = q->size;
	for (unsigned i = 0; i < 2u * q->size + 1; i++) {
		uint16_t last = q->last_avail, want_head = 0;
		bool head_known = false;
		int r;

		if (ok) {
			uint64_t slot = 4 + 2 * (uint64_t)(last & (q->size - 1));
			uint64_t ev = 4 + 8 * (uint64_t)q->size;	/* avail_event */
			const uint8_t *s = avail + slot, *e = used + ev;

			want_head = rd16(s);
			/* An empty-looking ring makes virtq_pop write
			 * avail_event before it reads the slot */
			head_known = !q->event_idx || e + 2 <= s || s + 2 <= e;
		}
		r = virtq_pop(q, req);
		check(r >= -1 && r <= 1);
		if (r < 0) {
			check(q->broken);
			check(virtq_pop(q, req) == -1);
			break;
		}
		check(ok);	/* a queue virtq_activate refused stays refused */
		if (!r) {
			check(q->last_avail == last && rd16(avail + 2) == last);
			/* going idle: the driver must kick for the next one */
			if (q->event_idx)
				check(rd16(used + 4 + 8 * (size_t)q->size) == last);
			break;
		}
		check(q->last_avail == (uint16_t)(last + 1));
		check(req->head < q->size);
		if (head_known)
			check(req->head == want_head);
		head[nb] = req->head;
		len[nb] = serve(req, off, piece, write);
		nb++;
		if (nb >= (batch ? batch : 1)) {
			push(q, head, len, nb, batch > 1, used);
			nb = 0;
			notify(q, avail);
		}
	}
	if (ok)
		push(q, head, len, nb, batch > 1, used);
	if (q->broken)
		check(virtq_push(q, 0, 0) == -1);
	if (ok)
		notify(q, avail);
	else
		(void)virtq_should_notify(q);

	/* With dirty tracking, a push marks the used ring */
	if (m->dirty_on && ok && q->used_idx) {
		uint64_t marks[(RAM / PAGE + 63) / 64] = { 0 };	/* 4 KiB pages */
		size_t pg = (size_t)(used - ram) / PAGE;

		gmem_dirty_take(m, marks);
		check(marks[pg / 64] & 1ULL << (pg % 64));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t bad_size[16] = {
		0, 3, 5, 6, 12, 100, 255, 257, 384, 1023, 1025, 2048,
		4096, 0x8000, 0xfff0, 0xffff,
	};
	struct virtq q = { 0 };
	struct gmem m;
	struct error err;
	const uint8_t *used;
	size_t n;
	bool ok;

	if (!ram) {
		ram = calloc(1, RAM);
		req = malloc(sizeof(*req));
		if (!ram || !req)
			abort();
	}
	if (size < HDR)
		return 0;
	/* RAM back to zeros: only what the last run wrote */
	if (touched_hi > touched_lo)
		memset(ram + touched_lo, 0, touched_hi - touched_lo);
	touched_lo = RAM;
	touched_hi = 0;

	split = data[1] & 2;
	n = size - HDR;
	if (n > (split ? RAM / 2 : RAM))
		n = split ? RAM / 2 : RAM;
	memcpy(ram, data + HDR, n);
	touch(ram, n);
	gmem_init_fake(&m, ram, RAM);
	if (split) {
		m.nregions = 2;
		m.region[0] = (struct gmem_region){ 0, RAM / 2, ram };
		m.region[1] = (struct gmem_region){ HIGH_RAM_START, RAM / 2,
						    ram + RAM / 2 };
		memcpy(ram + RAM / 2, data + HDR, n);
		touch(ram + RAM / 2, n);
	}
	if ((data[1] & 4) && gmem_dirty_start(&m, &err))
		abort();

	q.size = data[0] < 0xf0 ? (uint16_t)(1u << (data[0] % 9))
				: bad_size[data[0] & 15];
	q.desc_gpa = ring_gpa(rd32(data + 8));
	q.avail_gpa = ring_gpa(rd32(data + 12));
	q.used_gpa = ring_gpa(rd32(data + 16));
	q.event_idx = data[1] & 1;
	q.mem = &m;
	q.ready = true;

	/* The spec's sizes and alignments (virtio 1.x, 2.7) */
	ok = q.size && q.size <= VIRTQ_MAX_SIZE && !(q.size & (q.size - 1)) &&
	     !(q.desc_gpa & 15) && !(q.avail_gpa & 1) && !(q.used_gpa & 3) &&
	     host(q.desc_gpa, 16ULL * q.size) &&
	     host(q.avail_gpa, 6 + 2ULL * q.size) &&
	     host(q.used_gpa, 6 + 8ULL * q.size);
	check(virtq_activate(&q) == (ok ? 0 : -1));
	check(q.broken == !ok);
	used = ok ? host(q.used_gpa, 0) : NULL;
	if (used)
		touch(used, 6 + 8 * (size_t)q.size);

	round_(&q, ok, data, &m);
	if (data[1] & 16) {
		virtq_reset(&q);
		check(!q.broken && !q.last_avail && !q.used_idx);
		check(virtq_activate(&q) == (ok ? 0 : -1));
		round_(&q, ok, data, &m);
	}
	/* A device that only reads: the queue may have written the used ring
	 * and nothing else (a refused queue: nothing at all) */
	if (!(data[1] & 8)) {
		size_t ulo = used ? (size_t)(used - ram) : RAM;
		size_t uhi = used ? ulo + 6 + 8 * (size_t)q.size : RAM;

		unchanged(0, RAM / 2, data + HDR, n, ulo, uhi);
		unchanged(RAM / 2, RAM, split ? data + HDR : data + HDR + RAM / 2,
			  split ? n : (n > RAM / 2 ? n - RAM / 2 : 0), ulo, uhi);
	}
	free(m.dirty);
	return 0;
}

/* The split virtqueue (virtio 1.x, section 2.7) against a hostile guest.
 *
 * The rings live in guest RAM and the guest may rewrite them at any moment,
 * from another vCPU, while we read them. So:
 *  - the host pointers of the three rings are looked up through gmem_ptr()
 *    on every call (nothing is cached that the transport could change);
 *  - every guest-written field is read exactly once, through a volatile
 *    access, into a local; only the local is checked and used (no TOCTOU);
 *  - avail->idx is read before the ring entries and descriptors, with an
 *    acquire fence in between; the used element is written before used->idx,
 *    with a release fence in between;
 *  - any malformed structure marks the queue broken: virtq_pop() and
 *    virtq_push() then fail until virtq_reset() or virtq_activate().
 *
 * Zero-length buffers: a descriptor with len 0 is harmless. Its address must
 * still lie in RAM and it obeys the readable-before-writable order and counts
 * towards the chain length, but it produces no iovec. (An indirect table of
 * length 0 is a malformed ring, not an empty buffer.)
 */
#include "queue.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

#define VIRTQ_DESC_SIZE		16ULL	/* le64 addr, le32 len, le16 flags, next */
#define VIRTQ_USED_ELEM_SIZE	8ULL	/* le32 id, le32 len */

/* Ring layouts, byte offsets */
#define AVAIL_FLAGS		0
#define AVAIL_IDX		2
#define AVAIL_RING(i)		(4 + 2 * (uint64_t)(i))	/* ring[size] is used_event */
#define USED_IDX		2
#define USED_RING(i)		(4 + 8 * (uint64_t)(i))	/* ring[size] is avail_event */

/* Spec: "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in
 * total". Larger is a malformed chain. */
#define VIRTQ_MAX_CHAIN_BYTES	(1ULL << 32)

/* Guest memory accessors: single volatile accesses through byte-aligned
 * types, so a field is read once (the compiler may not re-load it) and an
 * unaligned indirect table is not undefined behaviour. */
typedef uint16_t __attribute__((aligned(1))) una16;
typedef uint32_t __attribute__((aligned(1))) una32;
typedef uint64_t __attribute__((aligned(1))) una64;

static inline uint16_t ld16(const uint8_t *p)
{
	return le16toh(*(const volatile una16 *)p);
}

static inline uint32_t ld32(const uint8_t *p)
{
	return le32toh(*(const volatile una32 *)p);
}

static inline uint64_t ld64(const uint8_t *p)
{
	return le64toh(*(const volatile una64 *)p);
}

static inline void st16(uint8_t *p, uint16_t v)
{
	*(volatile una16 *)p = htole16(v);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	*(volatile una32 *)p = htole32(v);
}

/* A descriptor, copied out of guest memory once */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static void desc_read(const uint8_t *table, unsigned i, struct desc *d)
{
	const uint8_t *p = table + (uint64_t)i * VIRTQ_DESC_SIZE;

	d->addr = ld64(p);
	d->len = ld32(p + 8);
	d->flags = ld16(p + 12);
	d->next = ld16(p + 14);
}

/* Host pointers of the three rings */
struct rings {
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
};

static bool size_valid(uint16_t size)
{
	return size >= 1 && size <= VIRTQ_MAX_SIZE && !(size & (size - 1));
}

/* Look the rings up in guest RAM; false if the queue is not programmed
 * sanely (size, alignment) or a ring is not wholly inside one RAM region.
 * Sizes are computed in 64 bits. */
static bool rings_get(const struct virtq *q, struct rings *r)
{
	uint64_t desc_len, avail_len, used_len;

	if (!q->mem || !size_valid(q->size))
		return false;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return false;
	desc_len = VIRTQ_DESC_SIZE * q->size;
	avail_len = AVAIL_RING(q->size) + 2;
	used_len = USED_RING(q->size) + 2;
	r->desc = gmem_ptr(q->mem, q->desc_gpa, desc_len);
	r->avail = gmem_ptr(q->mem, q->avail_gpa, avail_len);
	r->used = gmem_ptr(q->mem, q->used_gpa, used_len);
	return r->desc && r->avail && r->used;
}

static int virtq_break(struct virtq *q)
{
	q->broken = true;
	return -1;
}

static void virtq_clear_state(struct virtq *q)
{
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = false;
	q->broken = false;
}

int virtq_activate(struct virtq *q)
{
	struct rings r;

	virtq_clear_state(q);
	if (!rings_get(q, &r))
		return virtq_break(q);
	return 0;
}

void virtq_reset(struct virtq *q)
{
	/* Device-side state only: size, ring addresses, ready, event_idx and
	 * mem belong to the transport, which reprograms them. */
	virtq_clear_state(q);
}

/* Append one buffer to req, or with req NULL mark it dirty if it is
 * writable (mark_pushed). *bytes counts the chain's length. False on a
 * malformed buffer. */
static bool req_add(const struct virtq *q, struct virtq_req *req,
		    const struct desc *d, bool *seen_in, uint64_t *bytes)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	if (!writable && *seen_in)
		return false;   /* readable after writable */
	*seen_in |= writable;

	p = gmem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return false;
	/* *bytes is at most 2^32 here and len < 2^32: no overflow */
	if (*bytes + d->len > VIRTQ_MAX_CHAIN_BYTES)
		return false;
	*bytes += d->len;
	if (!d->len)
		return true;    /* harmless: no iovec */
	if (!req) {
		if (writable)
			gmem_dirty_mark(q->mem, p, d->len);
		return true;
	}

	if (writable) {
		if (req->nin >= VIRTQ_MAX_IOV)
			return false;
		req->in[req->nin].iov_base = p;
		req->in[req->nin].iov_len = d->len;
		req->nin++;
		req->in_len += d->len;
	} else {
		if (req->nout >= VIRTQ_MAX_IOV)
			return false;
		req->out[req->nout].iov_base = p;
		req->out[req->nout].iov_len = d->len;
		req->nout++;
		req->out_len += d->len;
	}
	return true;
}

/* Walk the chain starting at head (already checked < size). Chains are
 * bounded by the number of entries of the table being walked, which also
 * catches loops; the whole walk is thus bounded by size plus the length of
 * at most one indirect table. With req NULL, the chain's writable
 * buffers are marked dirty instead. */
static bool chain_walk(const struct virtq *q, const struct rings *r,
		       uint16_t head, struct virtq_req *req)
{
	uint64_t bytes = 0;
	const uint8_t *table = r->desc;
	unsigned entries = q->size;     /* of the table being walked */
	unsigned count = 0;             /* descriptors seen in that table */
	unsigned idx = head;
	bool indirect = false;
	bool seen_in = false;
	struct desc d;

	if (req) {
		req->head = head;
		req->nout = req->nin = 0;
		req->out_len = req->in_len = 0;
	}

	for (;;) {
		if (++count > entries)
			return false;   /* loop or chain longer than the table */
		desc_read(table, idx, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			uint64_t n;

			if (indirect)
				return false;   /* nested indirect table */
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return false;   /* spec: not both */
			if (!d.len || d.len % VIRTQ_DESC_SIZE)
				return false;
			table = gmem_ptr(q->mem, d.addr, d.len);
			if (!table)
				return false;
			/* The WRITE flag of this descriptor is ignored
			 * (spec 2.7.5.3.2). */
			n = d.len / VIRTQ_DESC_SIZE;
			indirect = true;
			entries = (unsigned)n;  /* n < 2^28 */
			count = 0;
			idx = 0;
			continue;
		}

		if (!req_add(q, req, &d, &seen_in, &bytes))
			return false;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return true;
		if (d.next >= entries)
			return false;
		idx = d.next;
	}
}

/* With EVENT_IDX: ask the driver to kick us once it makes avail->idx go past
 * last_avail (used->avail_event, the last field of the used ring). */
static void avail_event_set(const struct virtq *q, const struct rings *r)
{
	st16(r->used + USED_RING(q->size), q->last_avail);
	gmem_dirty_mark(q->mem, r->used + USED_RING(q->size), 2);
}

/* While RAM is tracked for migration (gmem_dirty_start): after a push,
 * mark the used ring and every writable buffer of the pushed chains,
 * walked again (the device still owns them until the guest sees the
 * used index; a guest that changed them meanwhile only misleads its own
 * migration). */
static void mark_pushed(const struct virtq *q, const struct rings *r,
			const uint16_t *head, unsigned n)
{
	if (!__atomic_load_n(&q->mem->dirty_on, __ATOMIC_ACQUIRE))
		return;
	gmem_dirty_mark(q->mem, r->used, USED_RING(q->size) + 2);
	for (unsigned i = 0; i < n; i++)
		chain_walk(q, r, head[i], NULL);
}

int virtq_pop(struct virtq *q, struct virtq_req *req)
{
	struct rings r;
	uint16_t avail_idx, pending, head;

	if (q->broken)
		return -1;
	if (!rings_get(q, &r))
		return virtq_break(q);

	avail_idx = ld16(r.avail + AVAIL_IDX);
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (!pending && q->event_idx) {
		/* Publish avail_event, then look again: the driver may have
		 * added a buffer after our read but before it saw the new
		 * avail_event, and would then not kick. */
		avail_event_set(q, &r);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = ld16(r.avail + AVAIL_IDX);
		pending = (uint16_t)(avail_idx - q->last_avail);
	}
	if (!pending)
		return 0;
	if (pending > q->size)
		return virtq_break(q);  /* the driver cannot have that many */

	/* Ring entries and descriptors after avail->idx */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);

	head = ld16(r.avail + AVAIL_RING(q->last_avail & (q->size - 1)));
	if (head >= q->size)
		return virtq_break(q);
	if (!chain_walk(q, &r, head, req))
		return virtq_break(q);

	q->last_avail++;
	if (q->event_idx)
		avail_event_set(q, &r);
	return 1;
}

int virtq_push_many(struct virtq *q, const uint16_t *head, const uint32_t *len,
		    unsigned n)
{
	struct rings r;

	if (q->broken)
		return -1;
	if (!rings_get(q, &r) || n > q->size)
		return virtq_break(q);
	for (unsigned i = 0; i < n; i++)
		if (head[i] >= q->size)
			return virtq_break(q);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *elem = r.used + USED_RING((uint16_t)(q->used_idx + i) & (q->size - 1));

		st32(elem, head[i]);
		st32(elem + 4, len[i]);
	}
	/* The elements before the index that publishes them, all at once */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx += n;
	st16(r.used + USED_IDX, q->used_idx);
	mark_pushed(q, &r, head, n);
	return 0;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	return virtq_push_many(q, &head, &len, 1);
}

bool virtq_should_notify(struct virtq *q)
{
	struct rings r;
	uint16_t old, new, event;
	bool valid;

	/* Cannot tell: a spurious interrupt is harmless, a lost one hangs
	 * the guest. */
	if (!rings_get(q, &r))
		return true;

	/* Our used->idx store before the driver's flags / used_event */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	if (!q->event_idx)
		return !(ld16(r.avail + AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	old = q->signalled_used;
	valid = q->signalled_valid;
	new = q->used_idx;
	q->signalled_used = new;
	q->signalled_valid = true;
	if (!valid)
		return true;

	/* Notify when used_event lies in [old, new): the driver asked to be
	 * interrupted once that entry is used. */
	event = ld16(r.avail + AVAIL_RING(q->size));
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

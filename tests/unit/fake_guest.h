/* The guest's half of a split virtqueue (virtio 1.x, 2.7) over fake guest
 * memory, for the tests that drive a device the way a guest driver would:
 * little-endian accessors on guest RAM, descriptors, the avail ring and the
 * used ring read back, all at the spec's offsets (not through the device
 * code's structs). Include after <cmocka.h>. */
#ifndef VESSEL_TEST_FAKE_GUEST_H
#define VESSEL_TEST_FAKE_GUEST_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/virtio/queue.h"

/* Spec constants, spelled out by the "driver" */
#define F_NEXT		1
#define F_WRITE		2
#define F_INDIRECT	4

/* ---- guest memory, little-endian; ram is guest-physical 0 ---- */

static inline void guest_put16(uint8_t *ram, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(ram + gpa, &v, 2);
}

static inline uint16_t guest_get16(const uint8_t *ram, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return le16toh(v);
}

static inline uint32_t guest_get32(const uint8_t *ram, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return le32toh(v);
}

/* size bytes of page-aligned fake RAM, not zero: a stray iovec or write into
 * "garbage" must show. NULL if out of memory. */
static inline uint8_t *guest_ram_new(size_t size)
{
	uint8_t *ram = aligned_alloc(4096, size);
	size_t done;

	if (!ram)
		return NULL;
	/* The pattern repeats every 256 bytes: one period, then copies of
	 * what is done (a byte loop over 16 MiB made test_restore_hostile,
	 * with hundreds of boards, take 25 s). */
	for (done = 0; done < size && done < 256; done++)
		ram[done] = (uint8_t)(done * 131 + 7);
	while (done < size) {
		size_t n = done < size - done ? done : size - done;

		memcpy(ram + done, ram, n);
		done += n;
	}
	return ram;
}

/* Descriptor i of the table at host address table */
static inline void desc_write(uint8_t *table, unsigned i, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = table + 16ULL * i;

	addr = htole64(addr);
	len = htole32(len);
	flags = htole16(flags);
	next = htole16(next);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* ---- the driver's side of one queue ---- */

struct drvq {
	uint8_t *ram;		/* guest RAM the rings live in */
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx;	/* the driver's next avail->idx */
	unsigned next_desc;	/* where drvq_chain() takes descriptors from */
};

/* One buffer of a chain: device-readable, or device-writable if write */
struct dbuf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Lay the queue out in ram with its rings zeroed and nothing posted */
static inline void drvq_init(struct drvq *d, uint8_t *ram, uint16_t size,
			     uint64_t desc, uint64_t avail, uint64_t used)
{
	*d = (struct drvq){ .ram = ram, .size = size, .desc = desc,
			    .avail = avail, .used = used };
	memset(ram + desc, 0, 16ULL * size);
	memset(ram + avail, 0, 6 + 2ULL * size);
	memset(ram + used, 0, 6 + 8ULL * size);
}

/* Program the device side q with d's layout over m, as the transport would
 * from the guest's writes; returns virtq_activate()'s result. */
static inline int drvq_enable(const struct drvq *d, struct virtq *q,
			      const struct gmem *m)
{
	q->size = d->size;
	q->desc_gpa = d->desc;
	q->avail_gpa = d->avail;
	q->used_gpa = d->used;
	q->mem = m;
	q->ready = true;
	return virtq_activate(q);
}

/* Descriptor i of the queue's own table */
static inline void drvq_desc(struct drvq *d, unsigned i, uint64_t addr,
			     uint32_t len, uint16_t flags, uint16_t next)
{
	desc_write(d->ram + d->desc, i, addr, len, flags, next);
}

/* Make head available: ring entry first, then avail->idx */
static inline void drvq_avail(struct drvq *d, uint16_t head)
{
	guest_put16(d->ram, d->avail + 4 + 2 * (d->avail_idx % d->size), head);
	d->avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	guest_put16(d->ram, d->avail + 2, d->avail_idx);
}

/* Chain the n buffers into the next free descriptors (in ring order) and
 * make the chain available; returns its head. */
static inline uint16_t drvq_chain(struct drvq *d, const struct dbuf *b,
				  unsigned n)
{
	uint16_t head = d->next_desc % d->size;

	for (unsigned i = 0; i < n; i++) {
		unsigned idx = (d->next_desc + i) % d->size;

		drvq_desc(d, idx, b[i].gpa, b[i].len,
			  (i + 1 < n ? F_NEXT : 0) | (b[i].write ? F_WRITE : 0),
			  (idx + 1) % d->size);
	}
	d->next_desc += n;
	drvq_avail(d, head);
	return head;
}

/* avail->used_event (VIRTIO_F_EVENT_IDX) */
static inline void drvq_set_used_event(struct drvq *d, uint16_t v)
{
	guest_put16(d->ram, d->avail + 4 + 2 * d->size, v);
}

static inline uint16_t drvq_used_idx(const struct drvq *d)
{
	uint16_t v = guest_get16(d->ram, d->used + 2);

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return v;
}

/* The used element at ring position slot (taken modulo the size) */
static inline uint32_t drvq_used_id(const struct drvq *d, unsigned slot)
{
	return guest_get32(d->ram, d->used + 4 + 8 * (slot % d->size));
}

static inline uint32_t drvq_used_len(const struct drvq *d, unsigned slot)
{
	return guest_get32(d->ram, d->used + 4 + 8 * (slot % d->size) + 4);
}

/* used->avail_event (VIRTIO_F_EVENT_IDX) */
static inline uint16_t drvq_avail_event(const struct drvq *d)
{
	return guest_get16(d->ram, d->used + 4 + 8 * d->size);
}

#endif

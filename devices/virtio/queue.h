/* The split virtqueue (virtio 1.x, section 2.7), written once and shared by
 * every device. The guest is hostile: every descriptor address and length is
 * checked against guest RAM through gmem_ptr(), chains are bounded by the
 * queue size, indirect tables are validated. A device sees iovecs, never
 * descriptors. */
#ifndef VESSEL_VIRTIO_QUEUE_H
#define VESSEL_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../vmm/memory.h"

#define VIRTQ_MAX_SIZE 1024     /* largest queue size vessel offers */

struct virtq {
	/* Set by the transport from the guest's programming */
	uint16_t size;          /* power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;
	bool event_idx;         /* VIRTIO_F_EVENT_IDX negotiated */
	const struct gmem *mem;
	/* Device-side state */
	uint16_t last_avail;    /* next avail index to consume */
	uint16_t used_idx;      /* shadow of used->idx */
	uint16_t signalled_used; /* used_idx when we last notified (EVENT_IDX) */
	bool signalled_valid;
	bool broken;            /* a malformed ring: the device needs reset */
};

/* One request: the chain's buffers split into device-readable ("out",
 * driver -> device) and device-writable ("in") iovecs, in chain order. */
#define VIRTQ_MAX_IOV VIRTQ_MAX_SIZE
struct virtq_req {
	uint16_t head;
	unsigned nout, nin;
	uint64_t out_len, in_len;       /* total bytes */
	struct iovec out[VIRTQ_MAX_IOV];
	struct iovec in[VIRTQ_MAX_IOV];
};

/* Called once the guest set the ring addresses and size; checks that the
 * three rings lie in guest RAM and are aligned. Returns -1 (and marks the
 * queue broken) when they do not. */
int virtq_activate(struct virtq *q);
void virtq_reset(struct virtq *q);

/* Take the next available chain into *req. Returns 1 for a request, 0 when
 * the ring is empty, -1 when the ring or the chain is malformed: then the
 * queue is marked broken and *req is unusable. A readable buffer after a
 * writable one, a loop, a chain longer than the queue, an address outside
 * RAM, a bad indirect table: all -1. */
int virtq_pop(struct virtq *q, struct virtq_req *req);

/* Return a chain to the guest with `len` bytes written into its in-buffers. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* Return n (<= size) chains at once: the driver sees all or none of them
 * (a merged receive buffer is one packet in several chains). */
int virtq_push_many(struct virtq *q, const uint16_t *head, const uint32_t *len,
		    unsigned n);

/* After one or more pushes: should the guest be interrupted? (Honours
 * VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX.) */
bool virtq_should_notify(struct virtq *q);

/* Copy helpers across an iovec list (bounded by the list's total). */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);

#endif

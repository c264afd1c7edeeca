/* virtio-blk requests (virtio 1.2, 5.2.6) taken apart and checked, with no
 * side effect: what to do, where, and which status byte gets the answer.
 * The chain comes from a hostile guest; only its iovecs are used (they are
 * already checked to lie in guest RAM). */
#ifndef VESSEL_BLOCK_REQUEST_H
#define VESSEL_BLOCK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend.h"
#include "../virtio/queue.h"

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE  512

/* Request types */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* Status byte */
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_HDR_SIZE 16          /* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_SEG_SIZE 16          /* le64 sector, le32 num_sectors, le32 flags */
#define VIRTIO_BLK_WZ_F_UNMAP 1

/* What the device offers, and so checks */
struct blk_limits {
	uint64_t capacity;              /* sectors */
	bool readonly;
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_discard_seg;       /* also for write zeroes */
};

enum blk_verdict {
	BLK_MALFORMED,  /* no writable byte for the status: break the device */
	BLK_COMPLETE,   /* answer now with r->status_code */
	BLK_GET_ID,     /* write the id into r->iov, answer OK */
	BLK_SUBMIT,     /* r->io goes to the backend */
};

struct blk_req {
	uint16_t head;
	uint8_t *status;                /* host pointer to the status byte */
	uint32_t used_len;              /* for the used ring */
	uint8_t status_code;            /* BLK_COMPLETE */
	struct blk_io io;               /* BLK_SUBMIT; iov also for GET_ID */
};

/* Parse vr. Data iovecs (the buffers between the header and the status
 * byte, at most VIRTQ_MAX_IOV) are written into iov[], which r->io.iov
 * then points to. */
enum blk_verdict blk_parse(const struct virtq_req *vr,
			   const struct blk_limits *lim, struct iovec *iov,
			   struct blk_req *r);

/* The 20-byte serial: "vessel-<name>-<index>", the name shortened (and
 * restricted to [A-Za-z0-9._-]) so the index always fits; NUL-padded. */
void blk_make_id(char id[VIRTIO_BLK_ID_BYTES], const char *name, unsigned index);
/* GET_ID: copy the id into the request's buffer, truncated to it. Returns
 * the bytes written. */
size_t blk_put_id(const struct blk_req *r, const char id[VIRTIO_BLK_ID_BYTES]);

#endif

/* virtio-blk request parsing: header, data, status byte, discard and
 * write-zeroes segments. Every length and sector is checked here, with
 * 64-bit arithmetic that cannot overflow, before anything touches the
 * image. */
#include "request.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>

/* The bytes [off, off + len) of an iovec list, as a new list in dst (which
 * has room for n entries: the slice is never longer than the source). */
static unsigned iov_slice(const struct iovec *src, unsigned n, uint64_t off,
			  uint64_t len, struct iovec *dst)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[k].iov_len = (size_t)l;
		k++;
		len -= l;
		off = 0;
	}
	return k;
}

/* [sector, sector + bytes / 512) within the disk; bytes is a multiple of
 * 512. Written so that nothing overflows whatever the guest sends. */
static bool range_ok(const struct blk_limits *lim, uint64_t sector,
		     uint64_t bytes)
{
	return sector <= lim->capacity &&
	       (bytes >> BLK_SECTOR_SHIFT) <= lim->capacity - sector;
}

static enum blk_verdict complete(struct blk_req *r, uint8_t code)
{
	r->status_code = code;
	return BLK_COMPLETE;
}

static enum blk_verdict parse_rw(const struct virtq_req *vr,
				 const struct blk_limits *lim, bool write,
				 uint64_t sector, struct iovec *iov,
				 struct blk_req *r)
{
	uint64_t len;

	if (write) {
		if (lim->readonly)
			return complete(r, VIRTIO_BLK_S_IOERR);
		len = vr->out_len - VIRTIO_BLK_HDR_SIZE;
		r->io.niov = iov_slice(vr->out, vr->nout, VIRTIO_BLK_HDR_SIZE,
				       len, iov);
	} else {
		len = vr->in_len - 1;
		r->io.niov = iov_slice(vr->in, vr->nin, 0, len, iov);
	}
	if (len % BLK_SECTOR_SIZE || !range_ok(lim, sector, len))
		return complete(r, VIRTIO_BLK_S_IOERR);
	if (!len)
		return complete(r, VIRTIO_BLK_S_OK);
	r->io.op = write ? BLK_OP_WRITE : BLK_OP_READ;
	r->io.offset = sector << BLK_SECTOR_SHIFT;
	r->io.len = len;
	return BLK_SUBMIT;
}

/* One segment (we offer max_discard_seg 1) after the header. */
static enum blk_verdict parse_ranges(const struct virtq_req *vr,
				     const struct blk_limits *lim, bool discard,
				     struct blk_req *r)
{
	uint64_t bytes = vr->out_len - VIRTIO_BLK_HDR_SIZE;
	uint32_t max = discard ? lim->max_discard_sectors :
				 lim->max_write_zeroes_sectors;
	struct {
		uint64_t sector;
		uint32_t num_sectors;
		uint32_t flags;
	} seg;
	uint64_t sector;
	uint32_t num, flags;

	_Static_assert(sizeof(seg) == VIRTIO_BLK_SEG_SIZE, "segment layout");
	if (lim->readonly)
		return complete(r, VIRTIO_BLK_S_IOERR);
	if (!bytes || bytes % VIRTIO_BLK_SEG_SIZE ||
	    bytes / VIRTIO_BLK_SEG_SIZE > lim->max_discard_seg)
		return complete(r, VIRTIO_BLK_S_IOERR);
	if (iov_to_buf(vr->out, vr->nout, VIRTIO_BLK_HDR_SIZE, &seg,
		       sizeof(seg)) != sizeof(seg))
		return complete(r, VIRTIO_BLK_S_IOERR);
	sector = le64toh(seg.sector);
	num = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	/* Unknown flags, and unmap on a discard, are for the spec to say */
	if (flags & ~(uint32_t)VIRTIO_BLK_WZ_F_UNMAP ||
	    (discard && (flags & VIRTIO_BLK_WZ_F_UNMAP)))
		return complete(r, VIRTIO_BLK_S_UNSUPP);
	if (num > max || !range_ok(lim, sector, (uint64_t)num << BLK_SECTOR_SHIFT))
		return complete(r, VIRTIO_BLK_S_IOERR);
	if (!num)
		return complete(r, VIRTIO_BLK_S_OK);
	r->io.op = discard ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES;
	r->io.offset = sector << BLK_SECTOR_SHIFT;
	r->io.len = (uint64_t)num << BLK_SECTOR_SHIFT;
	r->io.unmap = flags & VIRTIO_BLK_WZ_F_UNMAP;
	return BLK_SUBMIT;
}

enum blk_verdict blk_parse(const struct virtq_req *vr,
			   const struct blk_limits *lim, struct iovec *iov,
			   struct blk_req *r)
{
	const struct iovec *last;
	struct {
		uint32_t type;
		uint32_t reserved;
		uint64_t sector;
	} hdr;
	uint64_t sector;

	_Static_assert(sizeof(hdr) == VIRTIO_BLK_HDR_SIZE, "header layout");
	memset(r, 0, sizeof(*r));
	r->head = vr->head;
	r->io.iov = iov;
	/* The status is the last writable byte; without one there is no way
	 * to answer at all. (Zero-length buffers make no iovec.) */
	if (!vr->in_len || !vr->nin || !vr->in[vr->nin - 1].iov_len)
		return BLK_MALFORMED;
	last = &vr->in[vr->nin - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used_len = vr->in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)vr->in_len;

	/* The header may be split anywhere across the readable buffers */
	if (vr->out_len < VIRTIO_BLK_HDR_SIZE ||
	    iov_to_buf(vr->out, vr->nout, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return complete(r, VIRTIO_BLK_S_IOERR);
	sector = le64toh(hdr.sector);

	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		return parse_rw(vr, lim, false, sector, iov, r);
	case VIRTIO_BLK_T_OUT:
		return parse_rw(vr, lim, true, sector, iov, r);
	case VIRTIO_BLK_T_FLUSH:
		if (lim->readonly)
			return complete(r, VIRTIO_BLK_S_OK);    /* nothing to flush */
		r->io.op = BLK_OP_FLUSH;
		return BLK_SUBMIT;
	case VIRTIO_BLK_T_GET_ID:
		r->io.niov = iov_slice(vr->in, vr->nin, 0, vr->in_len - 1, iov);
		r->status_code = VIRTIO_BLK_S_OK;
		return BLK_GET_ID;
	case VIRTIO_BLK_T_DISCARD:
		return parse_ranges(vr, lim, true, r);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_ranges(vr, lim, false, r);
	default:
		return complete(r, VIRTIO_BLK_S_UNSUPP);
	}
}

void blk_make_id(char id[VIRTIO_BLK_ID_BYTES], const char *name, unsigned index)
{
	char buf[VIRTIO_BLK_ID_BYTES + 1];
	char suffix[16];
	size_t room, n = 0;
	int len;

	len = snprintf(suffix, sizeof(suffix), "-%u", index);
	memcpy(buf, "vessel", 6);
	n = 6;
	/* "vessel" + "-" + name + suffix, the name cut to what is left */
	room = VIRTIO_BLK_ID_BYTES - n - (size_t)len;
	if (name && *name && room > 1) {
		buf[n++] = '-';
		room--;
		for (size_t i = 0; name[i] && i < room; i++) {
			char c = name[i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '.' || c == '_' ||
				  c == '-';

			buf[n++] = ok ? c : '_';
		}
	}
	memcpy(buf + n, suffix, (size_t)len);
	n += (size_t)len;
	memset(id, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(id, buf, n);
}

size_t blk_put_id(const struct blk_req *r, const char id[VIRTIO_BLK_ID_BYTES])
{
	return iov_from_buf(r->io.iov, r->io.niov, 0, id, VIRTIO_BLK_ID_BYTES);
}

/* libFuzzer target: virtio-blk request parsing (devices/block/request.c),
 * what a hostile guest's chain becomes before anything touches the image.
 * The input:
 *   byte 0      nout (0..63), the readable buffers;
 *   byte 1      nin (0..63), the writable buffers;
 *   byte 2      bit 0 read-only disk;
 *   byte 3      max segments for discard and write zeroes (0..3);
 *   bytes 4-11  capacity in sectors (u64; a few values near 2^64 too);
 *   bytes 12-15 max discard sectors, bytes 16-19 max write-zeroes sectors;
 *   then a u16 length for each buffer, out then in (1 + it % 8192: the
 *               queue makes no iovec of zero bytes);
 *   the rest    the readable buffers' bytes, one after another (the header
 *               split wherever the lengths put it), zero-padded.
 * What it checks beyond the sanitizers: the status byte is the last
 * writable byte; a submitted read or write covers whole sectors inside
 * the disk, with data iovecs that are exactly io.len bytes of the
 * request's own buffers (a read's never the status byte); discard and write zeroes stay within the disk and the
 * limits; nothing is submitted to a read-only disk but a flush-free read;
 * GET_ID writes at most 20 bytes, inside the buffers, before the status. */
#include <stdlib.h>
#include <string.h>

#include "../../devices/block/request.h"

#define MAX_BUF 63

struct cursor {
	const uint8_t *p;
	size_t n;
};

static bool take(struct cursor *c, void *dst, size_t n)
{
	if (c->n < n)
		return false;
	memcpy(dst, c->p, n);
	c->p += n;
	c->n -= n;
	return true;
}

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

/* [p, p + n) inside one of v[0..k) */
static bool inside(const struct iovec *v, unsigned k, const uint8_t *p, size_t n)
{
	for (unsigned i = 0; i < k; i++) {
		const uint8_t *b = v[i].iov_base;

		if (p >= b && n <= v[i].iov_len && (size_t)(p - b) <= v[i].iov_len - n)
			return true;
	}
	return false;
}

static void check_data(const struct virtq_req *vr, const struct blk_req *r,
		       bool write)
{
	uint64_t sum = 0;

	trap_unless(r->io.len % BLK_SECTOR_SIZE == 0 && r->io.len > 0);
	trap_unless(r->io.niov <= VIRTQ_MAX_IOV);
	for (unsigned i = 0; i < r->io.niov; i++) {
		const uint8_t *b = r->io.iov[i].iov_base;
		size_t n = r->io.iov[i].iov_len;

		sum += n;
		trap_unless(write ? inside(vr->out, vr->nout, b, n) :
				    inside(vr->in, vr->nin, b, n));
		/* never the status byte */
		trap_unless(write || !(r->status >= b && r->status < b + n));
	}
	trap_unless(sum == r->io.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_req vr;
	static struct iovec iov[VIRTQ_MAX_IOV];
	struct cursor in = { data, size };
	struct blk_limits lim;
	struct blk_req r;
	uint8_t *out_mem = NULL, *in_mem = NULL, hdr[2];
	uint16_t lens[2 * MAX_BUF];
	size_t out_total = 0, in_total = 0, off;
	uint64_t cap;
	uint32_t mx[2];
	enum blk_verdict v;

	if (!take(&in, hdr, 2))
		return 0;
	memset(&vr, 0, sizeof(vr));
	vr.nout = hdr[0] % (MAX_BUF + 1);
	vr.nin = hdr[1] % (MAX_BUF + 1);
	memset(&lim, 0, sizeof(lim));
	if (!take(&in, hdr, 2) || !take(&in, &cap, 8) ||
	    !take(&in, mx, 8))
		return 0;
	lim.readonly = hdr[0] & 1;
	lim.max_discard_seg = hdr[1] % 4;
	lim.capacity = cap >> 60 == 0xf ? UINT64_MAX - (cap & 0xff) : cap;
	lim.max_discard_sectors = mx[0];
	lim.max_write_zeroes_sectors = mx[1];
	for (unsigned i = 0; i < vr.nout + vr.nin; i++) {
		if (!take(&in, &lens[i], 2))
			return 0;
		lens[i] = 1 + lens[i] % 8192;   /* the queue makes no empty iovec */
		*(i < vr.nout ? &out_total : &in_total) += lens[i];
	}
	/* The readable buffers back to back in one allocation, the writable
	 * in another, each exactly its size: ASan sees a step past either. */
	out_mem = malloc(out_total ? out_total : 1);
	in_mem = malloc(in_total ? in_total : 1);
	if (!out_mem || !in_mem)
		goto out;
	memset(out_mem, 0, out_total ? out_total : 1);
	memcpy(out_mem, in.p, in.n < out_total ? in.n : out_total);
	memset(in_mem, 0x5a, in_total ? in_total : 1);
	off = 0;
	for (unsigned i = 0; i < vr.nout; i++) {
		vr.out[i] = (struct iovec){ out_mem + off, lens[i] };
		vr.out_len += lens[i];
		off += lens[i];
	}
	off = 0;
	for (unsigned i = 0; i < vr.nin; i++) {
		vr.in[i] = (struct iovec){ in_mem + off, lens[vr.nout + i] };
		vr.in_len += lens[vr.nout + i];
		off += lens[vr.nout + i];
	}
	v = blk_parse(&vr, &lim, iov, &r);
	if (v == BLK_MALFORMED)
		goto out;
	/* the status: the last writable byte */
	trap_unless(vr.in_len > 0 && r.status == in_mem + in_total - 1);
	switch (v) {
	case BLK_SUBMIT:
		switch (r.io.op) {
		case BLK_OP_READ:
		case BLK_OP_WRITE:
			trap_unless(!(lim.readonly && r.io.op == BLK_OP_WRITE));
			check_data(&vr, &r, r.io.op == BLK_OP_WRITE);
			break;
		case BLK_OP_DISCARD:
		case BLK_OP_WRITE_ZEROES:
			trap_unless(!lim.readonly && r.io.len > 0 &&
				    r.io.len % BLK_SECTOR_SIZE == 0);
			trap_unless((r.io.len >> BLK_SECTOR_SHIFT) <=
				    (r.io.op == BLK_OP_DISCARD ? lim.max_discard_sectors :
				     lim.max_write_zeroes_sectors));
			break;
		case BLK_OP_FLUSH:
			trap_unless(!lim.readonly);
			break;
		default:
			trap_unless(false);
		}
		if (r.io.op != BLK_OP_FLUSH)
			trap_unless(r.io.offset % BLK_SECTOR_SIZE == 0 &&
				    r.io.offset >> BLK_SECTOR_SHIFT <= lim.capacity &&
				    r.io.len >> BLK_SECTOR_SHIFT <=
				    lim.capacity - (r.io.offset >> BLK_SECTOR_SHIFT));
		break;
	case BLK_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES];
		size_t n;

		blk_make_id(id, "fuzz", 0);
		n = blk_put_id(&r, id);
		trap_unless(n <= VIRTIO_BLK_ID_BYTES && n <= vr.in_len - 1);
		trap_unless(*r.status == 0x5a);         /* not written over */
		break;
	}
	case BLK_COMPLETE:
		trap_unless(r.status_code == VIRTIO_BLK_S_OK ||
			    r.status_code == VIRTIO_BLK_S_IOERR ||
			    r.status_code == VIRTIO_BLK_S_UNSUPP);
		break;
	default:
		trap_unless(false);
	}
out:
	free(out_mem);
	free(in_mem);
	return 0;
}

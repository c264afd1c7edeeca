/* libFuzzer target: the virtio-pci transport's restore (virtio_pci_load),
 * a parser of untrusted state. A device (two queues, MSI-X) is created on
 * a board without KVM for each input and loads a section built from it:
 *   byte 0 even: the rest is the section's payload as it is;
 *   byte 0 odd:  the rest is XORed over the payload saved from a device a
 *                driver set up (queues enabled, vectors programmed), so the
 *                fuzzer reaches the checks past the config-space bytes.
 * Loading must succeed or fail with a bad-input message; either way the
 * device must then resume, serve a guest's register reads and be freed. */
#include "../../devices/virtio/pci.c"

#include <stdlib.h>

#include "../../boot/layout.h"
#include "../lib/board.h"

#define RAM (1u << 20)

struct fz {
	struct board b;
	struct virtio_dev *d;
};

static void fz_notify(struct virtio_dev *d, unsigned q)
{
	(void)d;
	(void)q;
}

static void fz_config_read(struct virtio_dev *d, unsigned off, uint8_t *data,
			   unsigned len)
{
	(void)d;
	(void)off;
	memset(data, 0, len);
}

static const struct virtio_ops fz_ops = {
	.name = "virtio-fuzz", .device_id = 4, .class_code = 0x00ff00,
	.nqueues = 2, .queue_size = 256, .features = 1ULL << 5,
	.config_read = fz_config_read, .config_size = 8,
	.queue_notify = fz_notify,
};

static int fz_open(struct fz *z)
{
	struct error err;

	if (board_init(&z->b, calloc(1, RAM), RAM, "fuzz", &err) < 0)
		return -1;
	return virtio_pci_create(&z->b.env, &fz_ops, NULL, &z->d, &err);
}

static void fz_close(struct fz *z)
{
	virtio_pci_destroy(z->d);
	board_close(&z->b);
}

static void bar_w(struct fz *z, uint64_t off, uint32_t v, unsigned len)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	bus_dispatch(&z->b.mmio, to_vp(z->d)->func.bar[0].mapped_at + off, d, len, true);
}

/* A driver's set-up: features, both queues, vectors, MSI-X on */
static void drive(struct fz *z)
{
	struct virtio_pci *vp = to_vp(z->d);

	bar_w(z, 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER, 1);
	bar_w(z, 0x08, 1, 4);
	bar_w(z, 0x0c, 1, 4);
	bar_w(z, 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	      VIRTIO_STATUS_FEATURES_OK, 1);
	for (unsigned q = 0; q < 2; q++) {
		bar_w(z, 0x16, q, 2);
		bar_w(z, 0x18, 64, 2);
		bar_w(z, 0x1a, q + 1, 2);
		bar_w(z, 0x20, 0x10000 + q * 0x4000, 4);
		bar_w(z, 0x28, 0x11000 + q * 0x4000, 4);
		bar_w(z, 0x30, 0x12000 + q * 0x4000, 4);
		bar_w(z, 0x1c, 1, 2);
	}
	bar_w(z, 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
	for (unsigned v = 0; v < 3; v++) {
		bar_w(z, MSIX_TABLE_OFF + 16 * v, 0xfee00000, 4);
		bar_w(z, MSIX_TABLE_OFF + 16 * v + 8, 0x40 + v, 4);
		bar_w(z, MSIX_TABLE_OFF + 16 * v + 12, v == 2, 4);
	}
	vp->func.cfg[vp->msix_cap + 3] |= 0x80;
}

/* The payload a driven device saves (computed once) */
static uint8_t *valid;
static size_t valid_len;

static void make_valid(void)
{
	struct fz g;
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err;

	if (fz_open(&g) < 0)
		__builtin_trap();
	drive(&g);
	vmstate_writer_init(&w);
	vmstate_begin(&w, "virtio-fuzz", 1);
	virtio_pci_save(g.d, &w);
	vmstate_end(&w);
	if (vmstate_finish(&w, &err) < 0 ||
	    vmstate_open(&r, w.buf, w.len, &err) < 0 ||
	    vmstate_find(&r, "virtio-fuzz", &s, &err) < 0)
		__builtin_trap();
	valid = malloc(s.len);
	if (!valid)
		__builtin_trap();
	memcpy(valid, s.data, s.len);
	valid_len = s.len;
	/* and it loads */
	s.pos = 0;
	fz_close(&g);
	if (fz_open(&g) < 0 || virtio_pci_load(g.d, &s, &err) < 0)
		__builtin_trap();
	fz_close(&g);
	vmstate_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z;
	struct vmstate_section s;
	struct error err;
	uint8_t *p;
	size_t len;

	if (size < 1)
		return 0;
	if (!valid)
		make_valid();
	len = data[0] & 1 ? valid_len : size - 1;
	p = malloc(len ? len : 1);
	if (!p)
		return 0;
	if (data[0] & 1) {
		memcpy(p, valid, len);
		for (size_t i = 1; i < size && i - 1 < len; i++)
			p[i - 1] ^= data[i];
		/* bytes past the payload: trailing garbage the device sees */
	} else {
		memcpy(p, data + 1, len);
	}
	if (fz_open(&z) < 0)
		__builtin_trap();
	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "virtio-fuzz");
	s.version = 1;
	s.data = p;
	s.len = len;
	err.msg[0] = 0;
	if (virtio_pci_load(z.d, &s, &err) < 0 && (!err.msg[0] || !err.input))
		__builtin_trap();       /* a refusal says why, as bad input */
	if (virtio_pci_resume(z.d, &err) < 0)
		__builtin_trap();
	/* The guest looks at what was loaded */
	for (unsigned q = 0; q < 2; q++) {
		uint8_t d[4];

		bar_w(&z, 0x16, q, 2);
		for (unsigned off = 0; off < 0x38; off += 4)
			bus_dispatch(&z.b.mmio, to_vp(z.d)->func.bar[0].mapped_at + off,
				     d, 4, false);
	}
	fz_close(&z);
	free(p);
	return 0;
}

/* tests/lib/board.h for the unit tests that drive a whole virtio-pci
 * device the way a guest would, with its event loop running: a test kicks
 * a queue through the notify BAR (on its own thread, as a vCPU would) or
 * by writing the queue's notify eventfd (as KVM would). Include after
 * <cmocka.h> and fake_guest.h. */
#ifndef VESSEL_TEST_FAKE_BOARD_H
#define VESSEL_TEST_FAKE_BOARD_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "../../boot/layout.h"
#include "../../devices/device.h"
#include "../../devices/pci.h"
#include "../../devices/virtio/virtio.h"
#include "../lib/board.h"

/* board_open with RAM as given (owned by the board from then on) */
static inline void board_open_ram(struct board *b, uint8_t *ram, size_t ram_size)
{
	struct error err;

	assert_non_null(ram);
	assert_int_equal(board_init(b, ram, ram_size, "boardtest", &err), 0);
	assert_int_equal(loop_start(&b->loop, &err), 0);
}

/* A board whose RAM holds guest_ram_new's pattern */
static inline void board_open(struct board *b, size_t ram_size)
{
	board_open_ram(b, guest_ram_new(ram_size), ram_size);
}

/* A board whose RAM is untouched zeros (pages come only when used): for
 * tests that open hundreds of boards and read little of their RAM. */
static inline void board_open_blank(struct board *b, size_t ram_size)
{
	board_open_ram(b, calloc(1, ram_size), ram_size);
}

/* The device ops registered under name (the test includes its file) */
static inline const struct device_ops *board_device(const char *name)
{
	for_each_device(d)
		if (!strcmp((*d)->name, name))
			return *d;
	fail_msg("no device %s", name);
	return NULL;
}

/* ---- one PCI function: config space through ECAM, BAR0 on the bus ---- */

struct bfunc {
	struct board *b;
	unsigned slot;
	uint64_t bar;           /* BAR0 as placed */
	unsigned msix_cap;      /* config offset of the MSI-X capability */
};

static inline uint64_t bf_cfg_addr(const struct bfunc *f, unsigned off)
{
	return PCI_ECAM_BASE + ((uint64_t)f->slot << 15) + off;
}

static inline uint32_t bf_cfg_read(struct bfunc *f, unsigned off, unsigned len)
{
	uint8_t d[4] = { 0 };
	uint32_t v;

	assert_true(bus_dispatch(&f->b->mmio, bf_cfg_addr(f, off), d, len, false));
	memcpy(&v, d, 4);
	return le32toh(v);
}

static inline void bf_cfg_write(struct bfunc *f, unsigned off, uint32_t v,
				unsigned len)
{
	uint8_t d[4];

	v = htole32(v);
	memcpy(d, &v, 4);
	assert_true(bus_dispatch(&f->b->mmio, bf_cfg_addr(f, off), d, len, true));
}

static inline void bf_write(struct bfunc *f, uint64_t off, uint64_t v,
			    unsigned len)
{
	uint8_t d[8];

	v = htole64(v);
	memcpy(d, &v, 8);
	assert_true(bus_dispatch(&f->b->mmio, f->bar + off, d, len, true));
}

static inline uint64_t bf_read(struct bfunc *f, uint64_t off, unsigned len)
{
	uint8_t d[8] = { 0 };
	uint64_t v;

	assert_true(bus_dispatch(&f->b->mmio, f->bar + off, d, len, false));
	memcpy(&v, d, 8);
	return le64toh(v);
}

/* The function in slot (the host bridge is slot 0) */
static inline void bf_find(struct bfunc *f, struct board *b, unsigned slot)
{
	unsigned cap;

	memset(f, 0, sizeof(*f));
	f->b = b;
	f->slot = slot;
	assert_non_null(b->pci.slot[slot]);
	f->bar = bf_cfg_read(f, PCI_BAR0, 4) & ~0xfULL;
	assert_true(f->bar != 0);
	for (cap = bf_cfg_read(f, PCI_CAP_PTR, 1); cap; cap = bf_cfg_read(f, cap + 1, 1))
		if (bf_cfg_read(f, cap, 1) == 0x11)
			f->msix_cap = cap;
	assert_true(f->msix_cap != 0);
}

/* MSI-X message control: enable and function mask */
static inline void bf_msix_control(struct bfunc *f, bool enable, bool fmask)
{
	bf_cfg_write(f, f->msix_cap + 2, (enable ? 0x8000 : 0) |
		     (fmask ? 0x4000 : 0), 2);
}

/* ---- the virtio driver's side (modern common config in BAR0) ---- */

#define VIRTIO_MSIX_TABLE 0x4000
#define VIRTIO_NOTIFY     0x3000

/* ACK, DRIVER, VERSION_1 only, FEATURES_OK */
static inline void vdrv_begin(struct bfunc *f)
{
	bf_write(f, 0x14, 0, 1);
	bf_write(f, 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER, 1);
	bf_write(f, 0x08, 0, 4);
	bf_write(f, 0x0c, 0, 4);
	bf_write(f, 0x08, 1, 4);
	bf_write(f, 0x0c, 1, 4);                /* bit 32: VERSION_1 */
	bf_write(f, 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
		 VIRTIO_STATUS_FEATURES_OK, 1);
	assert_true(bf_read(f, 0x14, 1) & VIRTIO_STATUS_FEATURES_OK);
}

/* Queue q over d's rings, interrupting at MSI-X vector vec */
static inline void vdrv_queue(struct bfunc *f, unsigned q,
			      const struct drvq *d, uint16_t vec)
{
	bf_write(f, 0x16, q, 2);
	bf_write(f, 0x18, d->size, 2);
	assert_int_equal(bf_read(f, 0x18, 2), d->size);
	bf_write(f, 0x1a, vec, 2);
	bf_write(f, 0x20, d->desc, 4);
	bf_write(f, 0x24, 0, 4);
	bf_write(f, 0x28, d->avail, 4);
	bf_write(f, 0x2c, 0, 4);
	bf_write(f, 0x30, d->used, 4);
	bf_write(f, 0x34, 0, 4);
	bf_write(f, 0x1c, 1, 2);
	assert_int_equal(bf_read(f, 0x1c, 2), 1);
}

static inline void vdrv_ready(struct bfunc *f)
{
	bf_write(f, 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
		 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
}

/* The guest kicks queue q (a BAR write, on this thread) */
static inline void vdrv_kick(struct bfunc *f, unsigned q)
{
	bf_write(f, VIRTIO_NOTIFY + 4 * q, q, 2);
}

/* MSI-X table entry v, one dword at a time as Linux writes it */
static inline void vdrv_msix_write(struct bfunc *f, unsigned v, unsigned field,
				   uint32_t val)
{
	bf_write(f, VIRTIO_MSIX_TABLE + 16 * v + 4 * field, val, 4);
}

#endif

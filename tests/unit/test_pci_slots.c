/* The guest's PCI topology comes from the definition, not from the order
 * device files are linked or registered in: pci_add_at() puts a function
 * in the slot it is given and its BARs in that slot's own window; the
 * virtio devices take the slots config_assign_slots() gave them, whatever
 * order they are created in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unlink_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The device files themselves, for their registration */
#include "../../devices/virtio/rng.c"
#include "../../devices/virtio/blk.c"

#include "fake_guest.h"
#include "fake_board.h"
#include "../../tools/config.h"
#include "../../vmm/machine/machine.h"

#define MiB     (1ULL << 20)
#define WINDOW  (PCI_MMIO_SIZE / PCI_SLOTS)

_Static_assert(PCI_SLOTS == VM_PCI_SLOTS, "config and PCI agree on the bus");

/* What the guest reads from slot's config space: vendor/device, BAR0. */
static uint32_t cfg_read(struct board *b, unsigned slot, unsigned off)
{
	struct bfunc f = { .b = b, .slot = slot };

	return bf_cfg_read(&f, off, 4);
}

static void func_with_bar(struct pci_func *f, const char *name, uint32_t bar)
{
	memset(f, 0, sizeof(*f));
	pci_func_init(f, name, 0x1af4, 0x1000, 0xff0000, 0);
	f->bar[0].size = bar;
}

static void bar_handler(void *opaque, uint64_t off, uint8_t *data,
			unsigned len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0xab, len);
}

/* pci_add_at: the slot asked for, BARs in the slot's window, errors for
 * a taken or missing slot and for BARs too big for a window. */
static void test_add_at(void **state)
{
	struct pci_func a, c, d, e, big;
	struct board b;
	struct error err;
	uint8_t byte;

	(void)state;
	board_open(&b, 1 * MiB);
	func_with_bar(&a, "a", 0x8000);
	func_with_bar(&c, "c", 0x4000);
	func_with_bar(&d, "d", 0x8000);
	func_with_bar(&e, "e", 0x8000);
	func_with_bar(&big, "big", 2 * WINDOW);
	a.bar[0].fn = bar_handler;
	assert_int_equal(pci_add_at(&b.pci, &a, 7, &err), 0);
	assert_int_equal(a.slot, 7);
	assert_ptr_equal(b.pci.slot[7], &a);
	assert_int_equal(cfg_read(&b, 7, PCI_VENDOR_ID), 0x10001af4);
	assert_int_equal(cfg_read(&b, 7, PCI_BAR0), PCI_MMIO_START + 7 * WINDOW);
	/* The BAR is on the bus where the guest reads it. */
	assert_true(bus_dispatch(&b.mmio, PCI_MMIO_START + 7 * WINDOW, &byte, 1,
				 false));
	assert_int_equal(byte, 0xab);
	/* 0: the lowest free slot; the BAR still follows the slot. */
	assert_int_equal(pci_add_at(&b.pci, &c, 0, &err), 0);
	assert_int_equal(c.slot, 1);
	assert_int_equal(cfg_read(&b, 1, PCI_BAR0), PCI_MMIO_START + 1 * WINDOW);
	assert_int_equal(pci_add(&b.pci, &d, &err), 0);
	assert_int_equal(d.slot, 2);
	/* Taken, the host bridge's, or past the bus: an error, nothing moves. */
	assert_int_equal(pci_add_at(&b.pci, &e, 7, &err), -1);
	assert_string_equal(err.msg, "e: PCI slot 7 is taken by a");
	assert_int_equal(pci_add_at(&b.pci, &e, 32, &err), -1);
	assert_string_equal(err.msg, "e: no PCI slot 32 (bus 0 has 1 to 31)");
	assert_int_equal(pci_add_at(&b.pci, &e, UINT32_MAX, &err), -1);
	assert_int_equal(pci_add_at(&b.pci, &big, 9, &err), -1);
	assert_non_null(strstr(err.msg, "BARs larger than"));
	assert_null(b.pci.slot[9]);
	assert_ptr_equal(b.pci.slot[7], &a);
	/* The last slot's window ends where the MMIO window does. */
	assert_int_equal(pci_add_at(&b.pci, &e, 31, &err), 0);
	assert_true(PCI_MMIO_START + 31 * WINDOW + 0x8000 <=
		    PCI_MMIO_START + PCI_MMIO_SIZE);
	assert_int_equal(cfg_read(&b, 31, PCI_BAR0), PCI_MMIO_START + 31 * WINDOW);
	/* Nothing in slots never given out. */
	assert_int_equal(cfg_read(&b, 8, PCI_VENDOR_ID), 0xffffffff);
	pci_del(&b.pci, &a);
	pci_del(&b.pci, &c);
	pci_del(&b.pci, &d);
	pci_del(&b.pci, &e);
	assert_null(b.pci.slot[7]);
	board_close(&b);
}

struct seen {
	uint32_t id[PCI_SLOTS];         /* vendor/device; 0xffffffff: empty */
	uint32_t bar[PCI_SLOTS];
};

/* Create the named devices in this order on a fresh board from cfg and
 * record what a guest would find on the bus. */
static void boot_devices(const struct machine_spec *cfg, const char *const *order,
			 size_t n, struct seen *s)
{
	struct board b;
	void *st[4] = { NULL };
	struct error err;

	assert_true(n <= 4);
	board_open(&b, 1 * MiB);
	b.cfg = machine_devices_spec(cfg);
	b.cfg.name = "slots";
	for (size_t i = 0; i < n; i++) {
		const struct device_ops *ops = board_device(order[i]);

		if (ops->create(&b.env, &st[i], &err) < 0)
			fail_msg("%s: %s", order[i], err.msg);
	}
	for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
		s->id[slot] = cfg_read(&b, slot, PCI_VENDOR_ID);
		s->bar[slot] = cfg_read(&b, slot, PCI_BAR0);
	}
	for (size_t i = n; i-- > 0;)
		board_device(order[i])->destroy(st[i]);
	board_close(&b);
}

/* Two disks (the second asks for slot 7) and an rng: the same bus
 * whichever device is created first. */
static void test_devices_any_order(void **state)
{
	static const char *const blk_first[] = { "virtio-blk", "virtio-rng" };
	static const char *const rng_first[] = { "virtio-rng", "virtio-blk" };
	char p0[] = "/tmp/vessel-unit-slot-XXXXXX";
	char p1[] = "/tmp/vessel-unit-slot-XXXXXX";
	int f0 = mkstemp(p0), f1 = mkstemp(p1);
	struct disk_spec disks[2] = {
		{ .path = p0, .cache = DISK_CACHE_WRITEBACK },
		{ .path = p1, .cache = DISK_CACHE_WRITEBACK, .slot = 7 },
	};
	struct machine_spec cfg = { .disks = disks, .ndisks = 2, .rng = true };
	struct seen a, b;
	struct error err;

	(void)state;
	assert_true(f0 >= 0 && f1 >= 0);
	assert_int_equal(ftruncate(f0, 1 * MiB), 0);
	assert_int_equal(ftruncate(f1, 2 * MiB), 0);
	assert_int_equal(config_assign_slots(&cfg, &err), 0);
	assert_int_equal(disks[0].slot, 1);
	assert_int_equal(disks[1].slot, 7);
	assert_int_equal(cfg.rng_slot, 2);

	boot_devices(&cfg, blk_first, 2, &a);
	boot_devices(&cfg, rng_first, 2, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	/* And what the guest sees is what the definition says. */
	assert_int_equal(a.id[1], 0x10421af4);          /* virtio-blk */
	assert_int_equal(a.id[7], 0x10421af4);
	assert_int_equal(a.id[2], 0x10441af4);          /* virtio-rng */
	for (unsigned slot = 3; slot < PCI_SLOTS; slot++)
		if (slot != 7)
			assert_int_equal(a.id[slot], 0xffffffff);
	assert_int_equal(a.bar[7], PCI_MMIO_START + 7 * WINDOW);
	assert_int_equal(a.bar[2], PCI_MMIO_START + 2 * WINDOW);

	/* A disk asking for the rng's slot by hand: an error, not a crash. */
	cfg.rng_slot = 7;
	{
		struct board bd;
		void *st = NULL, *st2 = NULL;

		board_open(&bd, 1 * MiB);
		bd.cfg = machine_devices_spec(&cfg);
		bd.cfg.name = "slots";
		assert_int_equal(board_device("virtio-blk")->create(&bd.env, &st,
								    &err), 0);
		assert_int_equal(board_device("virtio-rng")->create(&bd.env, &st2,
								    &err), -1);
		assert_non_null(strstr(err.msg, "PCI slot 7 is taken"));
		board_device("virtio-blk")->destroy(st);
		board_close(&bd);
	}
	close(f0);
	close(f1);
	unlink_image(p0);
	unlink_image(p1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_at),
		cmocka_unit_test(test_devices_any_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

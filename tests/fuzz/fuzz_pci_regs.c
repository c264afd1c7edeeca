/* libFuzzer target: a hostile guest's register accesses to the PCI host
 * (config space through ports 0xcf8/0xcfc and through ECAM) and to a
 * virtio-pci device (virtio-rng, devices/virtio/rng.c) in its BAR0: the
 * common configuration, ISR, device config, queue notify, MSI-X table and
 * PBA. No KVM: the board is buses, the PCI host and an MSI router without
 * a VM, over 1 MiB of fake guest RAM. The input:
 *   bytes 0-1   n, the number of accesses (at most 512), little-endian;
 *   then n accesses of 8 bytes each:
 *     byte 0    bits 0-1 where: 0 config space by 0xcf8/0xcfc, 1 ECAM,
 *                        2 BAR0 as the guest finds it (read back from the
 *                        device's config space each time: the guest may
 *                        move it, or turn memory decoding off), 3 an I/O
 *                        port 0xcf8 + (offset & 7) as it is;
 *               bit 2    write (else read);
 *               bits 3-4 size 1, 2, 4 or 8 bytes;
 *     bytes 1-2 offset (config space: register; BAR0: from its base);
 *     byte 3    config space: the slot (device) number; BAR0: offset
 *               bits 16-23;
 *     bytes 4-7 the value written;
 *   the rest    guest RAM from gpa 0: the queue's rings and buffers,
 *               for the notifies among the accesses.
 * Every access must return; reads fill exactly what they were given; then
 * the device must quiesce, resume and be freed. The sanitizers do the rest. */
#include "../../devices/virtio/rng.c"

#include <stdlib.h>
#include <string.h>

#include "../../boot/layout.h"
#include "../lib/board.h"

#define RAM       (1u << 20)
#define MAX_OPS   512
#define RNG_SLOT  3

/* The board and its virtio-rng in slot RNG_SLOT. */
static int open_rng(struct board *b, void **rng)
{
	struct error err;

	if (board_init(b, calloc(1, RAM), RAM, "fuzz", &err) < 0)
		return -1;
	b->cfg.rng = true;
	b->cfg.rng_slot = RNG_SLOT;
	return rng_ops.create(&b->env, rng, &err);
}

/* Config space, the way a guest reads it: through 0xcf8/0xcfc. */
static uint32_t cfg_read32(struct board *b, unsigned slot, unsigned reg)
{
	uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc), v = 0;

	bus_dispatch(&b->pio, PCI_CONFIG_ADDR_PORT, (uint8_t *)&addr, 4, true);
	bus_dispatch(&b->pio, PCI_CONFIG_DATA_PORT, (uint8_t *)&v, 4, false);
	return v;
}

/* BAR0 (64-bit memory) as the guest has it now. */
static uint64_t bar0(struct board *b)
{
	uint32_t lo = cfg_read32(b, RNG_SLOT, PCI_BAR0);
	uint32_t hi = cfg_read32(b, RNG_SLOT, PCI_BAR0 + 4);

	return ((uint64_t)hi << 32 | lo) & ~0xfull;
}

/* One access; a read must fill its bytes and nothing past them. */
static void guest_access(struct board *b, const uint8_t *op)
{
	unsigned where = op[0] & 3, len = 1u << (op[0] >> 3 & 3);
	unsigned off = op[1] | op[2] << 8;
	uint32_t v32 = op[4] | op[5] << 8 | op[6] << 16 | (uint32_t)op[7] << 24;
	uint64_t value = (uint64_t)v32 << 32 | v32, addr;
	struct bus *bus = &b->pio;

	if (where != 1 && where != 2 && len > 4)
		len = 4;                /* port I/O is at most 4 bytes */
	switch (where) {
	case 0: {
		uint32_t cf8 = 0x80000000u | (uint32_t)op[3] << 11 | (off & 0x7fc);

		bus_dispatch(&b->pio, PCI_CONFIG_ADDR_PORT, (uint8_t *)&cf8, 4, true);
		addr = PCI_CONFIG_DATA_PORT + (off & 3);
		break;
	}
	case 1:
		bus = &b->mmio;
		addr = PCI_ECAM_BASE + ((uint64_t)op[3] << 15) + (off & 0xfff);
		break;
	case 2:
		bus = &b->mmio;
		addr = bar0(b) + ((uint64_t)op[3] << 16 | off);
		break;
	default:
		addr = PCI_CONFIG_ADDR_PORT + (off & 7);
		break;
	}
	if (!board_access(bus, addr, value, len, op[0] & 4))
		__builtin_trap();       /* written past the access */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct board b;
	void *rng = NULL;
	size_t n, at;

	if (size < 2)
		return 0;
	n = data[0] | data[1] << 8;
	if (n > MAX_OPS || 2 + 8 * n > size)
		return 0;
	if (open_rng(&b, &rng) < 0)
		__builtin_trap();
	at = 2 + 8 * n;
	memcpy(b.ram, data + at, size - at < RAM ? size - at : RAM);
	for (size_t i = 0; i < n; i++)
		guest_access(&b, data + 2 + 8 * i);
	rng_ops.quiesce(rng);
	rng_ops.resume(rng);
	rng_ops.destroy(rng);
	board_close(&b);
	return 0;
}

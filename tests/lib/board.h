/* A board without KVM, for the unit tests and fuzz targets that drive
 * whole devices the way a guest would: buses, the PCI host (0xcf8/0xcfc
 * and ECAM), an MSI router without a VM (each vector's eventfd counts what
 * was fired), an event loop (not started here) and fake guest RAM. No
 * ioeventfds: a queue notify reaches the device through the notify BAR. */
#ifndef VESSEL_TEST_BOARD_H
#define VESSEL_TEST_BOARD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/device.h"
#include "../../devices/pci.h"
#include "../../vmm/bus.h"
#include "../../vmm/loop.h"
#include "../../vmm/memory.h"
#include "../../vmm/msi.h"

struct board {
	struct bus pio, mmio;
	struct pci_host pci;
	struct msi_router msi;
	struct loop loop;
	struct devices_spec cfg;
	struct device_env env;
	uint8_t *ram;
	struct gmem mem;
};

static int board_no_ioeventfd(struct device_env *env, uint64_t addr,
			      unsigned len, int fd, bool assign,
			      struct error *err)
{
	(void)env;
	(void)addr;
	(void)len;
	(void)fd;
	(void)assign;
	(void)err;
	return 0;       /* "assigned": notifies still reach the bus here */
}

/* The board over ram (ram_size bytes, owned by the board from then on,
 * even on failure), its devices named name. Then board_close. */
static inline int board_init(struct board *b, uint8_t *ram, size_t ram_size,
			     const char *name, struct error *err)
{
	memset(b, 0, sizeof(*b));
	b->ram = ram;
	if (!ram)
		return err_set(err, "out of memory");
	gmem_init_fake(&b->mem, b->ram, ram_size);
	bus_init(&b->pio, "pio");
	bus_init(&b->mmio, "mmio");
	if (pci_host_init(&b->pci, &b->pio, &b->mmio, err) < 0 ||
	    msi_router_init(&b->msi, -1, err) < 0 ||
	    loop_init(&b->loop, err) < 0)
		return -1;
	b->cfg.name = name;
	b->env = (struct device_env){
		.spec = &b->cfg, .pio = &b->pio, .mmio = &b->mmio, .mem = &b->mem,
		.loop = &b->loop, .pci = &b->pci, .msi = &b->msi,
		.ioeventfd = board_no_ioeventfd,
	};
	return 0;
}

/* A guest's access of len bytes (1 to 8) at addr on bus, a write's bytes
 * taken from value (little-endian). False if the device wrote into the
 * buffer past the access's len bytes. */
static inline bool board_access(struct bus *bus, uint64_t addr, uint64_t value,
				unsigned len, bool write)
{
	uint8_t d[16];

	memcpy(d, &value, 8);
	memset(d + len, 0xa5, sizeof(d) - len);
	bus_dispatch(bus, addr, d, len, write);
	for (unsigned i = len; i < sizeof(d); i++)
		if (d[i] != 0xa5)
			return false;
	return true;
}

static inline void board_close(struct board *b)
{
	loop_destroy(&b->loop);
	msi_router_destroy(&b->msi);
	pci_host_destroy(&b->pci);
	bus_destroy(&b->pio);
	bus_destroy(&b->mmio);
	free(b->ram);
}

#endif

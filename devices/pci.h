/* The PCI host bridge: bus 0 through config mechanism 1 (0xcf8/0xcfc) and
 * ECAM, with vessel placing BARs in the 32-bit MMIO window like firmware
 * would. A function's BAR is on the MMIO bus while the guest enables memory
 * decoding; moving or disabling it moves or removes it. */
#ifndef VESSEL_PCI_H
#define VESSEL_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "../vmm/bus.h"
#include "../tools/base/error.h"
#include "../vmm/vmstate.h"

#define PCI_SLOTS        32
#define PCI_CFG_SPACE    256
#define PCI_NUM_BARS     6

/* Standard config space offsets */
#define PCI_VENDOR_ID    0x00
#define PCI_DEVICE_ID    0x02
#define PCI_COMMAND      0x04
#define PCI_STATUS       0x06
#define PCI_REVISION     0x08
#define PCI_CLASS_PROG   0x09
#define PCI_HEADER_TYPE  0x0e
#define PCI_BAR0         0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID    0x2e
#define PCI_CAP_PTR      0x34
#define PCI_INT_LINE     0x3c
#define PCI_INT_PIN      0x3d
#define PCI_CMD_MEM      0x0002
#define PCI_CMD_MASTER   0x0004
#define PCI_STATUS_CAPS  0x0010

struct pci_func;

struct pci_bar {
	uint32_t size;          /* power of two >= 4 KiB; 0: unused */
	uint64_t mapped_at;     /* 0 when not on the bus */
	bus_handler fn;
	void *opaque;
};

struct pci_func {
	const char *name;
	unsigned slot;
	uint8_t cfg[PCI_CFG_SPACE];
	uint8_t wmask[PCI_CFG_SPACE];   /* bits the guest may write */
	struct pci_bar bar[PCI_NUM_BARS];
	unsigned cap_end;               /* next free config byte for a capability */
	unsigned cap_last;              /* offset of the last capability, 0 if none */
	void *opaque;
	/* Called (host lock held) after the guest wrote config bytes. */
	void (*cfg_written)(struct pci_func *f, unsigned off, unsigned len);
	/* Called (host lock held) after a BAR was mapped (addr != 0) or unmapped. */
	void (*bar_moved)(struct pci_func *f, unsigned bar, uint64_t addr);
};

struct pci_host {
	struct bus *pio, *mmio;
	pthread_mutex_t lock;
	uint32_t config_addr;
	struct pci_func bridge;
	struct pci_func *slot[PCI_SLOTS];
};

int pci_host_init(struct pci_host *h, struct bus *pio, struct bus *mmio,
		  struct error *err);
void pci_host_destroy(struct pci_host *h);

/* Prepare a type-0 header for vendor/device/class (24-bit) in f. */
void pci_func_init(struct pci_func *f, const char *name, uint16_t vendor,
		   uint16_t device, uint32_t class_code, uint8_t revision);
/* Add a capability of `len` bytes (id at byte 0; next pointer filled in);
 * returns its offset, or 0 if config space is full. */
unsigned pci_add_cap(struct pci_func *f, const void *cap, unsigned len);
/* Put f in the next free slot; place and map its BARs. */
int pci_add(struct pci_host *h, struct pci_func *f, struct error *err);
/* Put f in slot (1 to PCI_SLOTS - 1; 0: the next free one), an error if
 * another function has it. Its BARs go in the slot's own part of the MMIO
 * window (PCI_MMIO_SIZE / PCI_SLOTS each): the addresses the guest sees
 * depend on the slot only. */
int pci_add_at(struct pci_host *h, struct pci_func *f, unsigned slot,
	       struct error *err);
void pci_del(struct pci_host *h, struct pci_func *f);

/* A function's config space (what the guest wrote: command register, BAR
 * addresses, capability bits) as part of its device's section. Loading
 * checks that only guest-writable bits differ from the function as built,
 * then re-places its BARs on the MMIO bus (bar_moved follows): -1 with an
 * err_input() error for a config this device cannot have or a BAR that
 * cannot go where the guest had it. */
void pci_func_save(struct pci_host *h, const struct pci_func *f,
		   struct vmstate_writer *w);
int pci_func_load(struct pci_host *h, struct pci_func *f,
		  struct vmstate_section *s, struct error *err);
/* Section "pci-host": config_addr (0xcf8) and the host bridge's config. */
int pci_host_save(struct pci_host *h, struct vmstate_writer *w,
		  struct error *err);
int pci_host_restore(struct pci_host *h, const struct vmstate_reader *r,
		     struct error *err);

static inline uint16_t pci_cfg16(const struct pci_func *f, unsigned off)
{
	return f->cfg[off] | (f->cfg[off + 1] << 8);
}

#endif

#include "pci.h"

#include <string.h>

#include "../boot/layout.h"
#include "../tools/base/le.h"

#define CF8_ENABLE 0x80000000u

void pci_func_init(struct pci_func *f, const char *name, uint16_t vendor,
		   uint16_t device, uint32_t class_code, uint8_t revision)
{
	memset(f->cfg, 0, sizeof(f->cfg));
	memset(f->wmask, 0, sizeof(f->wmask));
	f->name = name;
	f->cap_end = 0x40;
	f->cap_last = 0;
	f->cfg[PCI_VENDOR_ID] = vendor;
	f->cfg[PCI_VENDOR_ID + 1] = vendor >> 8;
	f->cfg[PCI_DEVICE_ID] = device;
	f->cfg[PCI_DEVICE_ID + 1] = device >> 8;
	f->cfg[PCI_REVISION] = revision;
	f->cfg[PCI_CLASS_PROG] = class_code;
	f->cfg[PCI_CLASS_PROG + 1] = class_code >> 8;
	f->cfg[PCI_CLASS_PROG + 2] = class_code >> 16;
	f->wmask[PCI_COMMAND] = PCI_CMD_MEM | PCI_CMD_MASTER;
	f->wmask[PCI_COMMAND + 1] = 0x04;       /* INTx disable */
	f->wmask[PCI_INT_LINE] = 0xff;
}

unsigned pci_add_cap(struct pci_func *f, const void *cap, unsigned len)
{
	unsigned off = (f->cap_end + 3) & ~3u;

	if (len < 2 || off + len > PCI_CFG_SPACE)
		return 0;
	memcpy(&f->cfg[off], cap, len);
	f->cfg[off + 1] = 0;
	if (f->cap_last)
		f->cfg[f->cap_last + 1] = off;
	else
		f->cfg[PCI_CAP_PTR] = off;
	f->cfg[PCI_STATUS] |= PCI_STATUS_CAPS;
	f->cap_last = off;
	f->cap_end = off + len;
	return off;
}

static uint32_t bar_reg(const struct pci_func *f, unsigned i)
{
	return rd32(&f->cfg[PCI_BAR0 + 4 * i]);
}

/* Map or unmap BAR i to follow its register and the memory-enable bit. */
static void pci_update_bar(struct pci_host *h, struct pci_func *f, unsigned i)
{
	struct pci_bar *b = &f->bar[i];
	uint64_t want = bar_reg(f, i) & ~0xfULL;
	struct error err;

	if (!b->size)
		return;
	if (!(pci_cfg16(f, PCI_COMMAND) & PCI_CMD_MEM) || want == 0 ||
	    want + b->size > 0x100000000ULL)
		want = 0;
	if (want == b->mapped_at)
		return;
	if (b->mapped_at)
		bus_unregister(h->mmio, b->mapped_at);
	b->mapped_at = 0;
	/* A guest may place a BAR over something else: then it stays off. */
	if (want && bus_register(h->mmio, want, b->size, b->fn, b->opaque,
				 f->name, &err) == 0)
		b->mapped_at = want;
	if (f->bar_moved)
		f->bar_moved(f, i, b->mapped_at);
}

static void cfg_access(struct pci_host *h, struct pci_func *f, unsigned off,
		       uint8_t *data, unsigned len, bool is_write)
{
	if (!f || off >= PCI_CFG_SPACE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (off + len > PCI_CFG_SPACE)
		len = PCI_CFG_SPACE - off;
	if (!is_write) {
		memcpy(data, &f->cfg[off], len);
		return;
	}
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = f->wmask[off + i];

		f->cfg[off + i] = (f->cfg[off + i] & ~m) | (data[i] & m);
	}
	if (off < PCI_BAR0 + 4 * PCI_NUM_BARS && off + len > PCI_COMMAND)
		for (unsigned i = 0; i < PCI_NUM_BARS; i++)
			pci_update_bar(h, f, i);
	if (f->cfg_written)
		f->cfg_written(f, off, len);
}

static struct pci_func *pci_lookup(struct pci_host *h, unsigned bus,
				   unsigned dev, unsigned fn)
{
	if (bus != 0 || fn != 0 || dev >= PCI_SLOTS)
		return NULL;
	return h->slot[dev];
}

static void cf8_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		   bool is_write)
{
	struct pci_host *h = opaque;

	pthread_mutex_lock(&h->lock);
	if (off == 0 && len == 4) {
		if (is_write)
			memcpy(&h->config_addr, data, 4);
		else
			memcpy(data, &h->config_addr, 4);
	} else if (!is_write) {
		memset(data, 0xff, len);
	}
	pthread_mutex_unlock(&h->lock);
}

static void cfc_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		   bool is_write)
{
	struct pci_host *h = opaque;
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->config_addr;
	if (!(a & CF8_ENABLE)) {
		if (!is_write)
			memset(data, 0xff, len);
	} else {
		cfg_access(h, pci_lookup(h, (a >> 16) & 0xff, (a >> 11) & 0x1f,
					 (a >> 8) & 7),
			   (a & 0xfc) + off, data, len, is_write);
	}
	pthread_mutex_unlock(&h->lock);
}

static void ecam_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		    bool is_write)
{
	struct pci_host *h = opaque;

	pthread_mutex_lock(&h->lock);
	cfg_access(h, pci_lookup(h, off >> 20, (off >> 15) & 0x1f, (off >> 12) & 7),
		   off & 0xfff, data, len, is_write);
	pthread_mutex_unlock(&h->lock);
}

int pci_host_init(struct pci_host *h, struct bus *pio, struct bus *mmio,
		  struct error *err)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->pio = pio;
	h->mmio = mmio;
	/* 00:00.0, a host bridge: Linux's type-1 probe looks for one. */
	pci_func_init(&h->bridge, "host-bridge", 0x8086, 0x0d57, 0x060000, 0);
	h->slot[0] = &h->bridge;
	if (bus_register(pio, PCI_CONFIG_ADDR_PORT, 4, cf8_io, h, "pci-cf8", err) < 0 ||
	    bus_register(pio, PCI_CONFIG_DATA_PORT, 4, cfc_io, h, "pci-cfc", err) < 0 ||
	    bus_register(mmio, PCI_ECAM_BASE, PCI_ECAM_SIZE, ecam_io, h, "pci-ecam", err) < 0)
		return -1;
	return 0;
}

void pci_host_destroy(struct pci_host *h)
{
	bus_unregister(h->pio, PCI_CONFIG_ADDR_PORT);
	bus_unregister(h->pio, PCI_CONFIG_DATA_PORT);
	bus_unregister(h->mmio, PCI_ECAM_BASE);
	pthread_mutex_destroy(&h->lock);
}

/* Where slot's BARs go: a window of its own, so that every address the
 * guest sees follows from the slot alone, not from the order functions
 * were added in. */
#define PCI_SLOT_WINDOW (PCI_MMIO_SIZE / PCI_SLOTS)

static unsigned free_slot(const struct pci_host *h)
{
	unsigned s;

	for (s = 1; s < PCI_SLOTS && h->slot[s]; s++)
		;
	return s;
}

/* Lay out f's BARs in slot's window; -1 if they do not fit. */
static int place_bars(struct pci_func *f, unsigned slot, struct error *err)
{
	uint64_t base = PCI_MMIO_START + (uint64_t)slot * PCI_SLOT_WINDOW;
	uint64_t next = base;

	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &f->bar[i];
		uint64_t at;

		if (!b->size)
			continue;
		at = (next + b->size - 1) & ~((uint64_t)b->size - 1);
		if (at + b->size > base + PCI_SLOT_WINDOW)
			return err_set(err, "%s: BARs larger than the %llu MiB of "
				       "a PCI slot", f->name,
				       (unsigned long long)(PCI_SLOT_WINDOW >> 20));
		next = at + b->size;
		/* 32-bit non-prefetchable memory BAR; size bits read as 0. */
		f->cfg[PCI_BAR0 + 4 * i] = at;
		f->cfg[PCI_BAR0 + 4 * i + 1] = at >> 8;
		f->cfg[PCI_BAR0 + 4 * i + 2] = at >> 16;
		f->cfg[PCI_BAR0 + 4 * i + 3] = at >> 24;
		uint32_t m = ~(b->size - 1);
		for (unsigned k = 0; k < 4; k++)
			f->wmask[PCI_BAR0 + 4 * i + k] = m >> (8 * k);
	}
	return 0;
}

int pci_add_at(struct pci_host *h, struct pci_func *f, unsigned slot,
	       struct error *err)
{
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if (slot == 0)
		slot = free_slot(h);
	if (slot >= PCI_SLOTS)
		r = err_set(err, "%s: no PCI slot %u (bus 0 has 1 to %d)",
			    f->name, slot, PCI_SLOTS - 1);
	else if (h->slot[slot])
		r = err_set(err, "%s: PCI slot %u is taken by %s", f->name,
			    slot, h->slot[slot]->name);
	else
		r = place_bars(f, slot, err);
	if (r < 0) {
		pthread_mutex_unlock(&h->lock);
		return -1;
	}
	f->slot = slot;
	h->slot[slot] = f;
	/* Firmware leaves memory decoding on for what it placed. */
	f->cfg[PCI_COMMAND] |= PCI_CMD_MEM;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		pci_update_bar(h, f, i);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int pci_add(struct pci_host *h, struct pci_func *f, struct error *err)
{
	return pci_add_at(h, f, 0, err);
}

void pci_del(struct pci_host *h, struct pci_func *f)
{
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		if (f->bar[i].mapped_at)
			bus_unregister(h->mmio, f->bar[i].mapped_at);
		f->bar[i].mapped_at = 0;
	}
	if (f->slot < PCI_SLOTS && h->slot[f->slot] == f)
		h->slot[f->slot] = NULL;
	pthread_mutex_unlock(&h->lock);
}

/* ---- save and restore ---- */

void pci_func_save(struct pci_host *h, const struct pci_func *f,
		   struct vmstate_writer *w)
{
	pthread_mutex_lock(&h->lock);
	vmstate_put(w, f->cfg, PCI_CFG_SPACE);
	pthread_mutex_unlock(&h->lock);
}

int pci_func_load(struct pci_host *h, struct pci_func *f,
		  struct vmstate_section *s, struct error *err)
{
	uint8_t cfg[PCI_CFG_SPACE];
	int r = 0;

	if (vmstate_get(s, cfg, sizeof(cfg), err) < 0)
		return -1;
	/* Only what the guest may write can differ from the function as
	 * this configuration builds it: IDs, capabilities, sizes cannot. */
	for (unsigned i = 0; i < PCI_CFG_SPACE; i++)
		if ((cfg[i] ^ f->cfg[i]) & ~f->wmask[i])
			return err_input(err, "%s: PCI config byte 0x%02x is 0x%02x, "
					 "this device has 0x%02x", f->name, i,
					 cfg[i], f->cfg[i]);
	pthread_mutex_lock(&h->lock);
	memcpy(f->cfg, cfg, sizeof(cfg));
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		uint64_t want = bar_reg(f, i) & ~0xfULL;

		if (!f->bar[i].size)
			continue;
		pci_update_bar(h, f, i);
		/* Where the guest had it: else it lost its device. */
		if ((pci_cfg16(f, PCI_COMMAND) & PCI_CMD_MEM) && want &&
		    want + f->bar[i].size <= 0x100000000ULL &&
		    f->bar[i].mapped_at != want && !r)
			r = err_input(err, "%s: BAR%u at 0x%llx overlaps another "
				      "device", f->name, i, (unsigned long long)want);
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

int pci_host_save(struct pci_host *h, struct vmstate_writer *w,
		  struct error *err)
{
	(void)err;
	vmstate_begin(w, "pci-host", 1);
	pthread_mutex_lock(&h->lock);
	vmstate_put_u32(w, h->config_addr);
	pthread_mutex_unlock(&h->lock);
	pci_func_save(h, &h->bridge, w);
	vmstate_end(w);
	return 0;
}

int pci_host_restore(struct pci_host *h, const struct vmstate_reader *r,
		     struct error *err)
{
	struct vmstate_section s;
	uint32_t a;

	if (vmstate_find(r, "pci-host", &s, err) < 0 ||
	    vmstate_check_version(&s, 1, err) < 0 ||
	    vmstate_get_u32(&s, &a, err) < 0 ||
	    pci_func_load(h, &h->bridge, &s, err) < 0)
		return -1;
	if (s.pos != s.len)
		return err_input(err, "pci-host: %zu bytes too many", s.len - s.pos);
	pthread_mutex_lock(&h->lock);
	h->config_addr = a;     /* any value: cf8 takes any */
	pthread_mutex_unlock(&h->lock);
	return 0;
}

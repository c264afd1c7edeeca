/* What a device gets from the machine, and how a device file registers
 * itself. Devices never see KVM: they get buses, guest memory, the event
 * loop, interrupt lines and a way to ask for a power event. */
#ifndef VESSEL_DEVICE_H
#define VESSEL_DEVICE_H

#include "../tools/base/error.h"
#include "block/cbw.h"
#include "block/dirty.h"
#include "block/disk_spec.h"
#include "net/nic_spec.h"
#include "../vmm/bus.h"
#include "../vmm/console.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "../vmm/memory.h"
#include "../vmm/msi.h"
#include "../vmm/vmstate.h"

struct pci_host;

/* Why a VM run ended, from a device's or the VMM's point of view. */
enum vm_event {
	VM_EVENT_NONE,
	VM_EVENT_POWEROFF,      /* ACPI S5 */
	VM_EVENT_REBOOT,        /* reset register, i8042, (triple fault) */
	VM_EVENT_CRASH,         /* triple fault, internal error, failed entry */
	VM_EVENT_STOP,          /* host asked: signal or console escape */
	VM_EVENT_ERROR,         /* host-side failure */
};

/* The board's devices, as the machine describes them: disks and NICs in
 * the guest's order, the rng, and the guest's name (a NIC's derived MAC). */
struct devices_spec {
	const char *name;
	const struct disk_spec *disks; size_t ndisks;
	/* One write log per disk (a migration copying them reads it), or
	 * NULL. */
	struct blk_dirty *disk_dirty;
	/* One copy-before-write per disk (a live backup reads through it),
	 * or NULL. */
	struct blk_cbw *disk_cbw;
	/* One slot per disk where its engine puts its backup marks (a live
	 * backup takes them, devices/block/cbt.h), or NULL. */
	struct blk_cbt **disk_cbt;
	const struct nic_spec *nets; size_t nnets;
	bool rng;
	unsigned rng_slot;
	/* A migration's destination, made while the source still runs the
	 * guest: disks are opened unlocked, and locked by handover. */
	bool incoming;
};

struct device_env {
	const struct devices_spec *spec;
	struct bus *pio, *mmio;
	struct gmem *mem;
	struct loop *loop;
	struct console *console;
	/* Wire `line` to the in-kernel interrupt controller at `gsi`. */
	void (*irq_init)(struct device_env *env, struct irq_line *line, unsigned gsi);
	/* Ask for the run to end with `ev` (poweroff, reboot). Any thread. */
	void (*request)(struct device_env *env, enum vm_event ev);
	/* PCI functions go on this host bridge; MSIs are routed here. */
	struct pci_host *pci;
	struct msi_router *msi;
	/* Signal fd when the guest writes `len` bytes at MMIO address addr. */
	int (*ioeventfd)(struct device_env *env, uint64_t addr, unsigned len,
			 int fd, bool assign, struct error *err);
	void *vm;               /* opaque, for irq_init and request */
};

/* A device's life. Its guest-visible state is a plain struct, apart from
 * its fds, locks and threads, so that save and restore are data copies.
 *   create    build it from the configuration, in its reset state;
 *   reset     back to power-on state (a guest reboot);
 *   quiesce   stop consuming queues and drain in-flight I/O: after it
 *             returns the device writes no guest memory, raises no
 *             interrupt and touches no image until resume;
 *   resume    undo quiesce;
 *   save      write its sections (ids "NAME" or "NAME.N"); quiesced;
 *   restore   load them into a device just created from the same
 *             configuration, before any vCPU runs; quiesced (resume
 *             follows). Every value read is checked: a bad one is an
 *             error, never a crash.
 * Every hook but create and destroy may be NULL: nothing to do. */
struct device_ops {
	const char *name;
	int (*create)(struct device_env *env, void **state, struct error *err);
	void (*destroy)(void *state);
	void (*reset)(void *state);
	void (*quiesce)(void *state);
	void (*resume)(void *state);
	int (*save)(void *state, struct vmstate_writer *w, struct error *err);
	int (*restore)(void *state, const struct vmstate_reader *r,
		       struct error *err);
	/* Quiesced, for a migration: release what another process must
	 * take over (a disk image's lock, its data synced), or take it back
	 * (an error if someone else holds it now). NULL: nothing to hand. */
	int (*handover)(void *state, bool release, struct error *err);
};

/* Each device file registers itself: DEVICE_REGISTER(serial_ops); */
#define DEVICE_REGISTER(ops)                                                  \
	static const struct device_ops *const __device_##ops                   \
	__attribute__((section("vessel_devices"), used, aligned(8))) = &(ops)

/* Iteration over every registered device (linker-provided bounds). */
extern const struct device_ops *const __start_vessel_devices[];
extern const struct device_ops *const __stop_vessel_devices[];
#define for_each_device(p)                                                    \
	for (const struct device_ops *const *p = __start_vessel_devices;       \
	     p < __stop_vessel_devices; p++)

#endif

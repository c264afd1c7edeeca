/* One virtual machine as the machine layer takes it: the board (vCPUs,
 * RAM), the boot (kernel, initrd, command line), the devices and what a
 * reset or a triple fault does. tools/ fills it from the YAML definition
 * (config.c, with its defaults and checks); the machine hands each part
 * its own spec: the vCPU count to the KVM core, a boot_spec to boot/, a
 * devices_spec to devices/. All strings are owned by whoever filled it. */
#ifndef VESSEL_MACHINE_SPEC_H
#define VESSEL_MACHINE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../devices/block/disk_spec.h"
#include "../../devices/net/nic_spec.h"
#include "../vm_spec.h"

/* PCI bus 0 as the guest sees it: slot 0 is the host bridge. */
#define VM_PCI_SLOTS 32

enum on_reboot { ON_REBOOT_RESTART, ON_REBOOT_EXIT };

struct machine_spec {
	unsigned vcpus;                 /* 1.. ; default 1 */
	uint64_t memory;                /* bytes; default 256M */
	char *kernel;                   /* required: bzImage or ELF vmlinux */
	char *initrd;                   /* optional */
	char *cmdline;                  /* default "console=ttyS0" */
	bool cmdline_auto;              /* add the board's parameters; default true */
	enum on_reboot on_reboot;       /* default restart */
	enum on_triple_fault on_triple_fault; /* default crash */
	struct disk_spec *disks; size_t ndisks;  /* /dev/vda, vdb, ... in order */
	struct nic_spec *nets; size_t nnets;     /* eth0, eth1, ... in order */
	bool rng;                       /* virtio-rng; default true */
	unsigned rng_slot;              /* its PCI slot */
	bool kernel_cache;              /* boot a bzImage's cached ELF; default true */
	const char *name;               /* the guest's name */
};

#endif

/* The validated, defaulted description of one guest: a VM or a container.
 * Produced by config_load() from a YAML file; consumed by vm_run() and
 * container_run(). All strings are heap-allocated and owned by the struct;
 * paths are already resolved relative to the config file's directory. */
#ifndef VESSEL_CONFIG_H
#define VESSEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/error.h"
#include "../container/ct_config.h"

enum guest_kind { GUEST_VM, GUEST_CONTAINER };
enum on_reboot { ON_REBOOT_RESTART, ON_REBOOT_EXIT };
enum on_triple_fault { ON_TRIPLE_FAULT_CRASH, ON_TRIPLE_FAULT_REBOOT };

enum disk_cache { DISK_CACHE_NONE, DISK_CACHE_WRITEBACK };

/* PCI bus 0 as the guest sees it: slot 0 is the host bridge. */
#define VM_PCI_SLOTS 32

struct vm_disk {
	char *path;                     /* resolved raw image or block device */
	bool readonly;                  /* VIRTIO_BLK_F_RO, opened O_RDONLY */
	enum disk_cache cache;          /* none: O_DIRECT + libaio (default) */
	unsigned slot;                  /* PCI slot 1..31 (config_load fills it) */
};

struct vm_net {
	char *tap;                      /* created if absent */
	char *mac;                      /* "52:54:00:..."; NULL: derived */
	char *bridge;                   /* optional existing bridge */
	unsigned slot;                  /* PCI slot 1..31 (config_load fills it) */
};

struct vm_config {
	unsigned vcpus;                 /* 1.. ; default 1 */
	uint64_t memory;                /* bytes; default 256M */
	char *kernel;                   /* required: bzImage or ELF vmlinux */
	char *initrd;                   /* optional */
	char *cmdline;                  /* default "console=ttyS0" */
	enum on_reboot on_reboot;       /* default restart */
	enum on_triple_fault on_triple_fault; /* default crash */
	struct vm_disk *disks; size_t ndisks;  /* /dev/vda, vdb, ... in order */
	struct vm_net *nets; size_t nnets;     /* eth0, eth1, ... in order */
	bool rng;                       /* virtio-rng; default true */
	unsigned rng_slot;              /* its PCI slot (config_load fills it) */
	bool kernel_cache;              /* boot a bzImage's cached ELF; default true */
	const char *name;               /* the guest's name (owned by guest_config) */
};

struct guest_config {
	char *path;                     /* the config file as given */
	char *dir;                      /* its directory (for relative paths) */
	char *name;                     /* default: file name without .yaml */
	enum guest_kind kind;           /* "kind: vm|container", default vm */
	bool autostart;                 /* for `vessel up` */
	int order;
	double up_delay;
	struct vm_config vm;
	struct container_config ct;     /* ct.name: set by the caller */
};

/* Parse and validate. On error fills err with "file:line:col: key: message"
 * and returns -1; cfg is then left freed/zeroed. */
int config_load(const char *path, struct guest_config *cfg, struct error *err);
/* The same for a definition kept away from home (a snapshot's copy):
 * relative paths resolve against dir (absolute), and the guest is called
 * name whatever the file says. */
int config_load_as(const char *path, const char *dir, const char *name,
		   struct guest_config *cfg, struct error *err);
void config_free(struct guest_config *cfg);
/* The guest's PCI topology, from the definition: disks in file order, then
 * NICs, then virtio-rng, each in its `slot:` or else the next free slot
 * from 1 (0 is the host bridge). A slot of 0 in vm asks for one, other
 * slots stay; config_load() already did this. -1 if they do not fit. */
int config_assign_slots(struct vm_config *vm, struct error *err);
/* `vessel help config`: every key with type, default, range and help. */
void config_help(FILE *out);

#endif

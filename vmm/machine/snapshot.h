/* Snapshot and restore of a whole VM: a directory with the guest's
 * definition (written by the caller), a state image (vmm/vmstate.h) and
 * the guest's RAM. docs/state-format.md describes the files.
 *
 * Saving: the VM is paused (every vCPU parked, no I/O completion pending)
 * and its devices quiesced (no request in flight); the machine section,
 * the VM's and every vCPU's and device's sections go into `state`, RAM
 * into `memory` (sparse) or `memory.z` (zlib). Files are written under
 * temporary names and renamed, so a failed snapshot leaves no half file
 * with a final name, and a guest restored from DIR may be snapshotted
 * into DIR again (its RAM maps the old `memory`, which stays intact).
 *
 * Restoring: vm_snapshot_open() reads and checks everything it can before
 * a VM exists (checksum, versions, sizes, the disks); vm_run() then builds
 * the VM from the same definition with the saved RAM mapped MAP_PRIVATE
 * and loads the VM, device and vCPU state before any vCPU runs. */
#ifndef VESSEL_SNAPSHOT_H
#define VESSEL_SNAPSHOT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../vmstate.h"
#include "spec.h"
#include "../../tools/base/error.h"

#define SNAPSHOT_STATE   "state"
#define SNAPSHOT_MEMORY  "memory"
#define SNAPSHOT_MEMZ    "memory.z"
#define SNAPSHOT_CONFIG  "config.yaml"
#define SNAPSHOT_MAX_DISKS 64
#define SNAPSHOT_MAX_NETS  64

struct vm;

struct vm_snapshot_opts {
	const char *dir;                /* exists; the caller made it */
	bool compress;                  /* memory.z instead of memory */
	const char *config_dir;         /* the definition's directory */
};

/* What a snapshot holds besides device state: section "machine". */
struct snapshot_disk {
	char path[PATH_MAX];
	uint64_t size;
	bool readonly;
};

struct snapshot_net {
	char tap[32];
	uint8_t mac[6];
};

struct vm_snapshot {
	char dir[PATH_MAX];
	uint8_t *state;                 /* the state image, checked */
	size_t state_len;
	struct vmstate_reader rd;
	char vessel[64];                /* the version that wrote it */
	char name[256];
	char config_dir[PATH_MAX];
	unsigned vcpus;
	uint64_t memory;
	bool compressed;
	unsigned ndisks, nnets;
	struct snapshot_disk disk[SNAPSHOT_MAX_DISKS];
	struct snapshot_net net[SNAPSHOT_MAX_NETS];
	int mem_fd;                     /* memory or memory.z, open */
	uint64_t mem_file_bytes;        /* allocated on disk */
};

/* Write the state and RAM of vm (paused, quiesced) into o->dir. */
int vm_snapshot_write(struct vm *vm, const struct vm_snapshot_opts *o,
		      struct error *err);

/* Remove a snapshot directory: its files, then itself if empty. */
void vm_snapshot_remove(const char *dir);

/* The state image alone, into w (initialised by the caller, finished
 * here): what the `state` file holds; migration sends it. o->dir unused. */
int vm_snapshot_state(struct vm *vm, const struct vm_snapshot_opts *o,
		      struct vmstate_writer *w, struct error *err);

/* Read and check a snapshot directory. Bad input is err_input(). */
int vm_snapshot_open(struct vm_snapshot *s, const char *dir, struct error *err);
void vm_snapshot_close(struct vm_snapshot *s);
/* cfg (the definition in the snapshot, loaded) must match the machine the
 * state was taken from, and its disks must be the same size and free. */
int vm_snapshot_check(const struct vm_snapshot *s, const struct machine_spec *cfg,
		      struct error *err);
/* Map the snapshot's RAM as vm's guest memory (restored MAP_PRIVATE, or
 * inflated from memory.z). Takes s->mem_fd. */
int vm_snapshot_map_memory(struct vm_snapshot *s, struct vm *vm,
			   struct error *err);
/* Load VM, device and vCPU state into vm: built from the definition with
 * the snapshot's RAM, devices created and quiesced, vCPUs not running. */
int vm_snapshot_load(const struct vm_snapshot *s, struct vm *vm,
		     struct error *err);
/* `vessel snapshot --info`: key: value lines. */
void vm_snapshot_print(const struct vm_snapshot *s, FILE *out);

#endif

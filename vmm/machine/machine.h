/* The machine layer: a VM's board on top of the KVM core (vm.h) and its
 * whole life. board.c builds the board (devices in definition order, then
 * the boot, or a snapshot's state) and pauses it with its devices held
 * still; run.c runs it across reboots and takes control calls from other
 * threads; snapshot.c saves and restores it. The CLI and the supervisor
 * use this header, never the KVM core. */
#ifndef VESSEL_MACHINE_H
#define VESSEL_MACHINE_H

#include "spec.h"
#include "../vm.h"
#include "../../devices/block/bitmap_file.h"

struct vm_snapshot;

/* The outcome of vm_run(). */
enum vm_result {
	VM_RESULT_POWEROFF,
	VM_RESULT_REBOOT,       /* only with on_reboot: exit */
	VM_RESULT_CRASH,
	VM_RESULT_STOPPED,      /* signal or console escape; see stop_signal */
};

struct runner;

/* Driving a running VM from another thread: the supervisor of `vessel
 * start`. The caller sets it up with vm_control_init() and passes it in
 * vm_run_opts; vm_run() attaches to it while it runs (across reboots) and
 * detaches before it returns. Every vm_control_*() call is safe from any
 * thread at any time, and returns -1 when no VM is attached (not started
 * yet, or already ended). */
struct vm_control {
	pthread_mutex_t lock;
	struct runner *runner;          /* the attached vm_run(), or NULL */
	/* Called once, on vm_run()'s thread, when the first boot's vCPUs run. */
	void (*on_started)(void *opaque);
	void *opaque;
};

void vm_control_init(struct vm_control *c, void (*on_started)(void *opaque),
		     void *opaque);
void vm_control_destroy(struct vm_control *c);
/* Hard stop: the run ends with VM_RESULT_STOPPED (stop_signal 0). */
int vm_control_stop(struct vm_control *c);
/* Press the ACPI fixed-feature power button (PM1 status PWRBTN_STS; the
 * SCI fires if the guest set PWRBTN_EN). Returns 1 if the guest has the
 * button enabled, 0 if it ignores it, -1 if no VM is attached. */
int vm_control_power_button(struct vm_control *c);
/* Hold every vCPU out of KVM_RUN (pause) or let them go again (resume).
 * Pausing returns once every vCPU thread is parked. The pause survives a
 * guest reboot. Guest time is not frozen: kvmclock, the in-kernel
 * LAPIC/PIT timers and the PM timer follow host time, so after a resume
 * the guest sees the time that passed (as after a host suspend). */
int vm_control_pause(struct vm_control *c, bool pause);

struct vm_snapshot_opts;
/* Save the running VM into o->dir (see vmm/snapshot.h): pause the vCPUs
 * and quiesce the devices, write, then resume, unless the VM was paused
 * already (it stays paused) or `stop` is set (the run then ends with
 * VM_RESULT_STOPPED, no vCPU having run after the save). -1 with err when
 * no VM is attached or the save failed (the VM then goes on as before). */
int vm_control_snapshot(struct vm_control *c, const struct vm_snapshot_opts *o,
			bool stop, struct error *err);

struct mig_opts;
struct mig_result;
/* Live-migrate the running VM to the destination on o->fd (see
 * vmm/machine/migration.h): pre-copy while it runs, then paused, the
 * rest. 0 once the destination answered that it runs the guest: the run
 * here then ends with VM_RESULT_STOPPED. -1 with err otherwise, and the
 * VM runs on here as before (paused if it was). */
int vm_control_migrate(struct vm_control *c, const struct mig_opts *o,
		       const struct vm_snapshot_opts *so, struct mig_result *res,
		       struct error *err);

struct blk_cbw;
/* One disk of a live backup, at its point in time. */
struct vm_backup_disk {
	struct blk_cbw *cbw;            /* NULL: read-only: read the image */
	/* The VM tracks the disk's changes (devices/block/cbt.h): marks are
	 * the chunks changed since the backup of generation
	 * marks.generation, unless marks.lost says why they miss some; the
	 * marks restarted as generation new_gen, which a committed backup
	 * records. */
	bool tracked;
	struct blk_bitmap marks;
	uint64_t new_gen;
};
/* A live backup of the running VM's disks: with the VM held still for a
 * moment (vCPUs parked, no disk request in flight), copy-before-write
 * (devices/block/cbw.h, chunks of chunk bytes, copies in unnamed files in
 * tmp_dir) starts on every writable disk and its dirty marks are taken
 * out (a new generation begins); the VM runs on (or stays paused), and
 * fn reads the disks through d[i].cbw as they were at that moment; then
 * copy-before-write stops. fn returns 0 only once the backup is
 * committed: the new generations stand; otherwise the marks taken merge
 * back and the old generations return (no change is lost to the next
 * backup). The VM stays meanwhile: a stop, crash or reboot cancels the
 * copy-before-write, so that fn's reads fail, and ends the run once fn
 * returned. Refused during a migration or another backup. fn's result,
 * or -1 with err. */
int vm_control_backup(struct vm_control *c, const char *tmp_dir, uint32_t chunk,
		      int (*fn)(void *opaque, const struct vm_backup_disk *d,
				size_t n, struct error *err),
		      void *opaque, struct error *err);

struct vm_run_opts {
	int in_fd, out_fd;      /* console: usually 0 and 1 */
	bool stats;             /* print exit/bus counters to stderr at the end */
	struct vm_control *control;     /* optional: see struct vm_control */
	/* Optional: the first boot continues this snapshot (opened and
	 * checked against cfg with vm_snapshot_open/check) instead of
	 * booting the kernel. The caller closes it after vm_run. */
	struct vm_snapshot *restore;
	/* Optional, instead of restore: a migration's destination. */
	const struct vm_incoming *incoming;
};

/* A migration's destination: the VM is made (RAM mapped from the memory
 * file, devices with their disks unlocked, vCPUs) while the pages still
 * arrive in that file; then await blocks until the rest has arrived and
 * hands over the received snapshot, opened and checked against the
 * definition (the caller of vm_run closes it). The disks are locked and
 * the state loaded after it. await fails (-1, err) if the migration did
 * not complete: the run ends with that error. */
struct vm_incoming {
	int mem_fd;                     /* RAM size long; vm_run dups it */
	uint64_t ram_size;
	int (*await)(void *opaque, struct vm_snapshot **snap, struct error *err);
	void *opaque;
};

struct vm_run_result {
	enum vm_result result;
	int stop_signal;        /* with VM_RESULT_STOPPED: the signal, or 0 */
	unsigned boots;
};

int vm_run(const struct machine_spec *cfg, const struct vm_run_opts *opts,
	   struct vm_run_result *res, struct error *err);

/* The part of the machine the devices see (device_env.spec). */
struct devices_spec machine_devices_spec(const struct machine_spec *m);

/* The board (board.c). vm_create builds a VM for one boot: from snap
 * (RAM, device and vCPU state) or from a migration (incoming) when given,
 * else booting cfg's kernel. */
int vm_create(struct vm *vm, const struct machine_spec *cfg,
	      struct vm_snapshot *snap, const struct vm_incoming *incoming,
	      struct loop *loop, struct console *console, struct error *err);
void vm_destroy(struct vm *vm);
/* Quiesce (or resume) every device: see devices/device.h. */
void vm_devices_quiesce(struct vm *vm, bool quiesce);
/* Quiesced: let the devices release what a migration's destination must
 * take over (disk image locks), or take it back. All or nothing. */
int vm_devices_handover(struct vm *vm, bool release, struct error *err);
/* vCPUs parked and devices quiesced, or both running again. */
int vm_set_paused(struct vm *vm, bool pause);
/* Press the power button; true if the guest has it enabled. */
bool vm_power_button(struct vm *vm);

#endif

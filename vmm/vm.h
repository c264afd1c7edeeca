/* One virtual machine: KVM VM fd, guest RAM, buses, devices and vCPUs.
 * vm_run() is the whole life of a guest, across reboots when configured. */
#ifndef VESSEL_VM_H
#define VESSEL_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <linux/kvm.h>

#include "bus.h"
#include "console.h"
#include "loop.h"
#include "memory.h"
#include "msi.h"
#include "vmstate.h"
#include "../devices/pci.h"
#include "../boot/entry.h"
#include "../devices/device.h"
#include "../tools/config.h"

#define VM_MAX_DEVICES 32
#define VM_MAX_VCPUS   255

struct vm;

/* One recent exit, kept for the crash dump: what the guest last did. */
struct exit_record {
	uint32_t reason;        /* KVM_EXIT_* */
	uint32_t len;           /* access size */
	uint64_t addr;          /* port or guest-physical address */
	bool write;
};

#define VCPU_TRACE_LEN 16

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	/* A ring of the last exits (written by this vCPU's thread only). */
	struct exit_record trace[VCPU_TRACE_LEN];
	unsigned trace_next;
};

struct vm_stats {
	uint64_t exits, pio, mmio;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	size_t run_size;
	struct gmem mem;
	struct bus pio, mmio;
	struct msi_router msi;
	struct pci_host pci;
	bool msi_ready, pci_ready;
	struct device_env env;
	struct {
		const struct device_ops *ops;
		void *state;
	} dev[VM_MAX_DEVICES];
	unsigned ndev;
	struct vcpu vcpu[VM_MAX_VCPUS];
	unsigned nvcpus;
	struct kvm_cpuid2 *cpuid;
	struct boot_entry entry;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vm_event event;            /* first event wins; NONE while running */
	bool triple_fault;
	struct error event_err;         /* for VM_EVENT_ERROR */
	struct vm_stats stats;
	bool paused;                    /* vCPUs park in vm_stopping() */
	unsigned parked;                /* vCPU threads parked there now */
};

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

struct vm_run_opts {
	int in_fd, out_fd;      /* console: usually 0 and 1 */
	bool stats;             /* print exit/bus counters to stderr at the end */
	struct vm_control *control;     /* optional: see struct vm_control */
};

struct vm_run_result {
	enum vm_result result;
	int stop_signal;        /* with VM_RESULT_STOPPED: the signal, or 0 */
	unsigned boots;
};

int vm_run(const struct vm_config *cfg, const struct vm_run_opts *opts,
	   struct vm_run_result *res, struct error *err);

/* Internals shared by vm.c and vcpu.c */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct loop *loop,
	      struct console *console, struct error *err);
void vm_destroy(struct vm *vm);
void vm_request(struct vm *vm, enum vm_event ev);
/* The vCPU loop's check: has the run been asked to end? While the VM is
 * paused it also parks the calling vCPU thread (v, its own) until resumed
 * or stopping, its last exit completed first (vcpu_complete_io), so only
 * vCPU threads may call it. */
bool vm_stopping(struct vcpu *v);

/* The ACPI PM device's power button (devices/pm.c; state is the device's
 * own, as returned by its create). Returns true if PWRBTN_EN is set. */
bool pm_power_button(void *state);

int vcpu_create(struct vm *vm, unsigned id, struct error *err);
int vcpu_setup_boot(struct vcpu *v, const struct boot_entry *e, struct error *err);
int vcpu_start(struct vcpu *v, struct error *err);
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);
void vcpu_dump(struct vcpu *v, const char *why);
void vcpu_signals_init(void);
/* Finish the vCPU's last I/O or MMIO exit inside KVM (a KVM_RUN with
 * immediate_exit): until then its registers are not final. Its own
 * thread only. */
void vcpu_complete_io(struct vcpu *v);

/* x86 vCPU and VM state for snapshots (vmm/vcpu_state_x86.c,
 * vmm/vm_state_x86.c). The VM is paused: every vCPU thread parked with no
 * pending I/O completion (see vm_stopping). Save order and restore order
 * are KVM's: restore sets CPUID (at vcpu_create), then MP state, regs,
 * sregs, XSAVE, XCRs, debug regs, LAPIC, MSRs (TSC before TSC_DEADLINE),
 * vcpu events. VM state (clock, PIT, PIC, IOAPIC) goes before the vCPUs.
 * Section ids: "vcpu.N", "vm.clock", "vm.pit", "vm.irqchip". */
int vcpu_state_save(struct vcpu *v, struct vmstate_writer *w, struct error *err);
int vcpu_state_restore(struct vcpu *v, const struct vmstate_reader *r,
		       struct error *err);
int vm_state_save(struct vm *vm, struct vmstate_writer *w, struct error *err);
int vm_state_restore(struct vm *vm, const struct vmstate_reader *r,
		     struct error *err);
/* The CPUID the guest saw (section "vcpu.N" carries it) must be served by
 * this host: a feature bit the guest had that this host's supported
 * CPUID lacks is an input error naming the leaf, register and bits. */
int cpuid_check_compatible(const struct kvm_cpuid2 *guest,
			   const struct kvm_cpuid2 *supported, struct error *err);

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct error *err);
int cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id,
	      unsigned ncpus, struct error *err);
int msr_setup(int vcpu_fd, struct error *err);

#endif

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
#include "vm_spec.h"

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
	bool dump;              /* vm_dump_vcpus asked; its thread dumps */
};

struct vm_stats {
	uint64_t exits, pio, mmio;
};

struct vm {
	struct vm_core_spec core;       /* vCPUs, what a triple fault does */
	struct devices_spec devices;    /* what env.spec points to */
	struct blk_dirty *disk_dirty;   /* devices.ndisks write logs (board.c) */
	struct blk_cbw *disk_cbw;       /* devices.ndisks, for live backups */
	struct blk_cbt **disk_cbt;      /* devices.ndisks: each disk's marks */
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
	pthread_mutex_t dump_lock;      /* one vCPU's dump at a time on stderr */
	pthread_cond_t cond;
	enum vm_event event;            /* first event wins; NONE while running */
	bool triple_fault;
	struct error event_err;         /* for VM_EVENT_ERROR */
	struct vm_stats stats;
	bool paused;                    /* vCPUs park in vm_stopping() */
	unsigned parked;                /* vCPU threads parked there now */
	bool quiesced;                  /* devices quiesced (paused) */
	struct {                        /* vcpu_state_x86.c: the TSC offset */
		bool set;               /* vCPU 0's restore chose, given to */
		uint64_t offset;        /* the others */
	} tsc_restore;
};

/* The KVM core (vm.c). vm_core_init opens /dev/kvm, makes the VM, the
 * x86 platform (vm_platform, platform_x86.c), the supported CPUID and the
 * MSI router; the board fills vm->mem and calls vm_map_memory to give it
 * to KVM. vm_core_destroy undoes all of it, vCPUs included. */
int vm_core_init(struct vm *vm, const struct vm_core_spec *core,
		 struct loop *loop, struct console *console, struct error *err);
int vm_platform(struct vm *vm, struct error *err);
int vm_map_memory(struct vm *vm, struct error *err);
/* Live migration: KVM's dirty log of the vCPUs' writes on every slot.
 * vm_dirty_log_take ORs the pages written since the last take (or since
 * logging began) into out, a bitmap by RAM offset (gmem_dirty_words()
 * words), and re-arms; scratch holds the largest slot's bitmap. */
int vm_dirty_log(struct vm *vm, bool on, struct error *err);
int vm_dirty_log_take(struct vm *vm, uint64_t *out, uint64_t *scratch,
		      struct error *err);
void vm_vcpus_destroy(struct vm *vm);
void vm_core_destroy(struct vm *vm);
void vm_request(struct vm *vm, enum vm_event ev);
/* Has the run been asked to end? */
bool vm_event_pending(struct vm *vm);
/* The vCPU loop's check: has the run been asked to end? While the VM is
 * paused it also parks the calling vCPU thread (v, its own) until resumed
 * or stopping, its last exit completed first (vcpu_complete_io), so only
 * vCPU threads may call it. */
bool vm_stopping(struct vcpu *v);
/* Hold every vCPU out of KVM_RUN (parked in vm_stopping) or let them go.
 * Pausing waits until all are parked: -1 if one did not within 5 s. */
int vm_pause_vcpus(struct vm *vm, bool pause);

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
/* Each vCPU's registers, the words of its stack and its last exits, on
 * stderr, printed by its own thread at its next exit; the guest goes on
 * (SIGUSR2 to vessel, vmm/machine/run.c). */
void vm_dump_vcpus(struct vm *vm);
/* x86 (vmm/vcpu_dump_x86.c): the registers (*rsp: the stack pointer, 0
 * if unknown), and the guest's stack from rsp through its page tables. */
void vcpu_dump_regs(const struct vcpu *v, uint64_t *rsp);
void vcpu_dump_stack(const struct vcpu *v, uint64_t rsp);
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

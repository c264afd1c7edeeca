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
#include "../devices/pci.h"
#include "../boot/entry.h"
#include "../devices/device.h"
#include "../tools/config.h"

#define VM_MAX_DEVICES 32
#define VM_MAX_VCPUS   255

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
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
};

/* The outcome of vm_run(). */
enum vm_result {
	VM_RESULT_POWEROFF,
	VM_RESULT_REBOOT,       /* only with on_reboot: exit */
	VM_RESULT_CRASH,
	VM_RESULT_STOPPED,      /* signal or console escape; see stop_signal */
};

struct vm_run_opts {
	int in_fd, out_fd;      /* console: usually 0 and 1 */
	bool stats;             /* print exit/bus counters to stderr at the end */
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
bool vm_stopping(struct vm *vm);

int vcpu_create(struct vm *vm, unsigned id, struct error *err);
int vcpu_setup_boot(struct vcpu *v, const struct boot_entry *e, struct error *err);
int vcpu_start(struct vcpu *v, struct error *err);
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);
void vcpu_dump(struct vcpu *v, const char *why);
void vcpu_signals_init(void);

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct error *err);
int cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id,
	      unsigned ncpus, struct error *err);
int msr_setup(int vcpu_fd, struct error *err);

#endif

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
#include "../vmm/machine/spec.h"

enum guest_kind { GUEST_VM, GUEST_CONTAINER };

/* `restart:` what the supervisor does when the guest ends on its own. */
enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };

/* A VM: struct machine_spec (vmm/machine/spec.h), with its disk_spec and
 * nic_spec, filled here with the definition's defaults and checks. */

struct guest_config {
	char *path;                     /* the config file as given */
	char *dir;                      /* its directory (for relative paths) */
	char *name;                     /* default: file name without .yaml */
	enum guest_kind kind;           /* "kind: vm|container", default vm */
	bool autostart;                 /* for `vessel up` */
	int order;
	double up_delay;
	enum restart_policy restart;    /* default no */
	int restart_max;                /* quick restarts in a row; 0: no limit */
	double restart_window;          /* s: a run this long is not quick */
	struct machine_spec vm;
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
int config_assign_slots(struct machine_spec *vm, struct error *err);
/* `vessel help config`: every key with type, default, range and help. */
void config_help(FILE *out);

#endif

/* Capabilities: Docker's default set, or a broader one in a user
 * namespace.
 *
 * Default (userns: false): Docker's list without MKNOD
 *   CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
 *   NET_BIND_SERVICE NET_RAW SYS_CHROOT AUDIT_WRITE SETFCAP
 *   = 0x00000000a00425fb (CapEff of a root process in the container)
 * Docker keeps MKNOD, relying on its device cgroup; vessel has a device
 * cgroup too (devcgroup.h) but leaves MKNOD out all the same: mknod of a
 * device fails (EPERM), and a node that got there anyway cannot be
 * opened. The container's /dev has the usual nodes.
 *
 * userns: true adds, as LXC and systemd-nspawn do for system containers:
 *   DAC_READ_SEARCH IPC_OWNER LEASE MKNOD NET_ADMIN SYS_ADMIN SYS_BOOT
 *   SYS_NICE SYS_RESOURCE
 *   = 0x00000000b9e4b5ff
 * (MKNOD in a user namespace makes only overlayfs whiteouts: device nodes
 * need it in the initial namespace.)
 * These are capabilities in the container's own user namespace: the
 * kernel honours them only for what that namespace owns (its mount, net,
 * uts, ipc, pid and cgroup namespaces, files owned by mapped ids), so
 * SYS_ADMIN means mounting inside the container (which systemd needs),
 * NET_ADMIN configuring its own network namespace, SYS_BOOT reboot(2)
 * ending its own pid namespace. Checks against the initial namespace
 * (module loading, raw I/O, time, host devices) still fail.
 *
 * Everything else (SYS_MODULE, SYS_RAWIO, SYS_TIME, SYS_PTRACE, ...) is
 * dropped from the bounding set, so no exec can get it back. For user 0
 * the set is also effective, permitted, inheritable and ambient. For any
 * other user, as with Docker, effective, permitted and ambient are empty
 * (the bounding set still limits setuid binaries, which no_new_privs
 * disables anyway). */
#ifndef VESSEL_CAPS_H
#define VESSEL_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../tools/base/error.h"

#define CAPS_DEFAULT_MASK 0x00000000a00425fbULL
#define CAPS_USERNS_MASK 0x00000000b9e4b5ffULL

/* The bounding set for a container. */
uint64_t caps_mask(bool userns);
/* While still fully privileged: drop everything outside mask from the
 * bounding set. */
int caps_drop_bounding(uint64_t mask, struct error *err);
/* After switching to the container user: set the process sets to set
 * (mask for root, 0 for other users). */
int caps_apply(uint64_t set, struct error *err);
/* The four process sets one by one (an OCI spec's process.capabilities);
 * ambient ones not both permitted and inheritable are skipped. */
int caps_set(uint64_t eff, uint64_t perm, uint64_t inh, uint64_t amb,
	     struct error *err);

#endif

/* The device cgroup: which device nodes the container may open or make.
 *
 * Deny everything, then allow (read, write, mknod) exactly the nodes the
 * container's /dev has (devfs.h):
 *   c 1:3 null, c 1:5 zero, c 1:7 full, c 1:8 random, c 1:9 urandom,
 *   c 5:0 tty, c 5:1 console, c 5:2 ptmx, c 136:* the pts (devpts, and
 *   /dev/console, which is a pty slave).
 * A node for anything else (a host disk, /dev/mem, /dev/kmsg, a loop
 * device), whether it came from an image, was made at run time by a
 * root with MKNOD, or was put there from outside, cannot be opened
 * (EPERM); the rootfs and binds are also nodev (rootfs.h).
 *
 * cgroup v1: devices.deny "a", then one devices.allow line per rule, in
 * the container's directory of the devices hierarchy (cgroup_v1.c).
 * cgroup v2 has no device files: a BPF_PROG_TYPE_CGROUP_DEVICE program
 * (the same rules, as raw instructions: no libbpf) is loaded and
 * attached to the container's cgroup (BPF_CGROUP_DEVICE, with
 * BPF_F_ALLOW_MULTI, so a program an ancestor has still applies too);
 * the container's own cgroups below inherit it. The cgroup keeps the
 * program until it is removed. */
#ifndef VESSEL_DEVCGROUP_H
#define VESSEL_DEVCGROUP_H

#include "../tools/base/error.h"

/* The container's cgroup directory in the v1 devices hierarchy. */
int devcg_v1_apply(const char *dir, struct error *err);
/* The container's cgroup v2 directory. */
int devcg_v2_apply(const char *dir, struct error *err);

#endif

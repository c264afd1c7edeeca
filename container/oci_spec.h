/* An OCI runtime-spec 1.x config.json, read into what vessel's
 * container engine takes: a container_config (ct_config.h: rootfs,
 * readonly, args, env, hostname, uid/gid, memory, cpus, pids; its name
 * is left NULL, the caller gives the id) and a ct_spec (spec.h) for the
 * rest.
 *
 * The file is hostile input: at most OCI_MAX_FILE bytes, every string
 * and array bounded (oci_json.h), every object's keys checked, so a
 * field vessel does not support is an error that names it (e.g.
 * "linux.intelRdt: not supported by vessel"), never a silent ignore.
 * Only apparmorProfile, selinuxLabel and mountLabel are ignored, with a
 * warning (they do not apply on a host without those LSMs enforcing for
 * vessel). Paths: root.path and relative bind sources are taken
 * relative to the bundle and may not leave it (no ".." component);
 * mount destinations must be absolute and are resolved inside the
 * rootfs anyway (pathres.h).
 *
 * Supported: ociVersion 1.x; process (terminal, consoleSize, user
 * uid/gid/umask/additionalGids, args, env, cwd, capabilities, rlimits,
 * noNewPrivileges, oomScoreAdj); root (path, readonly); hostname;
 * mounts (destination, type, source, options); annotations; linux
 * (namespaces new or by path (network, ipc, uts), uidMappings,
 * gidMappings, sysctl (namespaced ones), resources (memory limit/swap,
 * cpu quota/period/shares, pids limit, devices rules within vessel's device
 * allowlist), cgroupsPath, seccomp (oci_seccomp.h), maskedPaths,
 * readonlyPaths, rootfsPropagation private/rprivate/slave/rslave).
 * hooks (oci_hooks.h).
 * Not supported (errors): domainname, linux.devices, intelRdt,
 * personality, timeOffsets, memory reservation/kernel/swappiness,
 * cpu cpus/mems/realtime, blockIO, hugepageLimits, network,
 * rdma, unified, scheduler, ioPriority, joining pid/user/mount/cgroup
 * namespaces by path, a container without its own mount or pid
 * namespace. */
#ifndef VESSEL_OCI_SPEC_H
#define VESSEL_OCI_SPEC_H

#include <stddef.h>
#include <stdio.h>

#include "../tools/base/error.h"
#include "ct_config.h"
#include "spec.h"

struct oci_config {
	struct container_config ct;
	struct ct_spec spec;
	char *annotations;		/* JSON object text */
};

/* Parse text (len bytes, need not be NUL-terminated); bundle is the
 * bundle directory (absolute). Warnings go to warn (may be NULL). */
int oci_spec_parse(const char *text, size_t len, const char *bundle,
		   struct oci_config *oc, FILE *warn, struct error *err);
/* bundle/config.json */
int oci_spec_load(const char *bundle, struct oci_config *oc, FILE *warn,
		  struct error *err);
void oci_spec_free(struct oci_config *oc);
/* `exec --process FILE`: a process object (the "process" of a
 * config.json) replacing oc's process part; same checks. */
int oci_spec_process(const char *text, size_t len, struct oci_config *oc,
		     FILE *warn, struct error *err);
/* `update --resources FILE`: a linux.resources object, into oc's
 * memory, cpus, pids, memory_swap and cpu_shares (oc zeroed first). */
int oci_spec_resources(const char *text, size_t len, struct oci_config *oc,
		       struct error *err);
/* Read a whole bounded file (config.json, process.json). */
int oci_read_file(const char *path, char **out, size_t *len,
		  struct error *err);

#endif

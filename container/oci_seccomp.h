/* linux.seccomp of an OCI config.json, translated to libseccomp.
 *
 * Supported: defaultAction, defaultErrnoRet, architectures (SCMP_ARCH_*
 * names libseccomp knows), flags SECCOMP_FILTER_FLAG_SPEC_ALLOW and
 * SECCOMP_FILTER_FLAG_LOG, and syscalls[] with names, action, errnoRet
 * and args (index, value, valueTwo, op SCMP_CMP_*). Actions: SCMP_ACT_
 * KILL, KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, TRACE, ALLOW, LOG.
 * Unsupported: SCMP_ACT_NOTIFY, listenerPath, listenerMetadata (errors
 * naming the field). Names this libseccomp does not know are skipped, as
 * runc does. Several conditions on one argument become one rule each. */
#ifndef VESSEL_OCI_SECCOMP_H
#define VESSEL_OCI_SECCOMP_H

#include <json-c/json.h>

#include "../tools/base/error.h"

struct oci_seccomp;
struct seccomp_prog;
struct sha256;

int oci_seccomp_parse(json_object *obj, struct oci_seccomp **out,
		      struct error *err);
/* The filter libseccomp builds from p, as classic BPF (what its
 * seccomp_load() would load), with its flags. */
int oci_seccomp_compile(const struct oci_seccomp *p, struct seccomp_prog *out,
			struct error *err);
/* Everything the compiled filter depends on in p, into h (the cache's
 * key, seccomp_cache.h). */
void oci_seccomp_digest(const struct oci_seccomp *p, struct sha256 *h);
void oci_seccomp_free(struct oci_seccomp *p);

#endif

/* Compiled OCI seccomp profiles, kept under the OCI state root:
 *
 *   ROOT/.seccomp/HEX    the classic BPF program, then its flags (u32)
 *
 * HEX is the SHA-256 of a format tag, libseccomp's version, the kernel's
 * release and machine (libseccomp asks the kernel which actions it has)
 * and the profile as parsed (oci_seccomp_digest). Engines give most
 * containers one profile (podman's and Docker's default, ~400 system
 * calls): libseccomp takes about 80 ms of a create to compile it in the
 * nested test host, reading it back about 1 ms.
 *
 * A file that is not a valid program (checked as seccomp_prog_check does;
 * the kernel checks it again when it is loaded) is compiled again and
 * replaced. The directory is root's, like the container states beside it.
 * Writing is best effort: a cache that cannot be written costs the
 * compile, never the create. Files are written whole and renamed into
 * place, so concurrent creates read either nothing or a whole program;
 * a writer's temporary file (.HEX.PID.tmp) that its PID, no longer
 * alive, left behind is removed by the next write. */
#ifndef VESSEL_SECCOMP_CACHE_H
#define VESSEL_SECCOMP_CACHE_H

#include "../tools/base/error.h"

struct oci_seccomp;
struct seccomp_prog;

int seccomp_cache_get(const char *root, const struct oci_seccomp *p,
		      struct seccomp_prog *out, struct error *err);

#endif

/* Capabilities: Docker's default set.
 *
 *   CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
 *   NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
 *   = 0x00000000a80425fb (CapEff of a root process in the container)
 *
 * Everything else (SYS_ADMIN, SYS_MODULE, SYS_BOOT, SYS_TIME, NET_ADMIN,
 * SYS_PTRACE, ...) is dropped from the bounding set, so no exec can get
 * it back. For user 0 the set is also effective, permitted, inheritable
 * and ambient. For any other user, as with Docker, effective, permitted
 * and ambient are empty (the bounding set still limits setuid binaries,
 * which no_new_privs disables anyway). */
#ifndef VESSEL_CAPS_H
#define VESSEL_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../tools/error.h"

#define CAPS_DEFAULT_MASK 0x00000000a80425fbULL

/* While still fully privileged: drop the rest from the bounding set. */
int caps_drop_bounding(struct error *err);
/* After switching to the container user: set the process sets. */
int caps_apply(bool root_user, struct error *err);

#endif

/* The janitor: cleanup that survives a SIGKILLed vessel.
 *
 * Right after the container is cloned, vessel forks a small helper in
 * its own session that ignores the usual termination signals and only
 * waits on a pipe. When vessel finishes normally it cleans up itself and
 * dismisses the janitor. If vessel dies instead (even by SIGKILL), the
 * pipe reaches end-of-file while the container's PID 1 is being killed
 * by its parent-death signal (the rest of its pid namespace goes with
 * it); the janitor then waits for PID 1 to be gone and does the same
 * cleanup as vessel (ct_cleanup): cgroup, veths, unpacked rootfs. Mounts
 * need nothing: they only ever exist in the container's mount namespace.
 *
 * If the janitor is killed too (e.g. SIGKILL to the whole process
 * group), what can be left is an empty cgroup directory and an unpacked
 * rootfs; the next vessel run removes both when it sees they are stale
 * (cgroup.h, tarball.h). */
#ifndef VESSEL_JANITOR_H
#define VESSEL_JANITOR_H

#include <sys/types.h>

#include "../tools/base/error.h"

struct ct;

struct janitor {
	pid_t pid;
	int fd;		/* write end of the pipe */
};

int janitor_start(struct ct *ct, struct janitor *j, struct error *err);
/* vessel cleaned up itself: tell the janitor to exit, and reap it. */
void janitor_dismiss(struct janitor *j);

#endif

/* Parent <-> child synchronisation over a SOCK_SEQPACKET socketpair.
 *
 * The parent sends SYNC_GO once the child may continue (id maps written,
 * cgroup joined, veths created). The child sets up its namespaces and
 * filesystem, sends SYNC_READY and waits: a second SYNC_GO (start) lets
 * it go on, SYNC_DETACH sends it to wait on the exec fifo (handle.h). The child either reports SYNC_ERROR with
 * a message and exits, or sends SYNC_EXEC and execs: its end is
 * close-on-exec, so a successful exec shows up in the parent as
 * end-of-file, a failed one as SYNC_ERROR. End-of-file before SYNC_EXEC
 * means the child died during setup (e.g. killed by the OOM killer). */
#ifndef VESSEL_SYNC_H
#define VESSEL_SYNC_H

#include <stddef.h>

#include "../tools/base/error.h"

enum sync_kind {
	SYNC_GO = 1,
	SYNC_EXEC,
	SYNC_ERROR,
	SYNC_READY,	/* child: set up, waiting to exec (handle.h) */
	SYNC_DETACH,	/* parent: state saved, wait on the exec fifo */
	SYNC_HOOKS,	/* child: namespaces made; run prestart and
			 * createRuntime hooks, then SYNC_GO */
	/* The parent's SYNC_GO and SYNC_DETACH carry, as text, the
	 * container's PID and created time for the state the child's
	 * createContainer/startContainer hooks get (handle.c). */
};

int sync_pair(int fds[2], struct error *err);
int sync_send(int fd, enum sync_kind kind, const struct error *msg);
/* Returns 1 with *kind (and msg for SYNC_ERROR) filled, 0 at end-of-file,
 * -1 with err filled on failure. */
int sync_recv(int fd, enum sync_kind *kind, struct error *msg,
	      struct error *err);
/* Child side: send err to the parent and exit. */
void sync_fail(int fd, const struct error *err) __attribute__((noreturn));

#endif

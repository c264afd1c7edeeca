/* `vessel start`: a guest detached from the terminal, under a supervisor.
 *
 * supervisor_start() claims RUN/NAME (state.h), copies the definition
 * there, creates the control socket, then double-forks the supervisor: a
 * process in a session of its own, stdio on /dev/null, that runs the
 * guest in-process (vm_run() or container_run()), serves the control
 * socket (ctl_server.h) and removes RUN/NAME when the guest ends.
 *
 * The console: a VM's serial console is a pair of pipes; a container gets
 * a pty whose slave is the supervisor's stdin/stdout, so container_run()
 * relays it to the pty of the container's PID 1 as it does for a
 * terminal. Either way the supervisor holds the other end: output goes to
 * the console log and the attached client, input comes from that client.
 *
 * The supervisor obeys the control socket; besides that, SIGTERM stops a
 * VM at once and is forwarded to a container's PID 1, as for `vessel run`.
 * SIGKILL takes the guest down with it (a VM lives in its process; a
 * container's PID 1 has it as parent-death signal), and the state it
 * leaves is cleaned by the next look at it. */
#ifndef VESSEL_SUPERVISOR_H
#define VESSEL_SUPERVISOR_H

#include <sys/types.h>

#include "config.h"
#include "base/error.h"

/* Start cfg's guest; returns once it runs (0, *pid = the supervisor) or
 * with its startup error (-1). With restore (a VM's snapshot directory,
 * whose definition cfg is), the VM continues the snapshot. */
int supervisor_start(const struct guest_config *cfg, const char *restore,
		     pid_t *pid, struct error *err);
/* A guest `vessel receive` is receiving (a migration's destination) into
 * dir, a snapshot directory of its own that the supervisor removes once
 * the guest runs (its RAM then maps the memory file) or when it ends.
 * supervisor_prepare_received() claims the name and starts the supervisor
 * as soon as the definition and the RAM size are in: it makes the VM while
 * the pages still arrive. supervisor_go() says the rest is in dir and
 * returns as supervisor_start() does; supervisor_abandon() says it will
 * never be, and returns once the supervisor has gone and freed the name. */
struct supervisor_pending {
	int go_fd, status_fd;
	char name[256];
};
int supervisor_prepare_received(const struct guest_config *cfg,
				const char *dir, struct supervisor_pending *p,
				struct error *err);
int supervisor_go(struct supervisor_pending *p, pid_t *pid, struct error *err);
void supervisor_abandon(struct supervisor_pending *p);

#endif

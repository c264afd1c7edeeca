/* vessel's side while the container runs: wait for PID 1, forward
 * SIGTERM, SIGINT, SIGHUP and SIGQUIT to it (a PID 1 without a handler
 * ignores them, so SIGTERM and SIGINT also start a 10 s grace period
 * after which it gets SIGKILL, taking its whole pid namespace along),
 * relay the pty when there is one (and SIGWINCH as a resize), and reap
 * PID 1 into an exit status: its exit code, or 128+N for signal N. */
#ifndef VESSEL_SUPERVISE_H
#define VESSEL_SUPERVISE_H

#include <signal.h>

#include "ct.h"

#define STOP_GRACE_SECONDS 10

/* The signals to block before the container is cloned. */
void supervise_sigset(sigset_t *set);
int supervise(struct ct *ct, struct error *err);

#endif

/* vessel's side while the container runs: wait for PID 1, forward
 * SIGTERM, SIGINT, SIGHUP and SIGQUIT to it (a PID 1 without a handler
 * ignores them, so SIGTERM and SIGINT also start a 10 s grace period
 * after which it gets SIGKILL, taking its whole pid namespace along),
 * relay the pty (pty.h; SIGWINCH as a resize), and reap PID 1 into an
 * exit status: its exit code, or 128+N for signal N.
 *
 * systemd as PID 1 (its /proc/PID/exe is named systemd) gets SIGRTMIN+3,
 * its halt request, instead of SIGTERM (which would make it re-execute
 * itself). An init that halts or powers off calls reboot(2), which in a
 * pid namespace the kernel turns into PID 1's death by SIGINT (a reboot:
 * SIGHUP); since PID 1 cannot die of SIGINT otherwise, that is reported
 * as exit status 0, a clean shutdown (as systemd-nspawn does). A reboot
 * stays 129: vessel does not restart containers. */
#ifndef VESSEL_SUPERVISE_H
#define VESSEL_SUPERVISE_H

#include <signal.h>

#include "ct.h"

#define STOP_GRACE_SECONDS 10

/* The signals to block before the container is cloned. */
void supervise_sigset(sigset_t *set);
int supervise(struct ct *ct, struct error *err);

#endif

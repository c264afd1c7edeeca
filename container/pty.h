/* Every container gets a pty (without a terminal: if one can be had);
 * its master stays with vessel.
 *   - vessel's stdin is a terminal: vessel relays the master to/from it
 *     (put in raw mode meanwhile, so ^C and friends reach the
 *     container's line discipline); the slave becomes the container's
 *     stdin/stdout/stderr and /dev/console.
 *   - otherwise PID 1 keeps vessel's stdin/stdout/stderr and the slave is
 *     only /dev/console, where an init writes its status and logs (and
 *     systemd starts a getty): vessel copies its output to its stdout,
 *     and holds the slave open until PID 1 is gone so the console never
 *     hangs up. Nothing is fed to its input. */
#ifndef VESSEL_PTY_H
#define VESSEL_PTY_H

#include <stddef.h>
#include <termios.h>

#include "../tools/base/error.h"

/* Open a pty pair with the window size of fd 0. */
int pty_open(int *master, int *slave, char *name, size_t len,
	     struct error *err);
/* Copy fd 0's window size to the master. */
void pty_resize(int master);
int term_raw(int fd, struct termios *saved, struct error *err);
/* Pass the master to an OCI --console-socket (SCM_RIGHTS). */
int pty_send_master(int sock, int master, struct error *err);
void term_restore(int fd, const struct termios *saved);

#endif

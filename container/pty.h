/* A pty for PID 1 when vessel's stdin is a terminal: the master stays
 * with vessel, which relays it to/from its own terminal (put in raw mode
 * meanwhile, so ^C and friends reach the container's line discipline);
 * the slave becomes the container's stdin/stdout/stderr and
 * /dev/console. */
#ifndef VESSEL_PTY_H
#define VESSEL_PTY_H

#include <stddef.h>
#include <termios.h>

#include "../tools/error.h"

/* Open a pty pair with the window size of fd 0. */
int pty_open(int *master, int *slave, char *name, size_t len,
	     struct error *err);
/* Copy fd 0's window size to the master. */
void pty_resize(int master);
int term_raw(int fd, struct termios *saved, struct error *err);
void term_restore(int fd, const struct termios *saved);

#endif

/* Errors carried up as return codes with a message (crun-style).
 * A fallible call returns -1 (or another negative value) and fills *err;
 * only the CLI prints the message, once. */
#ifndef VESSEL_ERROR_H
#define VESSEL_ERROR_H

#include <stdio.h>

struct error {
	int errnum;        /* errno captured by err_sys(), 0 otherwise */
	int input;         /* 1: bad input (exit 2), set by err_input() */
	char msg[1024];
};

/* Set the message; returns -1 so callers can `return err_set(...)`. */
int err_set(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like err_set, appending ": strerror(errno)" and recording errno. */
int err_sys(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like err_set, for input the user gave that is wrong (a corrupted state
 * file, a disk of the wrong size): the CLI exits 2, not 1. */
int err_input(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prepend context: "context: old message". Returns -1. */
int err_prefix(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void err_clear(struct error *err);

#endif

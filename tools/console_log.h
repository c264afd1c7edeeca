/* The console log of a managed guest: its console output appended to a
 * file; past CONSOLE_LOG_MAX bytes the file is renamed to FILE.1
 * (replacing the previous one) and a new one begins, so at most about
 * twice that is kept. Not thread-safe: the owner serialises calls. */
#ifndef VESSEL_CONSOLE_LOG_H
#define VESSEL_CONSOLE_LOG_H

#include <stddef.h>

#include "base/error.h"
#include "state.h"

#define CONSOLE_LOG_MAX (1024 * 1024)

struct console_log {
	char path[STATE_PATH_MAX];
	char old[STATE_PATH_MAX + 2];   /* path + ".1" */
	int fd;
	size_t size;                    /* of the current file */
};

int console_log_open(struct console_log *l, const char *path, struct error *err);
/* Append; a failing disk loses log lines, never stops the guest. */
void console_log_write(struct console_log *l, const void *buf, size_t len);
/* The rotated file then the current one, in one malloc()ed buffer. */
int console_log_read(struct console_log *l, char **buf, size_t *len,
		     struct error *err);
void console_log_close(struct console_log *l);

#endif

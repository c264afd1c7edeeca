/* The progress line of a running backup or restore, on stderr:
 * "read 1.2 GiB of 2.0 GiB, stored 300 MiB, 450 MiB/s, ETA 2 s",
 * at most five times a second, when stderr is a terminal or it was asked. */
#ifndef VESSEL_BACKUP_PROGRESS_H
#define VESSEL_BACKUP_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	bool on;
	long long t0, last;     /* ms */
	uint64_t total;         /* 0: unknown, no ETA */
	uint64_t done;          /* bytes of total passed (read or skipped) */
	uint64_t read;          /* bytes actually read */
	uint64_t stored;        /* bytes written to the repository */
	/* Set: called instead of drawing the line (on or not). */
	void (*report)(void *opaque, const struct progress *p);
	void *report_opaque;
};

void progress_start(struct progress *p, bool on, uint64_t total);
void progress_show(struct progress *p, bool final);
/* "1.5 GiB" into buf. */
const char *human_bytes(uint64_t v, char *buf, unsigned len);

#endif

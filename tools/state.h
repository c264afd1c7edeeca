/* Where managed guests (`vessel start`) keep their state.
 *
 * The run directory is $VESSEL_RUN_DIR if set, else /run/vessel for root,
 * else $XDG_RUNTIME_DIR/vessel. It holds one directory per guest:
 *   NAME/lock         flock()ed by the supervisor for its whole life
 *   NAME/pid          the supervisor's pid
 *   NAME/guest.yaml   a copy of the definition it was started from
 *   NAME/console.log  the console log (and console.log.1, its rotation)
 *   NAME/control      the control socket, mode 0600
 * A guest directory whose lock nobody holds belongs to a supervisor that
 * died (SIGKILL, crash): it is stale, and removed when seen. When a guest
 * directory goes, its console log is kept as RUN/NAME.last.log (until the
 * next run of NAME ends), so `vessel logs NAME` still shows how it ended. Checking and
 * creating guest directories is serialised by flock() on RUN/.lock. */
#ifndef VESSEL_STATE_H
#define VESSEL_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define STATE_LOCK    "lock"
#define STATE_PID     "pid"
#define STATE_DEF     "guest.yaml"
#define STATE_LOG     "console.log"
#define STATE_SOCKET  "control"
#define STATE_LAST_LOG_SUFFIX ".last.log"

#define STATE_PATH_MAX 256

enum state_probe {
	STATE_ABSENT,           /* no directory */
	STATE_STALE,            /* a directory nobody holds (now removed) */
	STATE_LIVE,             /* a supervisor holds it */
};

/* The run directory, created (mode 0700) if missing. */
int state_run_dir(char *buf, size_t len, struct error *err);
/* RUN/NAME/FILE (FILE may be NULL for the directory itself). */
int state_path(char *buf, size_t len, const char *name, const char *file,
	       struct error *err);
/* Is NAME live? A stale directory is removed. */
int state_probe(const char *name, struct error *err);
/* Create RUN/NAME for a new supervisor and take its lock: the returned
 * fd (close-on-exec) holds it. Fails if NAME is live. */
int state_claim(const char *name, int *lock_fd, struct error *err);
/* Remove RUN/NAME and everything in it (the supervisor, at its end),
 * keeping its console log as RUN/NAME.last.log. */
void state_remove(const char *name);
/* RUN/NAME.last.log: the console log of NAME's last run. */
int state_last_log(char *buf, size_t len, const char *name,
		   struct error *err);
/* The names with a directory in the run directory, sorted; free with
 * state_list_free(). */
int state_list(char ***names, size_t *n, struct error *err);
void state_list_free(char **names, size_t n);

#endif

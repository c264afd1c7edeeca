/* Running a system container: the one entry point the CLI uses.
 * See container/README.md for the design (namespaces, cgroups, id maps,
 * cleanup) and the defaults it applies. */
#ifndef VESSEL_CONTAINER_H
#define VESSEL_CONTAINER_H

#include <sys/types.h>

#include "../tools/base/error.h"
#include "ct_config.h"

/* Run c in the foreground until its PID 1 exits.
 * Returns the container's exit status: 0..255, or 128+N if PID 1 was
 * killed by signal N. Returns -1 with err filled if the container could
 * not be set up or supervised; nothing is left behind in either case. */
int container_run(const struct container_config *c, struct error *err);

/* container_run, calling started(pid1, arg) once PID 1 runs c's command
 * (it has exec'd), before waiting for it; pid1 is its pid on the host.
 * Not called when the container could not be set up or started. */
typedef void container_started_fn(pid_t pid1, void *arg);
int container_run_notify(const struct container_config *c,
			 container_started_fn *started, void *arg,
			 struct error *err);

#endif

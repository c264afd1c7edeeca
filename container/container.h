/* Running a system container: the one entry point the CLI uses.
 * See container/README.md for the design (namespaces, cgroups, id maps,
 * cleanup) and the defaults it applies. */
#ifndef VESSEL_CONTAINER_H
#define VESSEL_CONTAINER_H

#include "../tools/base/error.h"
#include "ct_config.h"

/* Run c in the foreground until its PID 1 exits.
 * Returns the container's exit status: 0..255, or 128+N if PID 1 was
 * killed by signal N. Returns -1 with err filled if the container could
 * not be set up or supervised; nothing is left behind in either case. */
int container_run(const struct container_config *c, struct error *err);

#endif

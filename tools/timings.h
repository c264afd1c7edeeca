/* `vessel run --timings` and `ps --json`'s "timings": the boot timeline
 * (vmm/timeline.h) as text or JSON. */
#ifndef VESSEL_TIMINGS_H
#define VESSEL_TIMINGS_H

#include <stdio.h>
#include <json-c/json.h>

/* One line per milestone, in the order of the boot, each with its ms
 * since launch, or "-" if the boot never got there. */
void timings_print(FILE *out);

/* The same as a JSON array, in that order: {"milestone", "ms" (null if not
 * reached), "detail" (only when there is one)}. For `ps --json`. */
struct json_object *timings_json(void);

#endif

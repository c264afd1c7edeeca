/* `vessel run --timings`: the boot timeline (vmm/timeline.h) as text. */
#ifndef VESSEL_TIMINGS_H
#define VESSEL_TIMINGS_H

#include <stdio.h>

/* One line per milestone, in the order of the boot, each with its ms
 * since launch, or "-" if the boot never got there. */
void timings_print(FILE *out);

#endif

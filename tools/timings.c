/* Printing the boot timeline: a header, then "   1234.5 ms  name (detail)"
 * per milestone in enum order, which is the order a boot reaches them (the
 * last two are the guest's doing and may come in either order). */
#include "timings.h"

#include "../vmm/timeline.h"

void timings_print(FILE *out)
{
	fprintf(out, "vessel: boot timeline, ms since launch:\n");
	for (int m = 0; m < MS_COUNT; m++) {
		struct timeline_entry e;

		timeline_get(m, &e);
		if (e.ns < 0)
			fprintf(out, "  %9s     %s (not reached)\n", "-", e.name);
		else
			fprintf(out, "  %9.1f ms  %s%s%s%s\n", e.ns / 1e6, e.name,
				e.detail[0] ? " (" : "", e.detail,
				e.detail[0] ? ")" : "");
	}
	fflush(out);
}

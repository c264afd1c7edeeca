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

struct json_object *timings_json(void)
{
	struct json_object *a = json_object_new_array();

	for (int m = 0; m < MS_COUNT; m++) {
		struct json_object *o = json_object_new_object();
		struct timeline_entry e;

		timeline_get(m, &e);
		json_object_object_add(o, "milestone",
				       json_object_new_string(e.name));
		json_object_object_add(o, "ms", e.ns < 0 ? NULL :
				       json_object_new_double(e.ns / 1e6));
		if (e.detail[0])
			json_object_object_add(o, "detail",
					       json_object_new_string(e.detail));
		json_object_array_add(a, o);
	}
	return a;
}

#include "e820.h"

#include "layout.h"

unsigned e820_build(const struct gmem *m, struct e820_entry *out, unsigned max)
{
	struct e820_entry e[GMEM_MAX_REGIONS + 2];
	unsigned n = 0;

	/* Base memory, then the EBDA/BIOS area holding the MP and ACPI tables. */
	e[n++] = (struct e820_entry){ 0, EBDA_START, E820_RAM };
	e[n++] = (struct e820_entry){ EBDA_START, HIGH_MEM_START - EBDA_START,
				      E820_RESERVED };
	for (unsigned i = 0; i < m->nregions; i++) {
		uint64_t start = m->region[i].gpa, end = start + m->region[i].size;

		if (start < HIGH_MEM_START)
			start = HIGH_MEM_START;
		if (end > start)
			e[n++] = (struct e820_entry){ start, end - start, E820_RAM };
	}
	if (n > max)
		n = max;
	for (unsigned i = 0; i < n; i++)
		out[i] = e[i];
	return n;
}

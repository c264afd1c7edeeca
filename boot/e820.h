/* The guest's physical memory map as the firmware would report it. */
#ifndef VESSEL_E820_H
#define VESSEL_E820_H

#include <stdint.h>

#include "../vmm/memory.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry is 20 bytes");

/* Fill out[] (at most max entries) from the RAM layout; returns the count. */
unsigned e820_build(const struct gmem *m, struct e820_entry *out, unsigned max);

#endif

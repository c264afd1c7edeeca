/* Helpers for the firmware-table tests (ACPI, MP): fake guest RAM of an
 * exact size filled with garbage, and the byte checksum an OS uses to check
 * a table; le_bytes.h reads the tables' fields from raw bytes.
 * Include after <cmocka.h>. */
#ifndef VESSEL_TEST_FAKE_TABLES_H
#define VESSEL_TEST_FAKE_TABLES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/memory.h"
#include "le_bytes.h"

#define FAKE_RAM	(1ULL << 20)
#define GARBAGE		0xa5

struct vm {
	uint8_t *ram;
	uint64_t size;
	struct gmem m;
};

static inline void vm_init(struct vm *v, uint64_t size)
{
	v->ram = malloc(size);	/* exactly size: ASan catches overruns */
	assert_non_null(v->ram);
	memset(v->ram, GARBAGE, size);
	v->size = size;
	gmem_init_fake(&v->m, v->ram, size);
}

static inline void vm_free(struct vm *v)
{
	free(v->ram);
}

/* len bytes at gpa, which must all be RAM */
static inline const uint8_t *gp(const struct vm *v, uint64_t gpa, size_t len)
{
	const uint8_t *p = gmem_ptr(&v->m, gpa, len);

	assert_non_null(p);
	return p;
}

/* The byte sum: 0 over a table with a valid checksum */
static inline uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

#endif

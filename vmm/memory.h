/* Guest RAM and the one checked path from a guest-physical address to a
 * host pointer. Nothing else turns a guest address into a host pointer. */
#ifndef VESSEL_MEMORY_H
#define VESSEL_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "../tools/error.h"

#define GMEM_MAX_REGIONS 4

struct gmem_region {
	uint64_t gpa;       /* guest-physical start */
	uint64_t size;      /* bytes */
	uint8_t *hva;       /* host mapping */
};

struct gmem {
	struct gmem_region region[GMEM_MAX_REGIONS];
	unsigned nregions;
	uint64_t ram_size;  /* total bytes of RAM across regions */
	void *map;          /* the single host mapping, for munmap */
	size_t map_size;
};

/* Map ram_size bytes of anonymous RAM (MAP_NORESERVE, THP advised) and lay it
 * out as guest RAM: [0, min(ram, MMIO_HOLE_START)) and, for what is left,
 * [4 GiB, ...). Does not talk to KVM. */
int gmem_alloc(struct gmem *m, uint64_t ram_size, struct error *err);
void gmem_free(struct gmem *m);

/* Lay out regions over caller-provided host memory (unit tests fake guest
 * memory this way). Same split as gmem_alloc. */
void gmem_init_fake(struct gmem *m, void *host, uint64_t ram_size);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL. Overflow-safe; len 0 is valid when gpa is inside RAM. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, size_t len);

/* Checked copies; return -1 with err filled if out of RAM. */
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len,
	       struct error *err);
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len,
	      struct error *err);

#endif

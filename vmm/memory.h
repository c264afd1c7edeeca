/* Guest RAM and the one checked path from a guest-physical address to a
 * host pointer. Nothing else turns a guest address into a host pointer. */
#ifndef VESSEL_MEMORY_H
#define VESSEL_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "../tools/base/error.h"

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
	int fd;             /* a restored memory file RAM maps (MAP_PRIVATE);
			     * -1 for anonymous RAM and for fake memory */
};

/* Map ram_size bytes of anonymous memory (2 MiB aligned, THP advised) and lay it
 * out as guest RAM: [0, min(ram, MMIO_HOLE_START)) and, for what is left,
 * [4 GiB, ...). Does not talk to KVM. */
int gmem_alloc(struct gmem *m, uint64_t ram_size, struct error *err);
void gmem_free(struct gmem *m);

/* Snapshot and restore of RAM (the VM is quiesced: nothing writes RAM).
 * The memory file is RAM byte for byte, ram_size long: the byte at RAM
 * offset o (region 0 first, then region 1) is at file offset o. Pages
 * never touched and pages of zeros are holes, so the file is sparse.
 * *written: bytes of data written (without holes). */
int gmem_save(const struct gmem *m, int fd, uint64_t *written, struct error *err);
/* Restore: map fd, which must be exactly ram_size bytes, MAP_PRIVATE as
 * guest RAM; pages load on demand when first touched. Takes fd. */
int gmem_map_file(struct gmem *m, uint64_t ram_size, int fd, struct error *err);
/* The same with zlib (vessel snapshot --compress): a stream of
 * (offset, length, data) runs of non-zero pages, deflated. gmem_load_z
 * allocates anonymous RAM (gmem_alloc) and fills it; every run is checked
 * against ram_size: a bad stream is an error. */
int gmem_save_z(const struct gmem *m, int fd, uint64_t *written, struct error *err);
int gmem_load_z(struct gmem *m, uint64_t ram_size, int fd, struct error *err);

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

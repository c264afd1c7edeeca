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
	uint64_t *dirty;    /* gmem_dirty_start(): pages the VMM wrote */
	int dirty_on;       /* marks are taken (atomic) */
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
/* The same compressed (vessel snapshot --compress): a stream of (offset,
 * length, data) runs of non-zero pages; gmem_save_z writes zstd (level 1,
 * on worker threads), gmem_load_z reads zstd or zlib (older snapshots),
 * allocates anonymous RAM (gmem_alloc) and fills it; every run is
 * checked against ram_size: a bad stream is an error. */
int gmem_save_z(const struct gmem *m, int fd, uint64_t *written, struct error *err);
int gmem_load_z(struct gmem *m, uint64_t ram_size, int fd, struct error *err);

/* Pages the VMM itself writes (virtqueue buffers and rings), for live
 * migration: KVM's dirty log sees only the vCPUs' writes. The bitmap has
 * a bit per 4 KiB page of RAM offset (region 0 first, as in the memory
 * file). Marks are atomic: devices mark from their own threads, after
 * the write, so a page taken and copied before its mark is sent again.
 * The bitmap lives until gmem_free (a late mark never touches freed
 * memory); stop only ends the marking. */
int gmem_dirty_start(struct gmem *m, struct error *err);
void gmem_dirty_stop(struct gmem *m);
/* Mark [p, p + len) (a host pointer into RAM; elsewhere: ignored). */
void gmem_dirty_mark(const struct gmem *m, const void *p, size_t len);
/* OR the marks into out (gmem_dirty_words() words) and clear them. */
size_t gmem_dirty_words(const struct gmem *m);
void gmem_dirty_take(struct gmem *m, uint64_t *out);

/* Calls fn for each run of non-zero pages of RAM that were ever touched
 * (resident, swapped, or in the restored memory file), in RAM order, at
 * most 16 MiB at a time: what a first copy of RAM must hold. */
typedef int (*gmem_run_fn)(void *ctx, uint64_t off, const uint8_t *p,
			   size_t len, struct error *err);
int gmem_walk_data(const struct gmem *m, gmem_run_fn fn, void *ctx,
		   struct error *err);

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

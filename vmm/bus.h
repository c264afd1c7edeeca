/* An I/O bus: a sorted map of non-overlapping address ranges to handlers.
 * A VM has one for port I/O and one for MMIO; devices register ranges on it
 * and never see KVM. */
#ifndef VESSEL_BUS_H
#define VESSEL_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "../tools/base/error.h"

/* Called with the offset from the range's base. For a read, fill data[0..len)
 * (little-endian); for a write, data holds the bytes written. */
typedef void (*bus_handler)(void *opaque, uint64_t offset, uint8_t *data,
			    unsigned len, bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_handler fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;               /* "pio" or "mmio", for messages */
	struct bus_range *ranges;       /* sorted by base */
	unsigned n, cap;
	pthread_rwlock_t lock;
	uint64_t unclaimed;             /* accesses no range claimed */
	uint64_t dispatched;
};

void bus_init(struct bus *b, const char *name);
void bus_destroy(struct bus *b);
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler fn,
		 void *opaque, const char *name, struct error *err);
void bus_unregister(struct bus *b, uint64_t base);
/* Returns false if no range claims [addr, addr+len): reads then see all-ones.
 * The handler is called without the bus lock held. */
bool bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, unsigned len,
		  bool is_write);

#endif

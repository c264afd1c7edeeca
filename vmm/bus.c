#include "bus.h"

#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	pthread_rwlock_init(&b->lock, NULL);
}

void bus_destroy(struct bus *b)
{
	free(b->ranges);
	pthread_rwlock_destroy(&b->lock);
	memset(b, 0, sizeof(*b));
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler fn,
		 void *opaque, const char *name, struct error *err)
{
	unsigned i;

	if (len == 0 || base + len < base)
		return err_set(err, "%s bus: bad range 0x%llx+0x%llx for %s", b->name,
			       (unsigned long long)base, (unsigned long long)len, name);
	pthread_rwlock_wrlock(&b->lock);
	for (i = 0; i < b->n && b->ranges[i].base < base; i++)
		;
	if ((i > 0 && b->ranges[i - 1].base + b->ranges[i - 1].len > base) ||
	    (i < b->n && base + len > b->ranges[i].base)) {
		const struct bus_range *o = &b->ranges[i > 0 &&
			b->ranges[i - 1].base + b->ranges[i - 1].len > base ? i - 1 : i];

		pthread_rwlock_unlock(&b->lock);
		return err_set(err, "%s bus: %s at 0x%llx overlaps %s at 0x%llx",
			       b->name, name, (unsigned long long)base, o->name,
			       (unsigned long long)o->base);
	}
	if (b->n == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *r = realloc(b->ranges, cap * sizeof(*r));

		if (!r) {
			pthread_rwlock_unlock(&b->lock);
			return err_set(err, "out of memory");
		}
		b->ranges = r;
		b->cap = cap;
	}
	memmove(&b->ranges[i + 1], &b->ranges[i], (b->n - i) * sizeof(*b->ranges));
	b->ranges[i] = (struct bus_range){ base, len, fn, opaque, name };
	b->n++;
	pthread_rwlock_unlock(&b->lock);
	return 0;
}

void bus_unregister(struct bus *b, uint64_t base)
{
	pthread_rwlock_wrlock(&b->lock);
	for (unsigned i = 0; i < b->n; i++) {
		if (b->ranges[i].base == base) {
			memmove(&b->ranges[i], &b->ranges[i + 1],
				(b->n - i - 1) * sizeof(*b->ranges));
			b->n--;
			break;
		}
	}
	pthread_rwlock_unlock(&b->lock);
}

/* Binary search for the range containing addr. Caller holds the lock. */
static const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, unsigned len,
		  bool is_write)
{
	const struct bus_range *r;
	struct bus_range hit;
	bool claimed = false;

	/* The handler runs without the lock: a handler may change the map
	 * itself (a PCI BAR write through ECAM, which is on the MMIO bus).
	 * Handlers and their state live until every vCPU has stopped. */
	pthread_rwlock_rdlock(&b->lock);
	r = bus_find(b, addr);
	if (r && len <= r->len - (addr - r->base)) {
		hit = *r;
		claimed = true;
	}
	pthread_rwlock_unlock(&b->lock);
	if (claimed) {
		hit.fn(hit.opaque, addr - hit.base, data, len, is_write);
		__atomic_add_fetch(&b->dispatched, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_add_fetch(&b->unclaimed, 1, __ATOMIC_RELAXED);
		if (!is_write)
			memset(data, 0xff, len);
	}
	return claimed;
}

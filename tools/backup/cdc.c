/* The gear-hash chunker (cdc.h). */
#include "cdc.h"

#include <pthread.h>

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

/* A fixed table: splitmix64 from a fixed seed (it is part of the format:
 * other values would cut elsewhere, and only lose deduplication). */
static void gear_init(void)
{
	uint64_t x = 0x766573736c626b70ULL;     /* "vesslbkp" */

	for (int i = 0; i < 256; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		gear[i] = z ^ (z >> 31);
	}
}

size_t cdc_cut(const uint8_t *p, size_t n)
{
	/* The top bits of the hash see the most bytes: test those. */
	const uint64_t mask = (uint64_t)(CDC_AVG - 1) << (64 - 18);
	size_t end = n < CDC_MAX ? n : CDC_MAX;
	uint64_t h = 0;

	if (n <= CDC_MIN)
		return n;
	pthread_once(&gear_once, gear_init);
	for (size_t i = CDC_MIN - 64; i < end; i++) {
		h = (h << 1) + gear[p[i]];
		if (i >= CDC_MIN && !(h & mask))
			return i + 1;
	}
	return end;
}

/* Monotonic time for deadlines and timeouts. */
#ifndef VESSEL_CLOCK_H
#define VESSEL_CLOCK_H

#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC. */
static inline long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#endif

/* Monotonic time for deadlines and timeouts; wall-clock time for moments
 * that two processes on one machine compare (a migration's pause and its
 * resume on the other side). */
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

/* Microseconds of CLOCK_REALTIME (since the epoch). */
static inline long long wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

#endif

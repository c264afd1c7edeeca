/* Growing arrays: room for one more element. */
#ifndef VESSEL_BASE_GROW_H
#define VESSEL_BASE_GROW_H

#include "error.h"

#include <stddef.h>

/* *arrp (a pointer to an array of elements of `size` bytes, `n` of them
 * used, `*cap` allocated) gets room for one more: when full, its capacity
 * doubles (from `first`). On failure *arrp and *cap are unchanged. */
int grow_one(void *arrp, size_t n, size_t *cap, size_t size, size_t first,
	     struct error *err);

#endif

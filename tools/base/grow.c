#include "grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int grow_one(void *arrp, size_t n, size_t *cap, size_t size, size_t first,
	     struct error *err)
{
	size_t want;
	void *p;

	if (n < *cap)
		return 0;
	want = *cap ? 2 * *cap : first;
	if (want < *cap || want > SIZE_MAX / size)
		return err_set(err, "out of memory");
	memcpy(&p, arrp, sizeof(p));
	p = realloc(p, want * size);
	if (!p)
		return err_set(err, "out of memory");
	memcpy(arrp, &p, sizeof(p));
	*cap = want;
	return 0;
}

/* Copying big, mostly empty files (disk images, a data filesystem)
 * without filling their holes. */
#ifndef VESSEL_SPARSE_COPY_H
#define VESSEL_SPARSE_COPY_H

#include <stdint.h>

#include "../base/error.h"

/* Copy len bytes of in (from 0) to out at out_off, skipping holes (the
 * caller made out big enough: what is skipped reads as zeros). */
int sparse_copy_fd(int in, int out, uint64_t out_off, uint64_t len,
		   struct error *err);
/* Copy the file from to the new file to (mode 0644), holes kept. */
int sparse_copy_file(const char *from, const char *to, struct error *err);

#endif

/* The shared libraries a dynamically linked program needs (ldd's list,
 * the dynamic loader included), added to an image at the paths ldd
 * names, so the program runs there. A static program needs none. */
#ifndef VESSEL_LIBDEPS_H
#define VESSEL_LIBDEPS_H

#include <stddef.h>

#include "fileset.h"

/* Parse ldd's output: each absolute path it names, once, in *paths. */
int libdeps_parse(const char *text, char ***paths, size_t *npaths,
		  struct error *err);
int libdeps_add(struct fileset *fs, const char *program, size_t *added,
		struct error *err);

#endif

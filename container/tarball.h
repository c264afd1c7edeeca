/* Tarball rootfs (rootfs: x.tar or x.tar.gz): unpacked for one run into
 * $VESSEL_CACHE_DIR/rootfs/<vessel pid>.<name>.XXXXXX (VESSEL_CACHE_DIR
 * defaults to /var/cache/vessel) and removed when the container is gone.
 * Entries are created through pathres.h, so "../" and symlink tricks in
 * the archive cannot write outside; ids are shifted by idshift (100000
 * with userns: true). A directory whose vessel pid no longer exists is a
 * leftover of a killed vessel: the next run removes it (tarball_sweep). */
#ifndef VESSEL_TARBALL_H
#define VESSEL_TARBALL_H

#include <stdbool.h>

#include "../tools/error.h"

#define TARBALL_CACHE_DEFAULT "/var/cache/vessel"

bool tarball_is_archive(const char *rootfs);
/* *dir gets the new directory (malloc'd), also on failure once it was
 * created, so that the caller removes it. */
int tarball_unpack(const char *archive, const char *name, unsigned idshift,
		   char **dir, struct error *err);
void tarball_sweep(void);

#endif

/* Tarball rootfs (rootfs: x.tar or x.tar.gz): unpacked for one run into
 * $VESSEL_CACHE_DIR/rootfs/<vessel pid>.<name>.XXXXXX/rootfs
 * (VESSEL_CACHE_DIR defaults to /var/cache/vessel) and removed when the
 * container is gone.
 *
 * Hostile archives: entries are created through pathres.h, so "../" and
 * symlink tricks cannot write outside; device nodes are never created
 * (skipped; a warning names those outside dev/); the run's directory is
 * root's and 0700 (0710 with group the mapped root's with userns: true),
 * and rootfs/ is root's 0710, so no other host user reaches the tree and
 * its setuid files; an archive that unpacks to more than
 * $VESSEL_UNPACK_MAX_BYTES (16 GiB) or $VESSEL_UNPACK_MAX_ENTRIES
 * (1000000) entries is refused. Ids are shifted by idshift (100000 with
 * userns: true). A directory whose vessel pid no longer exists is a
 * leftover of a killed vessel: the next run removes it (tarball_sweep). */
#ifndef VESSEL_TARBALL_H
#define VESSEL_TARBALL_H

#include <stdbool.h>

#include "../tools/base/error.h"

#define TARBALL_CACHE_DEFAULT "/var/cache/vessel"
#define TARBALL_SUBDIR "rootfs"
#define TARBALL_ROOT "rootfs"		/* the tree, inside the run's dir */
#define TARBALL_MAX_BYTES (16ULL << 30)
#define TARBALL_MAX_ENTRIES 1000000ULL

bool tarball_is_archive(const char *rootfs);
/* *dir gets the run's new directory (malloc'd), also on failure once it
 * was created, so that the caller removes it; *root the tree inside it. */
int tarball_unpack(const char *archive, const char *name, unsigned idshift,
		   char **dir, char **root, struct error *err);
void tarball_sweep(void);

#endif

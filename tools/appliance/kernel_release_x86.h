/* The release string ("6.1.0-57-amd64") of an x86 bzImage, from its
 * setup header's kernel_version field (boot protocol 2.00+): names the
 * kernel's /lib/modules directory. */
#ifndef VESSEL_KERNEL_RELEASE_X86_H
#define VESSEL_KERNEL_RELEASE_X86_H

#include <stddef.h>

#include "../base/error.h"

/* 0 with the release in out; -1 (an input error) when path is not a
 * bzImage with a version string. */
int kernel_release_x86(const char *path, char *out, size_t size,
		       struct error *err);

#endif

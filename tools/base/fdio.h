/* Small file-descriptor helpers shared by the VMM, the container runtime
 * and the CLI. */
#ifndef VESSEL_FDIO_H
#define VESSEL_FDIO_H

#include <stddef.h>

/* Write all of buf (retrying short writes and EINTR): 0, or -1 with errno
 * (a write of 0 bytes counts as an error: EIO). */
int write_all(int fd, const void *buf, size_t len);

#endif

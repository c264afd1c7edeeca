/* What the machine tells the block devices about one disk: the image and
 * how to open it, and where the guest finds it. Filled from the guest's
 * definition by tools/ (config.c); the devices never see the definition. */
#ifndef VESSEL_DISK_SPEC_H
#define VESSEL_DISK_SPEC_H

#include <stdbool.h>

enum disk_cache { DISK_CACHE_NONE, DISK_CACHE_WRITEBACK };

struct disk_spec {
	char *path;                     /* resolved raw image or block device */
	bool readonly;                  /* VIRTIO_BLK_F_RO, opened O_RDONLY */
	enum disk_cache cache;          /* none: O_DIRECT + libaio (default) */
	unsigned slot;                  /* PCI slot 1..31 */
};

#endif

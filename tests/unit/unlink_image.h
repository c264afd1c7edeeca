/* Remove a test's disk image and the backup bitmap a VM's disk leaves
 * beside it (IMAGE.vbitmap, devices/block/cbt.h). */
#ifndef VESSEL_TEST_UNLINK_IMAGE_H
#define VESSEL_TEST_UNLINK_IMAGE_H

#include <stdio.h>
#include <unistd.h>

#include "../../devices/block/bitmap_file.h"

static inline void unlink_image(const char *path)
{
	char bm[4096];

	unlink(path);
	if (blk_bitmap_path(path, bm, sizeof(bm)) == 0)
		unlink(bm);
}

#endif

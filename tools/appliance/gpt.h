/* A GUID partition table (UEFI spec, chapter 5): protective MBR, the
 * primary header and 128 entries at LBA 1-33, their backup at the end of
 * the disk. 512-byte sectors. */
#ifndef VESSEL_GPT_H
#define VESSEL_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/error.h"

#define GPT_SECTOR 512u
#define GPT_ENTRIES 128u
#define GPT_FIRST_LBA 34u       /* after MBR, header, 32 sectors of entries */

/* A GUID as 16 bytes in RFC 4122 (text) order. */
struct guid {
	uint8_t b[16];
};

extern const struct guid GPT_TYPE_ESP;          /* C12A7328-F81F-11D2-BA4B-00A0C93EC93B */
extern const struct guid GPT_TYPE_LINUX_DATA;   /* 0FC63DAF-8483-4772-8E79-3D69D8477DE4 */

struct gpt_part {
	struct guid type;
	struct guid unique;
	uint64_t first_lba, last_lba;   /* inclusive */
	const char *name;               /* ASCII, at most 36 characters */
};

/* A version-4-shaped GUID from a hash of seed: the same seed, the same
 * GUID (reproducible images), different seeds differ. */
struct guid guid_derive(const char *seed);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (37 bytes with the NUL). */
void guid_text(const struct guid *g, char out[37]);
/* Write the tables onto fd, a disk of disk_bytes (a multiple of 512). The
 * partitions must lie inside the usable area, not overlap. */
int gpt_write(int fd, uint64_t disk_bytes, const struct guid *disk,
	      const struct gpt_part *parts, size_t nparts, struct error *err);

#endif

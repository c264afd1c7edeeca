/* Writing an appliance image's outputs (tools/appliance/image_output.c)
 * once image_build.c has gathered the parts. */
#ifndef VESSEL_IMAGE_OUTPUT_H
#define VESSEL_IMAGE_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image_build.h"

struct image_parts {
	const char *work;       /* the work directory, for scratch files */
	const char *kernel;     /* the host kernel */
	const char *initrd;     /* the initramfs (in work; moved, not copied) */
	const char *cmdline;    /* the command line's file (likewise) */
	const char *hostname;   /* seeds the GUIDs, UUIDs and volume id */
	const char *hostfile;   /* host.yaml, for messages */
	uint64_t data_size;     /* the data partition's; 0: none */
	char *const *disks;     /* their paths on it, under guests/ */
	char *const *disk_src;  /* and the files they come from */
	size_t ndisks;
	uint64_t disk_bytes;    /* what they occupy */
	uint32_t mtime;         /* SOURCE_DATE_EPOCH, or 0 */
	int64_t fs_time;        /* the same, at least 1980 (FAT, ext4) */
};

/* The GPT disk image at out. */
int image_write_disk(const struct image_parts *p, const char *out,
		     struct image_report *rep, struct error *err);
/* The directory out: vmlinuz, initrd.img, cmdline, data.img. */
int image_write_dir(const struct image_parts *p, const char *out,
		    struct image_report *rep, struct error *err);
/* Rename tmp to out; a directory already at out is replaced. */
int image_publish(const char *tmp, const char *out, bool is_dir,
		  struct error *err);
int write_text_file(const char *path, const char *text, struct error *err);

#endif

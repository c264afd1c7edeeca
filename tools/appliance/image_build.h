/* `vessel image build`: an appliance directory (host.yaml, guests/NAME.yaml
 * and the files they use) made into a bootable image (APPLIANCE.md): a
 * GPT disk with an EFI system partition holding a unified kernel image
 * and an ext4 data partition, or a kernel, an initramfs, a command line
 * and a data file system for PXE or qemu -kernel. Reproducible: the same
 * inputs give the same bytes. */
#ifndef VESSEL_IMAGE_BUILD_H
#define VESSEL_IMAGE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "../base/error.h"

enum image_format { IMAGE_DISK, IMAGE_KERNEL_INITRD };

struct image_opts {
	const char *dir;        /* the appliance directory */
	const char *out;        /* a file (disk) or a directory (kernel+initrd) */
	enum image_format format;
	const char *kernel;     /* NULL: host.yaml kernel:, else /boot/vmlinuz-`uname -r` */
	const char *moddir;     /* NULL: /lib/modules/RELEASE */
	const char *vessel;     /* the binary to install; NULL: this one */
};

struct image_report {
	uint64_t image_bytes;   /* the disk image (or the directory's files) */
	uint64_t initrd_bytes;  /* the compressed initramfs */
	uint64_t initrd_raw;    /* its uncompressed cpio */
	uint64_t esp_bytes, data_bytes;
	size_t nguests, nmodules, nfiles;
	char release[128];
};

/* Build it. Bad input (a definition failing its checks, a missing file, a
 * kernel without a needed module, a disk with no data partition) is an
 * input error (err->input). Nothing is left at out on failure. */
int image_build(const struct image_opts *o, struct image_report *rep,
		struct error *err);

#endif

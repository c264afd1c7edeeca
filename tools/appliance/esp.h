/* The EFI system partition: a FAT file system (mkfs.vfat) holding one
 * file, /EFI/BOOT/BOOTX64.EFI (mtools), with a fixed volume id and
 * timestamps (mkfs.vfat --invariant, mcopy -m, SOURCE_DATE_EPOCH for
 * mtools): reproducible. */
#ifndef VESSEL_ESP_H
#define VESSEL_ESP_H

#include <stdint.h>

#include "../base/error.h"

/* Create out holding efi_app as /EFI/BOOT/BOOTX64.EFI; *size is its
 * size in bytes (a multiple of 1 MiB, room for the file). */
int esp_build(const char *efi_app, const char *out, uint32_t volume_id,
	      int64_t fs_time, uint64_t *size, struct error *err);

#endif

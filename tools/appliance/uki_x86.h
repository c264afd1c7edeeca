/* A unified kernel image for x86-64 UEFI: systemd-boot-efi's
 * linuxx64.efi.stub with .osrel, .cmdline, .linux and .initrd sections
 * added by objcopy, placed one after another past the stub's image. */
#ifndef VESSEL_UKI_X86_H
#define VESSEL_UKI_X86_H

#include <stdint.h>

#include "../base/error.h"

#define UKI_STUB_DEFAULT "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

struct uki_parts {
	const char *stub;       /* NULL: $VESSEL_EFI_STUB or UKI_STUB_DEFAULT */
	const char *osrel;      /* files */
	const char *cmdline;
	const char *kernel;
	const char *initrd;
	uint32_t timestamp;     /* the PE header's TimeDateStamp */
};

/* Where the stub's image ends (ImageBase + SizeOfImage), from its PE
 * header: the first free address for the added sections. */
int pe_image_end(const unsigned char *buf, size_t len, uint64_t *end,
		 struct error *err);
/* Set a PE file's TimeDateStamp and recompute its CheckSum, in buf. */
int pe_set_timestamp(unsigned char *buf, size_t len, uint32_t stamp,
		     struct error *err);
int uki_build(const struct uki_parts *p, const char *out, struct error *err);

#endif

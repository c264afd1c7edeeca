/* The compressed kernel inside a bzImage ("payload": the ELF vmlinux, as
 * the kernel's build compressed it), found from the setup header and
 * decompressed on the host. Both are parsers of hostile input: every
 * offset is checked and the output never exceeds the size the payload
 * declares, itself at most a limit. */
#ifndef VESSEL_PAYLOAD_H
#define VESSEL_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "../tools/base/error.h"

/* No sane kernel inflates beyond this. */
#define PAYLOAD_MAX_SIZE (512u << 20)

enum payload_format {
	PAYLOAD_UNKNOWN,
	PAYLOAD_GZIP,           /* zlib */
	PAYLOAD_XZ,             /* liblzma, with the x86 BCJ filter */
	PAYLOAD_LZMA,           /* liblzma, the legacy .lzma container */
	PAYLOAD_ZSTD,           /* libzstd */
	PAYLOAD_LZ4,            /* liblz4, the legacy frame `lz4 -l` writes */
	PAYLOAD_BZIP2,          /* recognised, not decompressed */
	PAYLOAD_LZO,            /* recognised, not decompressed */
};

struct payload {
	enum payload_format format;
	const uint8_t *data;    /* the compressed stream */
	size_t len;
	uint32_t size;          /* the decompressed size it declares */
};

const char *payload_format_name(enum payload_format f);

/* The payload as the kernel's build leaves it: a compressed stream whose
 * last 4 bytes are the decompressed size, little-endian (gzip's ISIZE, an
 * appended word for the others). Returns 0 and fills *pl, or -1 with why
 * in err (unknown format, a size of 0 or above max_size, too short). */
int payload_parse(const uint8_t *p, size_t len, uint32_t max_size,
		  struct payload *pl, struct error *err);

/* The payload of a bzImage, from its setup header (boot protocol 2.08+:
 * payload_offset, payload_length). Returns 0 and fills *pl, or -1. */
int bzimage_payload(const uint8_t *img, size_t len, uint32_t max_size,
		    struct payload *pl, struct error *err);

/* Decompress into a new buffer of exactly pl->size bytes (free() it).
 * Output that would exceed it, or that falls short, is an error. */
int payload_decompress(const struct payload *pl, uint8_t **out,
		       struct error *err);

#endif

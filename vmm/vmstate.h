/* The one state format: what snapshot writes and migration will stream.
 * A state image is a header, a list of sections and a trailer:
 *
 *   header   magic "VESSELST", format version, flags, payload length
 *   section  id (NUL-padded name such as "vcpu.0" or "virtio-blk.1"),
 *            the section's own version, payload length, payload
 *   ...
 *   trailer  crc32 (zlib) of everything before it
 *
 * All integers are little-endian. docs/state-format.md has the byte
 * layout and the version rules. A state image is untrusted input: the
 * reader checks the magic, the version, the checksum and every length
 * before anything else looks at a byte, and every get is bounds-checked. */
#ifndef VESSEL_VMSTATE_H
#define VESSEL_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tools/base/error.h"

#define VMSTATE_MAGIC          "VESSELST"
#define VMSTATE_FORMAT_VERSION 1
#define VMSTATE_ID_LEN         32       /* bytes, NUL-padded, NUL-terminated */
#define VMSTATE_MAX_SIZE       (64u << 20)  /* a state image larger is refused */

/* ---- writing ---- */

struct vmstate_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t sec;             /* offset of the open section's header; 0: none */
	bool failed;            /* out of memory or misuse: finish fails */
};

void vmstate_writer_init(struct vmstate_writer *w);
void vmstate_writer_free(struct vmstate_writer *w);
/* Open a section; sections do not nest. `id` longer than
 * VMSTATE_ID_LEN - 1 bytes makes the writer fail. */
void vmstate_begin(struct vmstate_writer *w, const char *id, uint32_t version);
void vmstate_put(struct vmstate_writer *w, const void *p, size_t len);
void vmstate_put_u8(struct vmstate_writer *w, uint8_t v);
void vmstate_put_u16(struct vmstate_writer *w, uint16_t v);
void vmstate_put_u32(struct vmstate_writer *w, uint32_t v);
void vmstate_put_u64(struct vmstate_writer *w, uint64_t v);
void vmstate_end(struct vmstate_writer *w);
/* Seal the image (header length, crc32 trailer). Afterwards w->buf,
 * w->len is the whole image. -1 with err if the writer failed. */
int vmstate_finish(struct vmstate_writer *w, struct error *err);

/* ---- reading ---- */

struct vmstate_reader {
	const uint8_t *buf;     /* the whole image, checked by vmstate_open */
	size_t len;
	uint32_t format_version;
};

/* One section found in an image, with a read cursor over its payload. */
struct vmstate_section {
	char id[VMSTATE_ID_LEN];
	uint32_t version;
	const uint8_t *data;
	size_t len, pos;
};

/* Check magic, format version, lengths and crc32. Errors name what is
 * wrong: "not a vessel state file", "state format 7 is newer than this
 * vessel reads (1)", "checksum mismatch: the state file is corrupted",
 * "truncated". buf must outlive the reader. */
int vmstate_open(struct vmstate_reader *r, const void *buf, size_t len,
		 struct error *err);
/* Find section `id`. -1 with "missing section ID" if absent. */
int vmstate_find(const struct vmstate_reader *r, const char *id,
		 struct vmstate_section *s, struct error *err);
/* Walk the sections in order: *cursor starts at 0; returns 1 with *s
 * filled, 0 at the end. */
int vmstate_next(const struct vmstate_reader *r, size_t *cursor,
		 struct vmstate_section *s);
/* Bounds-checked reads from a section: -1 with "SECTION: truncated"
 * when fewer than len bytes are left. */
int vmstate_get(struct vmstate_section *s, void *p, size_t len, struct error *err);
int vmstate_get_u8(struct vmstate_section *s, uint8_t *v, struct error *err);
int vmstate_get_u16(struct vmstate_section *s, uint16_t *v, struct error *err);
int vmstate_get_u32(struct vmstate_section *s, uint32_t *v, struct error *err);
int vmstate_get_u64(struct vmstate_section *s, uint64_t *v, struct error *err);
/* -1 with "SECTION: version V, this vessel reads up to MAX" when newer. */
int vmstate_check_version(const struct vmstate_section *s, uint32_t max,
			  struct error *err);

#endif

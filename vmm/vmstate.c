/* The state image (vmstate.h, docs/state-format.md): a writer that
 * appends sections to a growable buffer and seals it with a crc32, and a
 * reader that checks a whole image, which is hostile input, before
 * anything reads a byte of it.
 *
 *   header   "VESSELST" | u32 format version | u32 flags | u64 payload length
 *   section  id[32] (NUL-padded) | u32 version | u32 length | payload
 *   trailer  u32 crc32 of header and payload
 */
#include "vmstate.h"
#include "../tools/base/le.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HDR_LEN     24u   /* magic, format version, flags, payload length */
#define SEC_HDR_LEN 40u   /* id, version, length */
#define TRAILER_LEN 4u    /* crc32 */

/* ---- writing ---- */

/* Room for n more bytes; false (and the writer failed) if there is none. */
static bool reserve(struct vmstate_writer *w, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (w->failed)
		return false;
	if (n > VMSTATE_MAX_SIZE - w->len) { /* len <= MAX always */
		w->failed = true;
		return false;
	}
	if (w->len + n <= w->cap)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap < w->len + n)
		cap *= 2;
	p = realloc(w->buf, cap);
	if (!p) {
		w->failed = true;
		return false;
	}
	w->buf = p;
	w->cap = cap;
	return true;
}

void vmstate_writer_init(struct vmstate_writer *w)
{
	memset(w, 0, sizeof(*w));
	if (reserve(w, HDR_LEN)) {
		memset(w->buf, 0, HDR_LEN);	/* sealed by vmstate_finish */
		w->len = HDR_LEN;
	}
}

void vmstate_writer_free(struct vmstate_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void vmstate_begin(struct vmstate_writer *w, const char *id, uint32_t version)
{
	size_t n = strnlen(id, VMSTATE_ID_LEN);

	if (w->sec || n == 0 || n >= VMSTATE_ID_LEN) {
		w->failed = true;	/* nested, or an id that does not fit */
		return;
	}
	if (!reserve(w, SEC_HDR_LEN))
		return;
	memset(w->buf + w->len, 0, SEC_HDR_LEN);
	memcpy(w->buf + w->len, id, n);
	le32(w->buf + w->len + VMSTATE_ID_LEN, version);
	w->sec = w->len;
	w->len += SEC_HDR_LEN;
}

void vmstate_put(struct vmstate_writer *w, const void *p, size_t len)
{
	if (!w->sec) {
		w->failed = true;	/* outside a section */
		return;
	}
	if (!reserve(w, len))
		return;
	if (len)
		memcpy(w->buf + w->len, p, len);
	w->len += len;
}

void vmstate_put_u8(struct vmstate_writer *w, uint8_t v)
{
	vmstate_put(w, &v, 1);
}

void vmstate_put_u16(struct vmstate_writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	vmstate_put(w, b, sizeof(b));
}

void vmstate_put_u32(struct vmstate_writer *w, uint32_t v)
{
	uint8_t b[4] = { 0 };

	le32(b, v);
	vmstate_put(w, b, sizeof(b));
}

void vmstate_put_u64(struct vmstate_writer *w, uint64_t v)
{
	uint8_t b[8] = { 0 };

	le64(b, v);
	vmstate_put(w, b, sizeof(b));
}

void vmstate_end(struct vmstate_writer *w)
{
	if (!w->sec) {
		w->failed = true;
		return;
	}
	if (!w->failed) /* len <= VMSTATE_MAX_SIZE: fits in u32 */
		le32(w->buf + w->sec + VMSTATE_ID_LEN + 4,
		     (uint32_t)(w->len - w->sec - SEC_HDR_LEN));
	w->sec = 0;
}

int vmstate_finish(struct vmstate_writer *w, struct error *err)
{
	if (w->sec)
		w->failed = true;	/* a section left open */
	if (!reserve(w, TRAILER_LEN))
		return err_set(err, "cannot build the state image (out of memory, "
			       "larger than %u bytes, or a bad section)",
			       VMSTATE_MAX_SIZE);
	memcpy(w->buf, VMSTATE_MAGIC, 8);
	le32(w->buf + 8, VMSTATE_FORMAT_VERSION);
	le32(w->buf + 12, 0);
	le64(w->buf + 16, w->len - HDR_LEN);
	le32(w->buf + w->len, (uint32_t)crc32(0, w->buf, (uInt)w->len));
	w->len += TRAILER_LEN;
	return 0;
}

/* ---- reading ---- */

/* The section header at payload offset off; the caller knows it fits. */
static void section_at(const struct vmstate_reader *r, size_t off,
		       struct vmstate_section *s)
{
	const uint8_t *h = r->buf + HDR_LEN + off;

	memcpy(s->id, h, VMSTATE_ID_LEN);
	s->version = rd32(h + VMSTATE_ID_LEN);
	s->len = rd32(h + VMSTATE_ID_LEN + 4);
	s->data = h + SEC_HDR_LEN;
	s->pos = 0;
}

/* Every section header and length in payload [0, plen). */
static int check_sections(const struct vmstate_reader *r, size_t plen,
			  struct error *err)
{
	struct vmstate_section s, t;
	size_t off = 0, n;

	while (off < plen) {
		if (plen - off < SEC_HDR_LEN)
			return err_input(err, "state: section header at offset %zu "
					 "is cut short: the state file is corrupted",
					 HDR_LEN + off);
		section_at(r, off, &s);
		n = strnlen(s.id, VMSTATE_ID_LEN);
		if (n == 0 || n == VMSTATE_ID_LEN)
			return err_input(err, "state: section at offset %zu has "
					 "no valid id", HDR_LEN + off);
		for (size_t i = n; i < VMSTATE_ID_LEN; i++)
			if (s.id[i])
				return err_input(err, "state: section at offset %zu "
						 "has no valid id", HDR_LEN + off);
		if (s.len > plen - off - SEC_HDR_LEN)
			return err_input(err, "state: section %s is %zu bytes, "
					 "more than the image holds", s.id, s.len);
		for (size_t c = 0; c < off;) {	/* ids are unique */
			section_at(r, c, &t);
			if (!memcmp(t.id, s.id, VMSTATE_ID_LEN))
				return err_input(err, "state: section %s appears "
						 "twice", s.id);
			c += SEC_HDR_LEN + t.len;
		}
		off += SEC_HDR_LEN + s.len;
	}
	return 0;
}

int vmstate_open(struct vmstate_reader *r, const void *buf, size_t len,
		 struct error *err)
{
	const uint8_t *b = buf;
	uint64_t plen;
	uint32_t fmt, flags;

	memset(r, 0, sizeof(*r));
	if (len == 0 || memcmp(b, VMSTATE_MAGIC, len < 8 ? len : 8))
		return err_input(err, "not a vessel state file");
	if (len < HDR_LEN)
		return err_input(err, "state: truncated (%zu bytes)", len);
	fmt = rd32(b + 8);
	if (fmt > VMSTATE_FORMAT_VERSION)
		return err_input(err, "state format %u is newer than this vessel "
				 "reads (%u)", fmt, VMSTATE_FORMAT_VERSION);
	if (fmt == 0)
		return err_input(err, "not a vessel state file (format 0)");
	if (len > VMSTATE_MAX_SIZE)
		return err_input(err, "state: %zu bytes, larger than the %u a "
				 "state file can be", len, VMSTATE_MAX_SIZE);
	plen = rd64(b + 16);
	if (len < HDR_LEN + TRAILER_LEN || plen > len - HDR_LEN - TRAILER_LEN)
		return err_input(err, "state: truncated (%zu bytes, the header "
				 "says %llu)", len,
				 (unsigned long long)plen + HDR_LEN + TRAILER_LEN);
	if (plen != len - HDR_LEN - TRAILER_LEN)
		return err_input(err, "state: %zu bytes, the header says %llu: "
				 "the state file is corrupted", len,
				 (unsigned long long)plen + HDR_LEN + TRAILER_LEN);
	if (crc32(0, b, (uInt)(len - TRAILER_LEN)) != rd32(b + len - TRAILER_LEN))
		return err_input(err, "checksum mismatch: the state file is corrupted");
	flags = rd32(b + 12);
	if (flags)
		return err_input(err, "state: unknown flags 0x%x", flags);
	r->buf = b;
	r->len = len;
	r->format_version = fmt;
	if (check_sections(r, plen, err) < 0) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	return 0;
}

int vmstate_next(const struct vmstate_reader *r, size_t *cursor,
		 struct vmstate_section *s)
{
	size_t plen = r->len >= HDR_LEN + TRAILER_LEN ?
		      r->len - HDR_LEN - TRAILER_LEN : 0;

	/* vmstate_open checked every header; a stale cursor still stops */
	if (*cursor >= plen || plen - *cursor < SEC_HDR_LEN)
		return 0;
	section_at(r, *cursor, s);
	if (s->len > plen - *cursor - SEC_HDR_LEN)
		return 0;
	*cursor += SEC_HDR_LEN + s->len;
	return 1;
}

int vmstate_find(const struct vmstate_reader *r, const char *id,
		 struct vmstate_section *s, struct error *err)
{
	size_t cursor = 0;

	while (vmstate_next(r, &cursor, s) > 0)
		if (!strncmp(s->id, id, VMSTATE_ID_LEN))
			return 0;
	return err_input(err, "state: missing section %s", id);
}

int vmstate_get(struct vmstate_section *s, void *p, size_t len, struct error *err)
{
	if (s->pos > s->len || len > s->len - s->pos)
		return err_input(err, "%.*s: truncated", VMSTATE_ID_LEN, s->id);
	if (len)
		memcpy(p, s->data + s->pos, len);
	s->pos += len;
	return 0;
}

int vmstate_get_u8(struct vmstate_section *s, uint8_t *v, struct error *err)
{
	return vmstate_get(s, v, 1, err);
}

int vmstate_get_u16(struct vmstate_section *s, uint16_t *v, struct error *err)
{
	uint8_t b[2] = { 0 };

	if (vmstate_get(s, b, sizeof(b), err) < 0)
		return -1;
	*v = (uint16_t)(b[0] | b[1] << 8);
	return 0;
}

int vmstate_get_u32(struct vmstate_section *s, uint32_t *v, struct error *err)
{
	uint8_t b[4] = { 0 };

	if (vmstate_get(s, b, sizeof(b), err) < 0)
		return -1;
	*v = rd32(b);
	return 0;
}

int vmstate_get_u64(struct vmstate_section *s, uint64_t *v, struct error *err)
{
	uint8_t b[8] = { 0 };

	if (vmstate_get(s, b, sizeof(b), err) < 0)
		return -1;
	*v = rd64(b);
	return 0;
}

int vmstate_check_version(const struct vmstate_section *s, uint32_t max,
			  struct error *err)
{
	if (s->version > max)
		return err_input(err, "%.*s: version %u, this vessel reads up to %u",
				 VMSTATE_ID_LEN, s->id, s->version, max);
	return 0;
}

/* The state format (vmstate.h). MINIMAL STAND-IN written by the devices
 * helper so its tree builds and tests; helper "state" owns the real one,
 * which replaces this file at merge. Layout: header "VESSELST" u32 format
 * u32 flags u64 payload length; sections: id[32] u32 version u32 length
 * payload; trailer u32 crc32 of everything before it. */
#include "vmstate.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HDR_LEN   24
#define SEC_HDR   (VMSTATE_ID_LEN + 8)

static void put_raw(struct vmstate_writer *w, const void *p, size_t len)
{
	if (w->failed)
		return;
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *b;

		while (cap < w->len + len)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->failed = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, len);
	w->len += len;
}

static void le(uint8_t *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

void vmstate_writer_init(struct vmstate_writer *w)
{
	uint8_t h[HDR_LEN] = { 0 };

	memset(w, 0, sizeof(*w));
	memcpy(h, VMSTATE_MAGIC, 8);
	le(h + 8, VMSTATE_FORMAT_VERSION, 4);
	put_raw(w, h, sizeof(h));
}

void vmstate_writer_free(struct vmstate_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void vmstate_begin(struct vmstate_writer *w, const char *id, uint32_t version)
{
	uint8_t h[SEC_HDR] = { 0 };
	size_t n = strlen(id);

	if (w->sec || n >= VMSTATE_ID_LEN) {
		w->failed = true;
		return;
	}
	memcpy(h, id, n);
	le(h + VMSTATE_ID_LEN, version, 4);
	w->sec = w->len;
	put_raw(w, h, sizeof(h));
}

void vmstate_put(struct vmstate_writer *w, const void *p, size_t len)
{
	if (!w->sec)
		w->failed = true;
	put_raw(w, p, len);
}

void vmstate_put_u8(struct vmstate_writer *w, uint8_t v) { vmstate_put(w, &v, 1); }
void vmstate_put_u16(struct vmstate_writer *w, uint16_t v) { uint8_t b[2]; le(b, v, 2); vmstate_put(w, b, 2); }
void vmstate_put_u32(struct vmstate_writer *w, uint32_t v) { uint8_t b[4]; le(b, v, 4); vmstate_put(w, b, 4); }
void vmstate_put_u64(struct vmstate_writer *w, uint64_t v) { uint8_t b[8]; le(b, v, 8); vmstate_put(w, b, 8); }

void vmstate_end(struct vmstate_writer *w)
{
	if (!w->sec) {
		w->failed = true;
		return;
	}
	if (!w->failed) {
		size_t n = w->len - w->sec - SEC_HDR;

		if (n > UINT32_MAX)
			w->failed = true;
		else
			le(w->buf + w->sec + VMSTATE_ID_LEN + 4, n, 4);
	}
	w->sec = 0;
}

int vmstate_finish(struct vmstate_writer *w, struct error *err)
{
	uint8_t t[4];

	if (w->sec || w->failed)
		return err_set(err, "state: cannot write the state image");
	le(w->buf + 16, w->len - HDR_LEN, 8);
	le(t, crc32(0, w->buf, (uInt)w->len), 4);
	put_raw(w, t, 4);
	if (w->failed)
		return err_set(err, "out of memory");
	return 0;
}

int vmstate_open(struct vmstate_reader *r, const void *buf, size_t len,
		 struct error *err)
{
	const uint8_t *b = buf;

	memset(r, 0, sizeof(*r));
	if (len < 8 || memcmp(b, VMSTATE_MAGIC, 8))
		return err_input(err, "not a vessel state file");
	if (len < HDR_LEN + 4 || len > VMSTATE_MAX_SIZE)
		return err_input(err, "truncated");
	if (rd(b + 8, 4) > VMSTATE_FORMAT_VERSION)
		return err_input(err, "state format %u is newer than this vessel reads (%u)",
				 (unsigned)rd(b + 8, 4), VMSTATE_FORMAT_VERSION);
	if (rd(b + 16, 8) != len - HDR_LEN - 4)
		return err_input(err, "truncated");
	if (crc32(0, b, (uInt)(len - 4)) != rd(b + len - 4, 4))
		return err_input(err, "checksum mismatch: the state file is corrupted");
	for (size_t p = HDR_LEN; p < len - 4;) {
		uint64_t n;

		if (len - 4 - p < SEC_HDR)
			return err_input(err, "truncated");
		n = rd(b + p + VMSTATE_ID_LEN + 4, 4);
		if (n > len - 4 - p - SEC_HDR || b[p + VMSTATE_ID_LEN - 1])
			return err_input(err, "truncated");
		p += SEC_HDR + n;
	}
	r->buf = b;
	r->len = len;
	r->format_version = (uint32_t)rd(b + 8, 4);
	return 0;
}

int vmstate_next(const struct vmstate_reader *r, size_t *cursor,
		 struct vmstate_section *s)
{
	size_t p = *cursor ? *cursor : HDR_LEN;

	if (!r->buf || p >= r->len - 4)
		return 0;
	memset(s, 0, sizeof(*s));
	memcpy(s->id, r->buf + p, VMSTATE_ID_LEN);
	s->version = (uint32_t)rd(r->buf + p + VMSTATE_ID_LEN, 4);
	s->len = rd(r->buf + p + VMSTATE_ID_LEN + 4, 4);
	s->data = r->buf + p + SEC_HDR;
	*cursor = p + SEC_HDR + s->len;
	return 1;
}

int vmstate_find(const struct vmstate_reader *r, const char *id,
		 struct vmstate_section *s, struct error *err)
{
	size_t c = 0;

	while (vmstate_next(r, &c, s))
		if (!strncmp(s->id, id, VMSTATE_ID_LEN))
			return 0;
	return err_input(err, "missing section %s", id);
}

int vmstate_get(struct vmstate_section *s, void *p, size_t len, struct error *err)
{
	if (len > s->len - s->pos)
		return err_input(err, "%.*s: truncated", VMSTATE_ID_LEN, s->id);
	memcpy(p, s->data + s->pos, len);
	s->pos += len;
	return 0;
}

static int get_le(struct vmstate_section *s, uint64_t *v, unsigned n,
		  struct error *err)
{
	uint8_t b[8];

	if (vmstate_get(s, b, n, err) < 0)
		return -1;
	*v = rd(b, n);
	return 0;
}

int vmstate_get_u8(struct vmstate_section *s, uint8_t *v, struct error *err)
{
	return vmstate_get(s, v, 1, err);
}

int vmstate_get_u16(struct vmstate_section *s, uint16_t *v, struct error *err)
{
	uint64_t x;

	if (get_le(s, &x, 2, err) < 0)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

int vmstate_get_u32(struct vmstate_section *s, uint32_t *v, struct error *err)
{
	uint64_t x;

	if (get_le(s, &x, 4, err) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int vmstate_get_u64(struct vmstate_section *s, uint64_t *v, struct error *err)
{
	return get_le(s, v, 8, err);
}

int vmstate_check_version(const struct vmstate_section *s, uint32_t max,
			  struct error *err)
{
	if (s->version > max)
		return err_input(err, "%.*s: version %u, this vessel reads up to %u",
				 VMSTATE_ID_LEN, s->id, s->version, max);
	return 0;
}

/* Finding and decompressing a bzImage's payload (see payload.h). The
 * formats are those of the kernel's own build (scripts/Makefile.lib):
 * gzip -9; xz with the x86 BCJ filter and a CRC32 check; the legacy .lzma
 * container; zstd -22; lz4 -l (the legacy frame). Each decoder writes into
 * one buffer of the declared size and is stopped when that is full. */
#include "payload.h"

#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "bootparams.h"
#include "../tools/base/le.h"

#define BP_PAYLOAD_OFFSET 0x248         /* u32, protocol 2.08+ */
#define BP_PAYLOAD_LENGTH 0x24c         /* u32 */
#define PAYLOAD_VERSION   0x0208

/* liblzma may use this much for its dictionary: the kernel's xz uses 32 MiB,
 * lzma -9 64 MiB; a header asking for more is refused, not honoured. */
#define LZMA_MEMLIMIT     (128u << 20)

#define LZ4_LEGACY_MAGIC  0x184c2102u
#define LZ4_LEGACY_BLOCK  (8u << 20)    /* each block inflates to at most this */

static const struct {
	enum payload_format format;
	const char *name;
	uint8_t magic[6];
	unsigned magic_len;
} formats[] = {
	{ PAYLOAD_GZIP, "gzip", { 0x1f, 0x8b, 0x08 }, 3 },
	{ PAYLOAD_XZ, "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6 },
	{ PAYLOAD_LZMA, "lzma", { 0x5d, 0x00, 0x00 }, 3 },
	{ PAYLOAD_ZSTD, "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
	{ PAYLOAD_LZ4, "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
	{ PAYLOAD_BZIP2, "bzip2", { 'B', 'Z', 'h' }, 3 },
	{ PAYLOAD_LZO, "lzo", { 0x89, 'L', 'Z', 'O' }, 4 },
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

const char *payload_format_name(enum payload_format f)
{
	for (unsigned i = 0; i < NFORMATS; i++)
		if (formats[i].format == f)
			return formats[i].name;
	return "unknown";
}

int payload_parse(const uint8_t *p, size_t len, uint32_t max_size,
		  struct payload *pl, struct error *err)
{
	memset(pl, 0, sizeof(*pl));
	/* The longest magic, then the size word. */
	if (len < 6 + 4)
		return err_set(err, "payload too short (%zu bytes)", len);
	for (unsigned i = 0; i < NFORMATS && !pl->format; i++)
		if (!memcmp(p, formats[i].magic, formats[i].magic_len))
			pl->format = formats[i].format;
	if (!pl->format)
		return err_set(err, "payload compressed in an unknown format "
			       "(%02x %02x %02x %02x)", p[0], p[1], p[2], p[3]);
	pl->size = rd32(p + len - 4);
	if (pl->size == 0 || pl->size > max_size)
		return err_set(err, "%s payload declares %u bytes (limit %u)",
			       payload_format_name(pl->format), pl->size, max_size);
	pl->data = p;
	/* gzip's own trailer ends in the size; the others have it appended. */
	pl->len = pl->format == PAYLOAD_GZIP ? len : len - 4;
	return 0;
}

int bzimage_payload(const uint8_t *img, size_t len, uint32_t max_size,
		    struct payload *pl, struct error *err)
{
	uint64_t setup, off, plen;

	memset(pl, 0, sizeof(*pl));
	if (len < BP_PAYLOAD_LENGTH + 4 || get32(img, BP_HEADER) != HDR_MAGIC)
		return err_set(err, "not a bzImage");
	if (get16(img, BP_VERSION) < PAYLOAD_VERSION ||
	    0x202 + img[0x201] < BP_PAYLOAD_LENGTH + 4)
		return err_set(err, "boot protocol too old to locate the payload");
	setup = ((uint64_t)(img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4) + 1) * 512;
	off = get32(img, BP_PAYLOAD_OFFSET);
	plen = get32(img, BP_PAYLOAD_LENGTH);
	/* 64-bit sums of 32-bit values: no wrap. */
	if (setup > len || off + plen > len - setup)
		return err_set(err, "payload (offset %llu, %llu bytes) lies outside "
			       "the file", (unsigned long long)off,
			       (unsigned long long)plen);
	return payload_parse(img + setup + off, plen, max_size, pl, err);
}

static int inflate_gzip(const struct payload *pl, uint8_t *out, struct error *err)
{
	z_stream z;
	int ret;

	if (pl->len > UINT32_MAX)
		return err_set(err, "gzip payload too large");
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return err_set(err, "gzip: cannot initialise zlib");
	z.next_in = (Bytef *)pl->data;
	z.avail_in = (uInt)pl->len;
	z.next_out = out;
	z.avail_out = pl->size;
	ret = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (ret == Z_STREAM_END)
		return z.total_out == pl->size ? 0 :
		       err_set(err, "gzip payload inflates to %lu bytes, declares %u",
			       z.total_out, pl->size);
	if (ret == Z_DATA_ERROR)
		return err_set(err, "gzip payload is corrupt: %s",
			       z.msg ? z.msg : "bad data");
	if (z.avail_out == 0)
		return err_set(err, "gzip payload inflates beyond the %u bytes "
			       "it declares", pl->size);
	return err_set(err, "gzip payload is truncated");
}

static const char *lzma_why(lzma_ret r)
{
	switch (r) {
	case LZMA_MEM_ERROR: return "out of memory";
	case LZMA_MEMLIMIT_ERROR: return "needs a dictionary above the limit";
	case LZMA_FORMAT_ERROR: return "bad header";
	case LZMA_OPTIONS_ERROR: return "unsupported options";
	case LZMA_DATA_ERROR: return "corrupt data";
	case LZMA_BUF_ERROR: return "truncated";
	default: return "decoder error";
	}
}

static int inflate_lzma(const struct payload *pl, uint8_t *out, struct error *err)
{
	lzma_stream s = LZMA_STREAM_INIT;
	const char *name = payload_format_name(pl->format);
	lzma_ret r;

	r = pl->format == PAYLOAD_XZ ? lzma_stream_decoder(&s, LZMA_MEMLIMIT, 0)
				      : lzma_alone_decoder(&s, LZMA_MEMLIMIT);
	if (r != LZMA_OK)
		return err_set(err, "%s: cannot initialise liblzma: %s", name,
			       lzma_why(r));
	s.next_in = pl->data;
	s.avail_in = pl->len;
	s.next_out = out;
	s.avail_out = pl->size;
	do {
		size_t in = s.avail_in, outleft = s.avail_out;

		r = lzma_code(&s, LZMA_FINISH);
		/* LZMA_OK without progress cannot happen; guard anyway. */
		if (r == LZMA_OK && in == s.avail_in && outleft == s.avail_out)
			r = LZMA_BUF_ERROR;
	} while (r == LZMA_OK);
	lzma_end(&s);
	if (r == LZMA_STREAM_END)
		return s.avail_out == 0 ? 0 :
		       err_set(err, "%s payload inflates to %llu bytes, declares %u",
			       name, (unsigned long long)(pl->size - s.avail_out),
			       pl->size);
	if (r == LZMA_BUF_ERROR && s.avail_out == 0)
		return err_set(err, "%s payload inflates beyond the %u bytes it "
			       "declares", name, pl->size);
	return err_set(err, "%s payload: %s", name, lzma_why(r));
}

static int inflate_zstd(const struct payload *pl, uint8_t *out, struct error *err)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t n;

	if (!d)
		return err_set(err, "zstd: out of memory");
	/* One call into the whole output: no window buffer is allocated. */
	n = ZSTD_decompressDCtx(d, out, pl->size, pl->data, pl->len);
	ZSTD_freeDCtx(d);
	if (ZSTD_isError(n)) {
		if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
			return err_set(err, "zstd payload inflates beyond the %u "
				       "bytes it declares", pl->size);
		return err_set(err, "zstd payload: %s", ZSTD_getErrorName(n));
	}
	if (n != pl->size)
		return err_set(err, "zstd payload inflates to %zu bytes, declares %u",
			       n, pl->size);
	return 0;
}

/* The legacy frame: the magic, then blocks of (u32 length, LZ4 block), each
 * inflating to at most 8 MiB; the magic may recur (concatenated frames). */
static int inflate_lz4(const struct payload *pl, uint8_t *out, struct error *err)
{
	size_t pos = 4, done = 0;

	while (pos < pl->len) {
		uint32_t n;
		size_t room = pl->size - done;
		int got;

		if (pl->len - pos < 4)
			return err_set(err, "lz4 payload: truncated block header");
		n = rd32(pl->data + pos);
		pos += 4;
		if (n == LZ4_LEGACY_MAGIC)
			continue;
		if (n == 0 || n > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK) ||
		    n > pl->len - pos)
			return err_set(err, "lz4 payload: bad block length %u", n);
		if (room == 0)
			return err_set(err, "lz4 payload inflates beyond the %u "
				       "bytes it declares", pl->size);
		if (room > LZ4_LEGACY_BLOCK)
			room = LZ4_LEGACY_BLOCK;
		got = LZ4_decompress_safe((const char *)pl->data + pos,
					  (char *)out + done, (int)n, (int)room);
		if (got < 0)
			return err_set(err, "lz4 payload is corrupt, or inflates "
				       "beyond the %u bytes it declares", pl->size);
		done += (size_t)got;
		pos += n;
	}
	if (done != pl->size)
		return err_set(err, "lz4 payload inflates to %zu bytes, declares %u",
			       done, pl->size);
	return 0;
}

int payload_decompress(const struct payload *pl, uint8_t **out,
		       struct error *err)
{
	uint8_t *buf;
	int ret;

	*out = NULL;
	if (pl->size == 0 || pl->size > PAYLOAD_MAX_SIZE)
		return err_set(err, "payload size %u out of range", pl->size);
	switch (pl->format) {
	case PAYLOAD_GZIP: case PAYLOAD_XZ: case PAYLOAD_LZMA:
	case PAYLOAD_ZSTD: case PAYLOAD_LZ4:
		break;
	default:
		return err_set(err, "vessel cannot decompress %s payloads",
			       payload_format_name(pl->format));
	}
	buf = malloc(pl->size);
	if (!buf)
		return err_set(err, "out of memory for a %u-byte kernel", pl->size);
	switch (pl->format) {
	case PAYLOAD_GZIP:
		ret = inflate_gzip(pl, buf, err);
		break;
	case PAYLOAD_ZSTD:
		ret = inflate_zstd(pl, buf, err);
		break;
	case PAYLOAD_LZ4:
		ret = inflate_lz4(pl, buf, err);
		break;
	default:
		ret = inflate_lzma(pl, buf, err);
		break;
	}
	if (ret < 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

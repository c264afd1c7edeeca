/* The chunk file's encoding (chunk.h). */
#include "chunk.h"
#include "../base/le.h"

#include <string.h>
#include <zlib.h>

/* Compress a prefix this long first: data that does not shrink there
 * (random, already compressed) is stored, not deflated in full. */
#define PROBE_LEN (64u << 10)

static int deflate_into(const void *raw, size_t len, uint8_t *out,
			size_t cap, size_t *outlen)
{
	uLongf n = cap;

	if (compress2(out, &n, raw, len, 1) != Z_OK)
		return -1;
	*outlen = n;
	return 0;
}

int chunk_encode_parts(const void *raw, size_t len, uint8_t hdr[CHUNK_HDR],
		       uint8_t *zbuf, const uint8_t **payload, size_t *plen,
		       struct error *err)
{
	size_t cap = CHUNK_ENC_MAX - CHUNK_HDR, n = 0;
	int comp = CHUNK_STORED;

	if (len == 0 || len > CHUNK_MAX)
		return err_set(err, "chunk of %zu bytes (1 to %u)", len, CHUNK_MAX);
	if (len > PROBE_LEN && (deflate_into(raw, PROBE_LEN, zbuf, cap, &n) < 0 ||
				n >= PROBE_LEN - PROBE_LEN / 16))
		n = len;        /* does not shrink: store */
	else if (deflate_into(raw, len, zbuf, cap, &n) == 0 && n < len)
		comp = CHUNK_ZLIB;
	if (comp == CHUNK_STORED)
		n = len;
	*payload = comp == CHUNK_STORED ? raw : zbuf;
	*plen = n;
	memcpy(hdr, CHUNK_MAGIC, 4);
	hdr[4] = 1;
	hdr[5] = (uint8_t)comp;
	le16(hdr + 6, 0);
	le32(hdr + 8, (uint32_t)len);
	le32(hdr + 12, (uint32_t)n);
	le32(hdr + 16, (uint32_t)crc32(0, *payload, (uInt)n));
	return 0;
}

int chunk_encode(const void *raw, size_t len, uint8_t *out, size_t *outlen,
		 struct error *err)
{
	const uint8_t *payload;
	size_t n;

	if (chunk_encode_parts(raw, len, out, out + CHUNK_HDR, &payload, &n,
			       err) < 0)
		return -1;
	if (payload != out + CHUNK_HDR)
		memcpy(out + CHUNK_HDR, payload, n);
	*outlen = CHUNK_HDR + n;
	return 0;
}

int chunk_check(const uint8_t *file, size_t len, uint32_t *raw_len,
		struct error *err)
{
	uint32_t raw, plen;

	if (len < CHUNK_HDR || memcmp(file, CHUNK_MAGIC, 4))
		return err_input(err, "not a chunk (bad magic or too short)");
	if (file[4] != 1)
		return err_input(err, "chunk format version %u (this vessel reads 1)",
				 file[4]);
	if (file[5] > CHUNK_ZLIB || rd16(file + 6))
		return err_input(err, "chunk header: unknown compression or flags");
	raw = rd32(file + 8);
	plen = rd32(file + 12);
	if (raw == 0 || raw > CHUNK_MAX)
		return err_input(err, "chunk header: raw length %u", raw);
	if (plen != len - CHUNK_HDR)
		return err_input(err, "chunk is %zu bytes, its header says %u",
				 len - CHUNK_HDR, plen);
	if (file[5] == CHUNK_STORED && plen != raw)
		return err_input(err, "stored chunk: lengths differ");
	if ((uint32_t)crc32(0, file + CHUNK_HDR, plen) != rd32(file + 16))
		return err_input(err, "chunk CRC mismatch");
	*raw_len = raw;
	return 0;
}

int chunk_decode(const uint8_t *file, size_t len, uint8_t *raw, size_t cap,
		 size_t *raw_len, const uint8_t digest[SHA256_LEN],
		 struct error *err)
{
	uint8_t got[SHA256_LEN];
	uint32_t n;
	uLongf out;

	if (chunk_check(file, len, &n, err) < 0)
		return -1;
	if (n > cap)
		return err_input(err, "chunk of %u bytes does not fit", n);
	if (file[5] == CHUNK_STORED) {
		memcpy(raw, file + CHUNK_HDR, n);
	} else {
		out = n;
		if (uncompress(raw, &out, file + CHUNK_HDR, len - CHUNK_HDR) != Z_OK ||
		    out != n)
			return err_input(err, "chunk does not inflate to %u bytes", n);
	}
	if (digest) {
		sha256(raw, n, got);
		if (memcmp(got, digest, SHA256_LEN))
			return err_input(err, "chunk content does not match its hash");
	}
	*raw_len = n;
	return 0;
}

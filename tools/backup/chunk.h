/* One chunk file of a backup repository (docs/backup-format.md):
 *   "VBC1", version 1, compression (0 stored, 1 zlib), 2 reserved bytes,
 *   raw length, payload length, CRC-32 of the payload (all u32 LE),
 *   then the payload.
 * The file is named by the SHA-256 of the raw data; decoding checks the
 * CRC (quick) and then that hash (the only proof of the content). */
#ifndef VESSEL_BACKUP_CHUNK_H
#define VESSEL_BACKUP_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "../base/sha256.h"
#include "../base/error.h"

#define CHUNK_MAGIC     "VBC1"
#define CHUNK_HDR       20
#define CHUNK_MAX       (4u << 20)      /* the largest raw chunk */
#define CHUNK_ENC_MAX   (CHUNK_HDR + CHUNK_MAX + CHUNK_MAX / 1000 + 64)

enum chunk_comp { CHUNK_STORED = 0, CHUNK_ZLIB = 1 };

/* Encode raw (1..CHUNK_MAX bytes) as a chunk file in two parts: its
 * header into hdr, and *payload (*plen bytes), which is raw itself when
 * the data is stored (a probe shows it does not shrink) and otherwise
 * zbuf (CHUNK_ENC_MAX - CHUNK_HDR bytes) holding it deflated. The file is
 * hdr then the payload: stored data is never copied. */
int chunk_encode_parts(const void *raw, size_t len, uint8_t hdr[CHUNK_HDR],
		       uint8_t *zbuf, const uint8_t **payload, size_t *plen,
		       struct error *err);
/* The same into one buffer out (CHUNK_ENC_MAX bytes); *outlen is the
 * file's size. */
int chunk_encode(const void *raw, size_t len, uint8_t *out, size_t *outlen,
		 struct error *err);
/* Quick check: header sane and CRC right. *raw_len: the raw length. */
int chunk_check(const uint8_t *file, size_t len, uint32_t *raw_len,
		struct error *err);
/* Decode file (len bytes) into raw (cap bytes); *raw_len its length. With
 * digest, the raw data must hash to it. Every failure is err_input. */
int chunk_decode(const uint8_t *file, size_t len, uint8_t *raw, size_t cap,
		 size_t *raw_len, const uint8_t digest[SHA256_LEN],
		 struct error *err);

#endif

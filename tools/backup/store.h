/* The chunk store of a repository (repo.h): chunks/XX/HEX, each a chunk
 * file (chunk.h) named by the SHA-256 of its raw data. Identical data is
 * stored once, whichever backup or guest it came from. */
#ifndef VESSEL_BACKUP_STORE_H
#define VESSEL_BACKUP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo.h"

struct store_stats {
	uint64_t chunks;        /* chunks put (new or already there) */
	uint64_t chunks_new;    /* of them, written now */
	uint64_t bytes;         /* raw bytes put */
	uint64_t bytes_new;     /* bytes written to the repository (encoded) */
};

struct store {
	struct repo *repo;
	uint8_t *buf;           /* CHUNK_ENC_MAX: encoding and reading */
	struct store_stats st;
};

int store_init(struct store *s, struct repo *r, struct error *err);
void store_free(struct store *s);
/* The chunk's path relative to chunks/: "XX/HEX" (buf: 68 bytes). */
void store_chunk_name(const uint8_t digest[SHA256_LEN], char *buf);
/* Store data (1..CHUNK_MAX bytes) unless a chunk of that hash exists;
 * its hash in digest. A failed write (ENOSPC) leaves no file. */
int store_put(struct store *s, const void *data, size_t len,
	      uint8_t digest[SHA256_LEN], struct error *err);
/* Read, check (CRC, hash) and decode the chunk into raw (cap bytes). A
 * missing or damaged chunk: err_input naming it. */
int store_get(struct store *s, const uint8_t digest[SHA256_LEN], uint8_t *raw,
	      size_t cap, size_t *len, struct error *err);
/* Call fn for every chunk file in the store (and, with tmp, for every
 * leftover temporary file: digest NULL), with its name under chunks/,
 * the directory fd and the file name in it. fn returning -1 stops the
 * walk (fn sets its own error); err is for the walk's own failures. */
int store_each(struct store *s, bool tmp,
	       int (*fn)(void *opaque, const uint8_t *digest, const char *name,
			 int dirfd, const char *file),
	       void *opaque, struct error *err);
/* Parse 64 lower-case hex digits. */
int hex_digest(const char *hex, uint8_t digest[SHA256_LEN]);

#endif

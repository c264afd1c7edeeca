/* SHA-256 (FIPS 180-4), for the kernel cache's keys and entry checks,
 * the backup repository's chunks and the seccomp cache's keys: vessel
 * links no crypto library. */
#ifndef VESSEL_SHA256_H
#define VESSEL_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t total;                 /* bytes hashed so far */
	uint8_t buf[64];
	size_t fill;                    /* bytes in buf */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);
/* One call: the digest of [data, data + len). */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* Which code hashes: the CPU's SHA instructions when it has them (the
 * default), or the portable code (cpu false; for tests). */
void sha256_use_cpu(bool cpu);

/* sha256_x86.c: n 64-byte blocks with the SHA extensions, k the round
 * constants; only where sha256_x86_available(). */
bool sha256_x86_available(void);
void sha256_x86_blocks(uint32_t h[8], const uint8_t *p, size_t n,
		       const uint32_t k[64]);

/* Lower-case hex, NUL-terminated: hex has 2 * SHA256_LEN + 1 bytes. */
void sha256_hex(const uint8_t digest[SHA256_LEN], char *hex);

#endif

/* libFuzzer: a backup repository's chunk file (tools/backup/chunk.c):
 * header, CRC, inflate into a bounded buffer, hash check. */
#include <stdlib.h>

#include "../../tools/backup/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *raw;
	struct error err = { 0 };
	uint8_t digest[SHA256_LEN] = { 0 };
	size_t len;

	if (!raw && !(raw = malloc(CHUNK_MAX)))
		return 0;
	chunk_decode(data, size, raw, CHUNK_MAX, &len, NULL, &err);
	chunk_decode(data, size, raw, CHUNK_MAX, &len, digest, &err);
	return 0;
}

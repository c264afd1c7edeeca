/* libFuzzer: a backup index file (tools/backup/index.c). The trailing
 * hash is fixed up so that the fuzzer gets past it to the fields. */
#include <stdlib.h>
#include <string.h>

#include "../../tools/backup/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	struct index ix;
	uint8_t *copy;

	if (index_parse(data, size, &ix, &err) == 0)
		index_free(&ix);
	if (size < INDEX_HDR + SHA256_LEN || !(copy = malloc(size)))
		return 0;
	memcpy(copy, data, size);
	sha256(copy, size - SHA256_LEN, copy + size - SHA256_LEN);
	if (index_parse(copy, size, &ix, &err) == 0) {
		uint8_t *out;
		size_t len;

		/* What parses encodes back to the same bytes. */
		if (index_encode(&ix, &out, &len, &err) == 0) {
			if (len != size || memcmp(out, copy, size))
				abort();
			free(out);
		}
		index_free(&ix);
	}
	free(copy);
	return 0;
}

/* libFuzzer target: a bzImage's payload (boot/payload.c) found from its
 * setup header and decompressed: gzip, xz, lzma, zstd, lz4. An input with
 * "HdrS" at 0x202 is a bzImage; any other is a bare payload (the stream,
 * then its size word). Outputs are bounded to 8 MiB here to keep runs
 * fast; the bound logic is the same as the real 512 MiB. */
#include <stdlib.h>
#include <string.h>

#include "../../boot/payload.h"

#define FUZZ_MAX_SIZE (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct payload pl;
	struct error err;
	uint8_t *out = NULL;
	int r;

	if (size > 0x206 && !memcmp(data + 0x202, "HdrS", 4))
		r = bzimage_payload(data, size, FUZZ_MAX_SIZE, &pl, &err);
	else
		r = payload_parse(data, size, FUZZ_MAX_SIZE, &pl, &err);
	if (r < 0)
		return 0;
	if (pl.data < data || pl.len > size || pl.data + pl.len > data + size ||
	    pl.size == 0 || pl.size > FUZZ_MAX_SIZE)
		__builtin_trap();
	if (payload_decompress(&pl, &out, &err) == 0) {
		/* the whole output is there: ASan faults on a short buffer */
		uint8_t sum = 0;

		for (size_t i = 0; i < pl.size; i += 4096)
			sum += out[i];
		sum += out[pl.size - 1];
		__asm__ volatile("" : : "r"(sum));
		free(out);
	} else if (out) {
		__builtin_trap();
	}
	return 0;
}

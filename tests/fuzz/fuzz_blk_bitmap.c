/* libFuzzer: a disk's backup bitmap file, IMAGE.vbitmap
 * (devices/block/bitmap_file.c). The trailing CRC is fixed up so that the
 * fuzzer gets past it to the fields; what parses encodes back to the same
 * bytes, and its trust decision and bit tests stay in bounds. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../devices/block/bitmap_file.h"

static void check(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	struct blk_bitmap b;
	struct stat st = { 0 };
	uint8_t *out;
	size_t len;

	if (blk_bitmap_parse(data, size, &b, &err) < 0)
		return;
	st.st_mode = S_IFREG;
	st.st_size = (off_t)(b.size & 0x7fffffffffffffffull);
	(void)blk_bitmap_why_text(blk_bitmap_trust(&b, &st));
	(void)blk_bitmap_count(&b);
	for (uint64_t c = 0; c < b.chunks + 2 && c < 4096; c++)
		(void)blk_bitmap_test(&b, c);
	if (blk_bitmap_encode(&b, &out, &len, &err) == 0) {
		if (len != size || memcmp(out, data, size))
			abort();
		free(out);
	}
	blk_bitmap_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint32_t crc;

	check(data, size);
	if (size < BLK_BITMAP_HDR + 4 || !(copy = malloc(size)))
		return 0;
	memcpy(copy, data, size);
	crc = (uint32_t)crc32(0, copy, (uInt)(size - 4));
	for (int i = 0; i < 4; i++)
		copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	check(copy, size);
	free(copy);
	return 0;
}

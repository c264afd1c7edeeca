/* libFuzzer target: the compressed memory file reader (gmem_load_z in
 * vmm/memory.c) with 32 MiB of RAM. The input is a memory.z; loading must
 * succeed or be refused as bad input, and loaded RAM frees cleanly.
 * The first byte, when it is not zlib's 0x78 or zstd's 0x28, picks a
 * repair: the rest is compressed first (odd: zstd, even: zlib), so the
 * fuzzer reaches the header and run checks behind both decoders. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "../../boot/layout.h"
#include "../../vmm/memory.h"

static int input_fd(const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz-memz", 0);
	if (fd < 0 || ftruncate(fd, 0) < 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	return fd;
}

static void load(const uint8_t *data, size_t size)
{
	int fd = input_fd(data, size);
	struct error err;
	struct gmem m;

	if (fd < 0)
		return;
	if (gmem_load_z(&m, MIN_RAM_SIZE, fd, &err) == 0)
		gmem_free(&m);
	else if (!err.msg[0] || !err.input || m.map)
		__builtin_trap();	/* bad input, said so, nothing left mapped */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uLongf zlen;
	uint8_t *z;

	load(data, size);
	if (size < 1 || data[0] == 0x78 || data[0] == 0x28)
		return 0;
	zlen = compressBound(size - 1) + ZSTD_compressBound(size - 1);
	z = malloc(zlen);
	if (!z)
		return 0;
	if (data[0] & 1) {
		size_t n = ZSTD_compress(z, zlen, data + 1, size - 1, 1);

		if (!ZSTD_isError(n))
			load(z, n);
	} else if (compress(z, &zlen, data + 1, size - 1) == Z_OK) {
		load(z, zlen);
	}
	free(z);
	return 0;
}

/* libFuzzer target: a kernel file as the loaders read it (boot/bzimage.c,
 * boot/pvh.c, boot/elf.c), into 64 MiB of fake guest RAM. The first byte
 * picks the loader:
 *   0: a bzImage, entered at its 64-bit entry (bzimage_load);
 *   1: an ELF vmlinux through its PVH note (pvh_load);
 *   2: an ELF with a bzImage's setup header (vmlinux64_load: the kernel
 *      cache's ELF without a PVH note); the next two bytes are the setup
 *      header's length n (little-endian), then n bytes of it, then the ELF.
 * The ELF of a cache hit is parsed and copied before its checksum is known
 * (kcache_get_deferred), so these parsers see damaged images by design.
 * After a successful load, the entry must be one the vCPU can start at. */
#include <stdlib.h>
#include <string.h>

#include "../../boot/loader.h"
#include "../../vmm/memory.h"

#define RAM (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct boot_image bi = { .cmdline = "console=ttyS0 fuzz" };
	struct boot_entry entry;
	struct error err;
	struct gmem m;
	size_t n;
	int r;

	if (!ram && !(ram = calloc(1, RAM)))
		abort();
	if (size < 1)
		return 0;
	gmem_init_fake(&m, ram, RAM);
	memset(&entry, 0, sizeof(entry));
	bi.kernel = data + 1;
	bi.kernel_len = size - 1;
	switch (data[0] % 3) {
	case 0:
		r = bzimage_load(&m, &bi, &entry, &err);
		break;
	case 1:
		r = pvh_load(&m, &bi, &entry, &err);
		break;
	default:
		if (size < 3)
			return 0;
		n = data[1] | (size_t)data[2] << 8;
		if (n > size - 3)
			return 0;
		bi.setup = data + 3;
		bi.setup_len = n;
		bi.kernel = data + 3 + n;
		bi.kernel_len = size - 3 - n;
		r = vmlinux64_load(&m, &bi, &entry, &err);
		break;
	}
	if (r == 0 && (entry.mode != BOOT_LONG64 && entry.mode != BOOT_FLAT32))
		__builtin_trap();
	/* the 64-bit entries are checked to lie in what was loaded; the PVH
	 * note's is the guest's own business */
	if (r == 0 && entry.mode == BOOT_LONG64 && entry.rip >= RAM)
		__builtin_trap();
	return 0;
}

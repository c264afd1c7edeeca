/* libFuzzer: the kernel cache's compaction of an ELF vmlinux
 * (boot/elf_compact.c), on the ELF the input is. What it makes must load
 * exactly as the input would: the same loadable segments at the same
 * addresses with the same bytes in memory (file bytes, then zeros up to
 * p_memsz), the same PVH entry, and nothing outside its own length. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "../../boot/loader.h"

static const Elf64_Phdr *phdrs(const uint8_t *img, unsigned *n)
{
	Elf64_Ehdr eh;

	memcpy(&eh, img, sizeof(eh));
	*n = eh.e_phnum;
	return (const Elf64_Phdr *)(img + eh.e_phoff);
}

/* Byte i of segment ph in memory: its file byte or, past p_filesz, zero. */
static uint8_t mem_byte(const uint8_t *img, const Elf64_Phdr *ph, uint64_t i)
{
	return i < ph->p_filesz ? img[ph->p_offset + i] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	const Elf64_Phdr *a, *b;
	struct boot_image in = { .kernel = data, .kernel_len = size };
	struct boot_image out = { 0 };
	uint32_t e_in = 0, e_out = 0;
	uint8_t *o;
	size_t olen;
	unsigned na, nb;

	if (elf_compact(data, size, &o, &olen, &err) < 0) {
		if (o || olen || !err.msg[0])
			abort();
		return 0;
	}
	if (!pvh_probe(o, olen) || olen < 64)
		abort();
	a = phdrs(data, &na);
	b = phdrs(o, &nb);
	if (na != nb || (uint64_t)nb * sizeof(Elf64_Phdr) + 64 > olen)
		abort();
	for (unsigned i = 0; i < na; i++) {
		Elf64_Phdr pa, pb;

		memcpy(&pa, &a[i], sizeof(pa));
		memcpy(&pb, &b[i], sizeof(pb));
		if (pa.p_type != pb.p_type || pa.p_paddr != pb.p_paddr ||
		    pa.p_vaddr != pb.p_vaddr || pa.p_memsz != pb.p_memsz ||
		    pb.p_offset > olen || pb.p_filesz > olen - pb.p_offset)
			abort();
		if (pa.p_type == PT_LOAD) {
			if (pb.p_filesz > pa.p_filesz)
				abort();
			for (uint64_t j = 0; j < pa.p_filesz; j++)
				if (mem_byte(data, &pa, j) != mem_byte(o, &pb, j))
					abort();
		} else if (pa.p_filesz != pb.p_filesz ||
			   memcmp(data + pa.p_offset, o + pb.p_offset, pa.p_filesz)) {
			abort();
		}
	}
	out.kernel = o;
	out.kernel_len = olen;
	if (elf_pvh_entry(&in, &e_in) != elf_pvh_entry(&out, &e_out) || e_in != e_out)
		abort();
	free(o);
	return 0;
}

/* An x86_64 ELF vmlinux: its program headers, its segments copied to their
 * physical addresses, and its notes. Shared by the PVH entry (pvh.c) and
 * the 64-bit boot protocol entry of an ELF kernel (bzimage.c). Every
 * header field is checked against the image's length before use. */
#include "loader.h"

#include <elf.h>
#include <stdbool.h>
#include <string.h>

#include "layout.h"

int pvh_probe(const uint8_t *img, size_t len)
{
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return 0;
	memcpy(&eh, img, sizeof(eh));
	return !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	       eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_machine == EM_X86_64;
}

/* The ELF header, copied: the image may sit at any alignment. */
static Elf64_Ehdr ehdr(const struct boot_image *bi)
{
	Elf64_Ehdr eh;

	memcpy(&eh, bi->kernel, sizeof(eh));
	return eh;
}

uint64_t elf_entry(const struct boot_image *bi)
{
	return ehdr(bi).e_entry;
}

bool elf_phdr(const struct boot_image *bi, unsigned i, Elf64_Phdr *ph)
{
	Elf64_Ehdr eh = ehdr(bi);
	uint64_t len = bi->kernel_len;

	/* e_phoff and i are bounded first, so no sum below can wrap. */
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    i >= (len - eh.e_phoff) / sizeof(Elf64_Phdr))
		return false;
	memcpy(ph, bi->kernel + eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof(*ph));
	return true;
}

int elf_pvh_entry(const struct boot_image *bi, uint32_t *entry)
{
	Elf64_Ehdr eh = ehdr(bi);

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off, end;

		if (!elf_phdr(bi, i, &ph))
			return -1;
		if (ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > bi->kernel_len ||
		    ph.p_filesz > bi->kernel_len - ph.p_offset)
			return -1;
		off = ph.p_offset;
		end = off + ph.p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			Elf64_Nhdr nh;
			uint64_t name, desc, next;

			memcpy(&nh, bi->kernel + off, sizeof(nh));
			/* 64-bit sums of 32-bit sizes: they cannot wrap. */
			name = off + sizeof(nh);
			desc = name + (((uint64_t)nh.n_namesz + 3) & ~3ULL);
			next = desc + (((uint64_t)nh.n_descsz + 3) & ~3ULL);
			if (next > end)
				break;
			if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
			    !memcmp(bi->kernel + name, "Xen", 4) && nh.n_descsz >= 4) {
				memcpy(entry, bi->kernel + desc, 4);
				return 0;
			}
			off = next;
		}
	}
	return -1;
}

/* Check segment i (if PT_LOAD) against the file and guest RAM; *dst is its
 * place in guest RAM, NULL for other segment types. */
static int check_segment(struct gmem *m, const struct boot_image *bi,
			 unsigned i, Elf64_Phdr *ph, uint8_t **dst,
			 struct error *err)
{
	*dst = NULL;
	if (!elf_phdr(bi, i, ph))
		return err_set(err, "bad ELF program headers");
	if (ph->p_type != PT_LOAD)
		return 0;
	if (ph->p_offset > bi->kernel_len ||
	    ph->p_filesz > bi->kernel_len - ph->p_offset ||
	    ph->p_filesz > ph->p_memsz)
		return err_set(err, "ELF segment %u lies outside the file", i);
	if (ph->p_paddr < HIGH_MEM_START)
		return err_set(err, "ELF segment %u loads below 1 MiB", i);
	*dst = gmem_ptr(m, ph->p_paddr, ph->p_memsz);
	if (!*dst)
		return err_set(err, "ELF segment %u (0x%llx+0x%llx) is outside "
			       "guest RAM", i, (unsigned long long)ph->p_paddr,
			       (unsigned long long)ph->p_memsz);
	return 0;
}

int elf_span(struct gmem *m, const struct boot_image *bi, uint64_t *start,
	     uint64_t *end, struct error *err)
{
	Elf64_Ehdr eh = ehdr(bi);
	Elf64_Phdr ph;
	uint8_t *dst;

	*start = UINT64_MAX;
	*end = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (check_segment(m, bi, i, &ph, &dst, err) < 0)
			return -1;
		if (!dst)
			continue;
		if (ph.p_paddr < *start)
			*start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > *end)
			*end = ph.p_paddr + ph.p_memsz;
	}
	if (*end == 0)
		return err_set(err, "ELF kernel has no loadable segment");
	return 0;
}

int elf_load_segments(struct gmem *m, const struct boot_image *bi,
		      uint64_t *start, uint64_t *end, struct error *err)
{
	Elf64_Ehdr eh = ehdr(bi);
	Elf64_Phdr ph;
	uint8_t *dst;

	/* Every segment is checked before any is written. */
	if (elf_span(m, bi, start, end, err) < 0)
		return -1;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (check_segment(m, bi, i, &ph, &dst, err) < 0)
			return -1;
		if (!dst)
			continue;
		memcpy(dst, bi->kernel + ph.p_offset, ph.p_filesz);
		/* On fresh RAM the bss is zero already, and writing it would
		 * only fault its pages in (24 MB of a stock kernel's, from
		 * the cache). */
		if (!bi->ram_zeroed)
			memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return bi->kernel_check ? bi->kernel_check(bi->kernel_check_arg, err) : 0;
}

void elf_wipe_segments(struct gmem *m, const struct boot_image *bi)
{
	Elf64_Ehdr eh = ehdr(bi);
	Elf64_Phdr ph;
	uint8_t *dst;
	struct error err;

	for (unsigned i = 0; i < eh.e_phnum; i++)
		if (check_segment(m, bi, i, &ph, &dst, &err) == 0 && dst)
			memset(dst, 0, ph.p_memsz);
}

/* The kernel cache's form of an ELF vmlinux: only what a loader reads.
 * Each PT_LOAD segment keeps its bytes up to its last non-zero one; the
 * zeros after it (a stock kernel's .bss, .brk and scratch space, 24 of its
 * 66 MB) become bss, which loads as zeros like any other. The other
 * segments (the notes) keep their bytes; section headers and the padding
 * between segments go. The result loads exactly as the original did, and
 * is about half its size: half the bytes to copy and checksum on every
 * boot from the cache.
 *
 * The input is a payload decompressed from the user's bzImage: every field
 * is checked against its length before use. */
#include "loader.h"

#include <elf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

#define PAGE 4096ULL

/* How many bytes of p[0, n) remain once its trailing zeros are cut. */
static uint64_t nonzero_len(const uint8_t *p, uint64_t n)
{
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, p + n - 8, 8);
		if (w)
			break;
		n -= 8;
	}
	while (n > 0 && !p[n - 1])
		n--;
	return n;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Does segment b's file range lie inside segment a's? */
static bool inside(const Elf64_Phdr *a, const Elf64_Phdr *b)
{
	return b->p_offset >= a->p_offset &&
	       b->p_offset - a->p_offset <= a->p_filesz &&
	       b->p_filesz <= a->p_filesz - (b->p_offset - a->p_offset);
}

int elf_compact(const uint8_t *img, size_t len, uint8_t **out, size_t *out_len,
		struct error *err)
{
	Elf64_Phdr ph[ELF_COMPACT_MAX_PHDRS], nph[ELF_COMPACT_MAX_PHDRS];
	int host[ELF_COMPACT_MAX_PHDRS];   /* the PT_LOAD a segment lies in */
	const struct boot_image bi = { .kernel = img, .kernel_len = len };
	Elf64_Ehdr eh;
	uint64_t pos;
	uint8_t *o;
	unsigned n;

	*out = NULL;
	*out_len = 0;
	if (!pvh_probe(img, len))
		return err_set(err, "not an x86_64 ELF");
	memcpy(&eh, img, sizeof(eh));
	n = eh.e_phnum;
	if (n == 0 || n > ELF_COMPACT_MAX_PHDRS)
		return err_set(err, "ELF with %u program headers", n);
	for (unsigned i = 0; i < n; i++) {
		if (!elf_phdr(&bi, i, &ph[i]))
			return err_set(err, "bad ELF program headers");
		if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset)
			return err_set(err, "ELF segment %u lies outside the file", i);
		if (ph[i].p_type == PT_LOAD && ph[i].p_filesz > ph[i].p_memsz)
			return err_set(err, "ELF segment %u has more file than "
				       "memory bytes", i);
	}

	/* What each segment keeps: a PT_LOAD its bytes up to the last
	 * non-zero one, widened to cover any other segment inside it. */
	memcpy(nph, ph, sizeof(ph[0]) * n);
	for (unsigned i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD)
			nph[i].p_filesz = nonzero_len(img + ph[i].p_offset,
						      ph[i].p_filesz);
	for (unsigned i = 0; i < n; i++) {
		host[i] = -1;
		if (ph[i].p_type == PT_LOAD || ph[i].p_filesz == 0)
			continue;
		for (unsigned j = 0; j < n && host[i] < 0; j++) {
			uint64_t end;

			if (ph[j].p_type != PT_LOAD || !inside(&ph[j], &ph[i]))
				continue;
			host[i] = (int)j;
			end = ph[i].p_offset - ph[j].p_offset + ph[i].p_filesz;
			if (end > nph[j].p_filesz)
				nph[j].p_filesz = end;
		}
	}

	/* Where each goes: the headers, then each PT_LOAD's bytes at its
	 * page offset (file offset = address, modulo the page, so the ELF
	 * stays a proper one), then the segments that lie in none. The sum
	 * cannot wrap: every term is at most len or a page, 64 times. */
	pos = sizeof(eh) + n * sizeof(Elf64_Phdr);
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (nph[i].p_filesz == 0) {
			nph[i].p_offset = 0;
		} else {
			pos = align_up(pos, PAGE) + (ph[i].p_vaddr & (PAGE - 1));
			nph[i].p_offset = pos;
			pos += nph[i].p_filesz;
		}
		if (nph[i].p_align > PAGE)
			nph[i].p_align = PAGE;
	}
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type == PT_LOAD)
			continue;
		if (host[i] >= 0) {
			nph[i].p_offset = nph[host[i]].p_offset +
					  (ph[i].p_offset - ph[host[i]].p_offset);
		} else if (ph[i].p_filesz == 0) {
			nph[i].p_offset = 0;
		} else {
			pos = align_up(pos, 8);
			nph[i].p_offset = pos;
			pos += ph[i].p_filesz;
		}
	}
	if (pos > PAYLOAD_MAX_SIZE)
		return err_set(err, "ELF too large once laid out (%llu bytes)",
			       (unsigned long long)pos);

	o = calloc(1, pos);
	if (!o)
		return err_set(err, "out of memory");
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_shoff = 0;
	eh.e_shentsize = 0;
	eh.e_shnum = 0;
	eh.e_shstrndx = SHN_UNDEF;
	memcpy(o, &eh, sizeof(eh));
	memcpy(o + sizeof(eh), nph, n * sizeof(Elf64_Phdr));
	for (unsigned i = 0; i < n; i++)
		if ((ph[i].p_type == PT_LOAD || host[i] < 0) && nph[i].p_filesz)
			memcpy(o + nph[i].p_offset, img + ph[i].p_offset,
			       nph[i].p_filesz);
	*out = o;
	*out_len = pos;
	return 0;
}

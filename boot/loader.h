/* Kernel loaders: pure functions over guest memory. Each writes the kernel,
 * the initrd, the command line and the boot information the kernel expects,
 * and says how the boot vCPU must start. */
#ifndef VESSEL_LOADER_H
#define VESSEL_LOADER_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"

struct boot_image {
	const uint8_t *kernel; size_t kernel_len;
	/* vmlinux64_load: the bzImage the ELF kernel came from, whose setup
	 * header describes it to the boot protocol. */
	const uint8_t *setup; size_t setup_len;
	const char *initrd_path;        /* NULL: no initrd */
	const char *cmdline;
	/* Parameters the board adds to cmdline (cmdline_board_params), each
	 * unless cmdline sets it; NULL or "": none. */
	const char *cmdline_extra;
	uint64_t rsdp;                  /* ACPI RSDP guest address, 0 if none */
	/* If set, called once the kernel's segments are in guest RAM, before
	 * the load counts as done: the kernel cache's checksum, computed
	 * meanwhile on another thread. A failure fails the load. */
	int (*kernel_check)(void *arg, struct error *err);
	void *kernel_check_arg;
	/* Guest RAM is all zero where the kernel goes (a fresh board): the
	 * loader need not write a segment's bss. */
	bool ram_zeroed;
};

/* Which loader understands this image? */
int bzimage_probe(const uint8_t *img, size_t len);
int pvh_probe(const uint8_t *img, size_t len);

int bzimage_load(struct gmem *m, const struct boot_image *bi,
		 struct boot_entry *entry, struct error *err);
int pvh_load(struct gmem *m, const struct boot_image *bi,
	     struct boot_entry *entry, struct error *err);
/* An ELF vmlinux (bi->kernel) entered like the bzImage bi->setup it was
 * decompressed from: the 64-bit boot protocol at the ELF's entry point,
 * with a zero page made from the bzImage's setup header. For kernels
 * without a PVH note. */
int vmlinux64_load(struct gmem *m, const struct boot_image *bi,
		   struct boot_entry *entry, struct error *err);

/* ELF helpers (elf.c), for an image pvh_probe accepted. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
/* The PVH entry point from the notes; -1 if there is none. */
int elf_pvh_entry(const struct boot_image *bi, uint32_t *entry);
uint64_t elf_entry(const struct boot_image *bi);
/* Bounds-checked copy of program header i; false if it is not in the
 * file (or the headers are not 64-bit ones). */
bool elf_phdr(const struct boot_image *bi, unsigned i, Elf64_Phdr *ph);
/* [*start, *end): the span of the PT_LOAD segments, each checked against
 * the file and guest RAM; nothing is written. */
int elf_span(struct gmem *m, const struct boot_image *bi, uint64_t *start,
	     uint64_t *end, struct error *err);
/* Copy the PT_LOAD segments to their physical addresses, zeroing each one's
 * bss; [*start, *end) spans them. All are checked before any is written;
 * then bi->kernel_check, if any. */
int elf_load_segments(struct gmem *m, const struct boot_image *bi,
		      uint64_t *start, uint64_t *end, struct error *err);
/* Zero what elf_load_segments wrote, or would have: each PT_LOAD segment
 * that passes its checks. */
void elf_wipe_segments(struct gmem *m, const struct boot_image *bi);

/* The kernel cache's form of an ELF vmlinux (elf_compact.c): each PT_LOAD
 * without its trailing zeros (bss instead), the other segments' bytes, no
 * section headers; it loads exactly as img does. *out is malloc'd. */
#define ELF_COMPACT_MAX_PHDRS 64
int elf_compact(const uint8_t *img, size_t len, uint8_t **out, size_t *out_len,
		struct error *err);

/* Shared by the loaders: place the initrd file as high as possible in
 * [min_addr, max_end) and return where; size 0 when there is none. */
int initrd_load(struct gmem *m, const char *path, uint64_t min_addr,
		uint64_t max_end, uint64_t *addr, uint64_t *size,
		struct error *err);
/* cmdline (NULL: empty) at CMDLINE_ADDR, with the words of extra that it
 * does not set (by name, up to '=') added before its "--", if any; extra
 * only if all of it fits in max_len (0: the most CMDLINE_ADDR holds). An
 * error if cmdline alone does not fit. */
int cmdline_write(struct gmem *m, const char *cmdline, const char *extra,
		  uint64_t max_len, struct error *err);
/* What cmdline_write writes, in out[cap]: its length, or 0 if it does not
 * fit (line alone then). */
size_t cmdline_add_params(const char *line, const char *extra, char *out,
			  size_t cap);

/* What boot/ takes from the machine. */
struct boot_spec {
	const char *kernel;             /* bzImage or ELF vmlinux */
	const char *initrd;             /* NULL: none */
	const char *cmdline;
	unsigned vcpus;                 /* for the MP and ACPI tables */
	bool cmdline_auto;              /* add cmdline_board_params */
	bool kernel_cache;              /* boot a bzImage's cached ELF */
	bool ram_zeroed;                /* guest RAM is fresh: all zero */
};

/* The kernel parameters the board calls for (cmdline_x86.c): "" if none. */
const char *cmdline_board_params(const struct boot_spec *spec);

/* The kernel file of spec, read, and for a bzImage its ELF from the kernel
 * cache (whose checksum then runs on another thread) or decompressed into
 * it. Opened before the VM is created, the check runs while KVM sets the
 * VM up. NULL with err set if the file cannot be read. */
struct boot_kernel;
struct boot_kernel *boot_kernel_open(const struct boot_spec *spec,
				     struct error *err);
void boot_kernel_close(struct boot_kernel *k);

/* The whole boot: tables, kernel, initrd. Reads the files it names; the
 * kernel from k (boot_kernel_open of the same spec; close it after), or,
 * if k is NULL, opened and closed here. */
int boot_setup(struct gmem *m, const struct boot_spec *spec,
	       struct boot_kernel *k, struct boot_entry *entry,
	       struct error *err);

#endif

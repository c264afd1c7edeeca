/* ELF vmlinux through the PVH entry: the kernel's XEN_ELFNOTE_PHYS32_ENTRY
 * note gives a 32-bit entry point, entered in flat protected mode with paging
 * off and %ebx pointing at an hvm_start_info. */
#include "loader.h"

#include <elf.h>
#include <stdbool.h>
#include <string.h>

#include "e820.h"
#include "layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm memmap layout");

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

/* Bounds-checked copy of program header i; false if it is not in the file. */
static bool phdr(const struct boot_image *bi, unsigned i, Elf64_Phdr *ph)
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

static int find_pvh_entry(const struct boot_image *bi, uint32_t *entry)
{
	Elf64_Ehdr eh = ehdr(bi);

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off, end;

		if (!phdr(bi, i, &ph))
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

int pvh_load(struct gmem *m, const struct boot_image *bi,
	     struct boot_entry *entry, struct error *err)
{
	Elf64_Ehdr eh;
	struct hvm_start_info si = { .magic = HVM_START_MAGIC, .version = 1 };
	struct hvm_modlist_entry mod = { 0 };
	struct e820_entry e820[8];
	struct hvm_memmap_entry mm[8];
	uint64_t kernel_end = 0, rd_addr, rd_size, low_end;
	uint32_t pvh_entry;
	unsigned n;

	if (!pvh_probe(bi->kernel, bi->kernel_len))
		return err_set(err, "not an x86_64 ELF image");
	eh = ehdr(bi);
	if (find_pvh_entry(bi, &pvh_entry) < 0)
		return err_set(err, "ELF kernel has no PVH entry note "
			       "(XEN_ELFNOTE_PHYS32_ENTRY; build with CONFIG_PVH)");
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr seg, *ph = &seg;
		uint8_t *dst;

		if (!phdr(bi, i, &seg))
			return err_set(err, "bad ELF program headers");
		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_offset > bi->kernel_len ||
		    ph->p_filesz > bi->kernel_len - ph->p_offset ||
		    ph->p_filesz > ph->p_memsz)
			return err_set(err, "ELF segment %u lies outside the file", i);
		if (ph->p_paddr < HIGH_MEM_START)
			return err_set(err, "ELF segment %u loads below 1 MiB", i);
		dst = gmem_ptr(m, ph->p_paddr, ph->p_memsz);
		if (!dst)
			return err_set(err, "ELF segment %u (0x%llx+0x%llx) is outside "
				       "guest RAM", i, (unsigned long long)ph->p_paddr,
				       (unsigned long long)ph->p_memsz);
		memcpy(dst, bi->kernel + ph->p_offset, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		if (ph->p_paddr + ph->p_memsz > kernel_end)
			kernel_end = ph->p_paddr + ph->p_memsz;
	}

	if (cmdline_write(m, bi->cmdline, 0, err) < 0)
		return -1;
	low_end = m->region[0].gpa + m->region[0].size;
	if (initrd_load(m, bi->initrd_path, (kernel_end + 0xfff) & ~0xfffULL,
			low_end, &rd_addr, &rd_size, err) < 0)
		return -1;

	n = e820_build(m, e820, 8);
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){ e820[i].addr, e820[i].size,
						   e820[i].type, 0 };
	/* start info, then the module list, then the memory map */
	si.cmdline_paddr = CMDLINE_ADDR;
	si.rsdp_paddr = bi->rsdp;
	si.memmap_paddr = PVH_START_INFO_ADDR + sizeof(si) + sizeof(mod);
	si.memmap_entries = n;
	if (rd_size) {
		mod.paddr = rd_addr;
		mod.size = rd_size;
		si.nr_modules = 1;
		si.modlist_paddr = PVH_START_INFO_ADDR + sizeof(si);
	}
	if (gmem_write(m, PVH_START_INFO_ADDR, &si, sizeof(si), err) < 0 ||
	    gmem_write(m, PVH_START_INFO_ADDR + sizeof(si), &mod, sizeof(mod), err) < 0 ||
	    gmem_write(m, si.memmap_paddr, mm, n * sizeof(mm[0]), err) < 0)
		return -1;
	if (si.memmap_paddr + n * sizeof(mm[0]) > ZERO_PAGE_ADDR)
		return err_set(err, "PVH boot information overflows its page");

	if (boot_write_cpu_tables(m, err) < 0)
		return -1;
	entry->mode = BOOT_FLAT32;
	entry->rip = pvh_entry;
	entry->rbx = PVH_START_INFO_ADDR;
	entry->rsi = 0;
	return 0;
}

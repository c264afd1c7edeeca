/* ELF vmlinux through the PVH entry: the kernel's XEN_ELFNOTE_PHYS32_ENTRY
 * note gives a 32-bit entry point, entered in flat protected mode with paging
 * off and %ebx pointing at an hvm_start_info. */
#include "loader.h"

#include <string.h>

#include "e820.h"
#include "layout.h"
#include "../vmm/timeline.h"

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

int pvh_load(struct gmem *m, const struct boot_image *bi,
	     struct boot_entry *entry, struct error *err)
{
	struct hvm_start_info si = { .magic = HVM_START_MAGIC, .version = 1 };
	struct hvm_modlist_entry mod = { 0 };
	struct e820_entry e820[8];
	struct hvm_memmap_entry mm[8];
	uint64_t kernel_start, kernel_end, rd_addr, rd_size, low_end;
	uint32_t pvh_entry;
	unsigned n;

	if (!pvh_probe(bi->kernel, bi->kernel_len))
		return err_set(err, "not an x86_64 ELF image");
	if (elf_pvh_entry(bi, &pvh_entry) < 0)
		return err_set(err, "ELF kernel has no PVH entry note "
			       "(XEN_ELFNOTE_PHYS32_ENTRY; build with CONFIG_PVH)");
	if (elf_load_segments(m, bi, &kernel_start, &kernel_end, err) < 0)
		return -1;
	timeline_mark(MS_KERNEL_LOADED);

	if (cmdline_write(m, bi->cmdline, bi->cmdline_extra, 0, err) < 0)
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

/* The Linux x86 boot protocol for bzImage kernels, entered at the 64-bit
 * entry point (startup_64 = protected-mode kernel + 0x200) with vessel's own
 * GDT and identity page tables, and boot_params at ZERO_PAGE_ADDR. The same
 * protocol boots an ELF vmlinux decompressed from a bzImage (the kernel
 * cache), entered at the ELF's startup_64 with the bzImage's setup header. */
#include "loader.h"

#include <string.h>

#include "bootparams.h"
#include "e820.h"
#include "layout.h"
#include "../vmm/timeline.h"

#define MIN_VERSION 0x020c      /* 2.12: xloadflags, the 64-bit entry */

int bzimage_probe(const uint8_t *img, size_t len)
{
	return len > BP_HDR + 0x80 && get32(img, BP_HEADER) == HDR_MAGIC;
}

static uint64_t low_ram_end(const struct gmem *m)
{
	return m->region[0].gpa + m->region[0].size;
}

/* The setup header's checks shared by both entries. */
static int check_header(const uint8_t *img, size_t len, struct error *err)
{
	if (!bzimage_probe(img, len))
		return err_set(err, "not a bzImage (no HdrS header)");
	if (get16(img, BP_VERSION) < MIN_VERSION)
		return err_set(err, "boot protocol %u.%02u is too old (need 2.12+)",
			       get16(img, BP_VERSION) >> 8,
			       get16(img, BP_VERSION) & 0xff);
	if (!(get16(img, BP_XLOADFLAGS) & XLF_KERNEL_64))
		return err_set(err, "kernel has no 64-bit entry point");
	return 0;
}

/* Everything but the kernel itself: the zero page (a copy of img's setup
 * header, then our fields), the command line, the initrd above kernel_end,
 * the memory map and the CPU tables. load is where the kernel sits. */
static int zero_page(struct gmem *m, const struct boot_image *bi,
		     const uint8_t *img, size_t len, uint64_t load,
		     uint64_t kernel_end, struct error *err)
{
	uint64_t rd_addr, rd_size, rd_max;
	struct e820_entry e820[BP_E820_MAX];
	unsigned n820, hdr_len;
	uint8_t *zp;

	zp = gmem_ptr(m, ZERO_PAGE_ADDR, BP_SIZE);
	if (!zp)
		return err_set(err, "guest RAM too small for boot_params");
	memset(zp, 0, BP_SIZE);
	hdr_len = 0x202 + img[0x201] - BP_HDR;
	if (BP_HDR + hdr_len > BP_SIZE || BP_HDR + hdr_len > len)
		return err_set(err, "bad setup header length");
	memcpy(zp + BP_HDR, img + BP_HDR, hdr_len);
	put16(zp, BP_VID_MODE, 0xffff);                 /* "normal" */
	zp[BP_TYPE_OF_LOADER] = LOADER_TYPE_UNKNOWN;
	zp[BP_LOADFLAGS] |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
	put16(zp, BP_HEAP_END_PTR, 0xfe00);
	put32(zp, BP_CODE32_START, (uint32_t)load);

	if (cmdline_write(m, bi->cmdline, bi->cmdline_extra, get32(img, BP_CMDLINE_SIZE), err) < 0)
		return -1;
	put32(zp, BP_CMD_LINE_PTR, (uint32_t)CMDLINE_ADDR);

	rd_max = (uint64_t)get32(img, BP_INITRD_ADDR_MAX) + 1;
	if (rd_max > low_ram_end(m))
		rd_max = low_ram_end(m);
	if (initrd_load(m, bi->initrd_path, kernel_end, rd_max, &rd_addr,
			&rd_size, err) < 0)
		return -1;
	put32(zp, BP_RAMDISK_IMAGE, (uint32_t)rd_addr);
	put32(zp, BP_RAMDISK_SIZE, (uint32_t)rd_size);
	put32(zp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd_addr >> 32));
	put32(zp, BP_EXT_RAMDISK_SIZE, (uint32_t)(rd_size >> 32));

	if (bi->rsdp)
		put64(zp, BP_ACPI_RSDP_ADDR, bi->rsdp);
	n820 = e820_build(m, e820, BP_E820_MAX);
	memcpy(zp + BP_E820_TABLE, e820, n820 * sizeof(e820[0]));
	zp[BP_E820_ENTRIES] = (uint8_t)n820;

	return boot_write_cpu_tables(m, err);
}

int bzimage_load(struct gmem *m, const struct boot_image *bi,
		 struct boot_entry *entry, struct error *err)
{
	const uint8_t *img = bi->kernel;
	unsigned setup_sects;
	uint64_t setup_size, load, kernel_size, init_size;

	if (check_header(img, bi->kernel_len, err) < 0)
		return -1;
	setup_sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
	setup_size = (uint64_t)(setup_sects + 1) * 512;
	if (setup_size >= bi->kernel_len)
		return err_set(err, "truncated bzImage");
	kernel_size = bi->kernel_len - setup_size;
	init_size = get32(img, BP_INIT_SIZE);
	if (init_size < kernel_size)
		init_size = kernel_size;

	/* A relocatable kernel goes where it prefers; else the classic 1 MiB. */
	load = img[BP_RELOCATABLE] ? get64(img, BP_PREF_ADDRESS) : HIGH_MEM_START;
	if (load < HIGH_MEM_START)
		load = HIGH_MEM_START;
	if (load + init_size > low_ram_end(m))
		return err_set(err, "memory too small for this kernel (needs %llu MiB "
			       "below the MMIO hole)",
			       (unsigned long long)((load + init_size) >> 20) + 1);
	if (gmem_write(m, load, img + setup_size, kernel_size, err) < 0)
		return -1;
	timeline_mark(MS_KERNEL_LOADED);
	if (zero_page(m, bi, img, bi->kernel_len, load, load + init_size, err) < 0)
		return -1;
	entry->mode = BOOT_LONG64;
	entry->rip = load + 0x200;
	entry->rsi = ZERO_PAGE_ADDR;
	entry->rbx = 0;
	return 0;
}

int vmlinux64_load(struct gmem *m, const struct boot_image *bi,
		   struct boot_entry *entry, struct error *err)
{
	uint64_t start, end, rip, seg_start, seg_end;

	if (!bi->setup)
		return err_set(err, "ELF kernel has no PVH entry note and no "
			       "bzImage setup header for the 64-bit entry");
	if (check_header(bi->setup, bi->setup_len, err) < 0)
		return -1;
	if (!pvh_probe(bi->kernel, bi->kernel_len))
		return err_set(err, "not an x86_64 ELF image");
	/* startup_64's physical address: the vmlinux links e_entry there. */
	rip = elf_entry(bi);
	if (elf_span(m, bi, &start, &end, err) < 0)
		return -1;
	if (rip < start || rip >= end)
		return err_set(err, "ELF entry point 0x%llx is outside its "
			       "segments", (unsigned long long)rip);
	/* The kernel may use up to init_size from its start before it has
	 * reserved its own memory: keep the initrd out of that, as for the
	 * bzImage. */
	if (start + get32(bi->setup, BP_INIT_SIZE) > end)
		end = start + get32(bi->setup, BP_INIT_SIZE);
	if (end > low_ram_end(m))
		return err_set(err, "memory too small for this kernel (needs %llu MiB "
			       "below the MMIO hole)",
			       (unsigned long long)(end >> 20) + 1);
	if (elf_load_segments(m, bi, &seg_start, &seg_end, err) < 0)
		return -1;
	timeline_mark(MS_KERNEL_LOADED);
	if (zero_page(m, bi, bi->setup, bi->setup_len, start, end, err) < 0)
		return -1;
	entry->mode = BOOT_LONG64;
	entry->rip = rip;
	entry->rsi = ZERO_PAGE_ADDR;
	entry->rbx = 0;
	return 0;
}

/* The boot GDT and the identity page tables used for the 64-bit entry. */
#include "entry.h"

#include "layout.h"

#define PTE_P  0x001ULL
#define PTE_RW 0x002ULL
#define PTE_PS 0x080ULL

int boot_write_cpu_tables(struct gmem *m, struct error *err)
{
	const uint64_t gdt[] = {
		0,                      /* null */
		0x00cf9b000000ffffULL,  /* 0x08: 32-bit code, flat */
		0x00af9b000000ffffULL,  /* 0x10: 64-bit code */
		0x00cf93000000ffffULL,  /* 0x18: data, flat */
		0x00008b000000ffffULL,  /* 0x20: TSS (busy, unused) */
	};
	uint64_t *pml4 = gmem_ptr(m, PML4_ADDR, 4096);
	uint64_t *pdpt = gmem_ptr(m, PDPT_ADDR, 4096);
	uint64_t *pd = gmem_ptr(m, PD_ADDR, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return err_set(err, "guest RAM too small for the boot page tables");
	if (gmem_write(m, BOOT_GDT_ADDR, gdt, sizeof(gdt), err) < 0)
		return -1;
	for (unsigned i = 0; i < 512; i++) {
		pml4[i] = 0;
		pdpt[i] = 0;
	}
	pml4[0] = PDPT_ADDR | PTE_P | PTE_RW;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (PD_ADDR + i * 4096) | PTE_P | PTE_RW;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

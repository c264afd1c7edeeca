/* The guest-physical memory map vessel builds for an x86_64 guest. */
#ifndef VESSEL_LAYOUT_H
#define VESSEL_LAYOUT_H

#define MIN_RAM_SIZE      (32ULL << 20)
#define MAX_RAM_SIZE      (1ULL << 40)

/* Low memory, below 1 MiB */
#define BOOT_GDT_ADDR     0x0500ULL   /* GDT used for the 64-bit entry */
#define BOOT_IDT_ADDR     0x0530ULL   /* empty IDT (limit 0), after the 5-entry GDT */
#define ZERO_PAGE_ADDR    0x7000ULL   /* struct boot_params */
#define PML4_ADDR         0x9000ULL   /* identity page tables: PML4 */
#define PDPT_ADDR         0xa000ULL   /*   one PDPT */
#define PD_ADDR           0xb000ULL   /*   four PDs, 2 MiB pages, 4 GiB */
#define PVH_START_INFO_ADDR 0x6000ULL /* hvm_start_info for the PVH entry */
#define CMDLINE_ADDR      0x20000ULL
#define CMDLINE_MAX       0x10000ULL  /* bytes, including the NUL */
#define EBDA_START        0x9fc00ULL  /* [EBDA_START, 1 MiB) is reserved */
#define MPTABLE_ADDR      0x9fc00ULL  /* MP floating pointer + table, in the EBDA */
#define ACPI_TABLES_ADDR  0xe0000ULL  /* RSDP first, then the other tables */
#define ACPI_TABLES_SIZE  0x10000ULL  /* up to 0xf0000 */
#define HIGH_MEM_START    0x100000ULL /* 1 MiB */

/* The 32-bit MMIO hole and RAM above 4 GiB */
#define MMIO_HOLE_START   0xc0000000ULL
#define MMIO_HOLE_SIZE    0x40000000ULL
#define HIGH_RAM_START    0x100000000ULL

/* PCI: one host bridge, bus 0 only. 32-bit BARs are placed by vessel in
 * the MMIO window (as firmware would); ECAM covers bus 0. */
#define PCI_MMIO_START    0xc0000000ULL
#define PCI_MMIO_SIZE     0x20000000ULL   /* 512 MiB */
#define PCI_ECAM_BASE     0xe0000000ULL
#define PCI_ECAM_SIZE     0x00100000ULL   /* bus 0: 32 devices x 8 functions x 4 KiB */
#define PCI_BUS_START     0
#define PCI_BUS_END       0
#define PCI_CONFIG_ADDR_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc

/* Fixed platform addresses inside the hole */
#define IOAPIC_ADDR       0xfec00000ULL
#define LAPIC_ADDR        0xfee00000ULL

/* Legacy I/O ports and IRQs */
#define COM1_PORT         0x3f8
#define COM1_IRQ          4
#define I8042_DATA_PORT   0x60
#define I8042_CMD_PORT    0x64
#define PM_BASE_PORT      0x600       /* ACPI PM block */
#define PM1_EVT_PORT      (PM_BASE_PORT + 0x0)  /* 4 bytes: STS, EN */
#define PM1_CNT_PORT      (PM_BASE_PORT + 0x4)  /* 2 bytes */
#define PM_TMR_PORT       (PM_BASE_PORT + 0x8)  /* 4 bytes */
#define PM_GPE0_PORT      (PM_BASE_PORT + 0x10) /* 4 bytes: STS, EN */
/* The ACPI reset register sits in the PM block: 0xcf9, its usual home, is
 * inside the PCI config-address register 0xcf8-0xcfb. */
#define RESET_PORT        (PM_BASE_PORT + 0x18)
#define RESET_VALUE       0x06
#define SCI_IRQ           9
#define SLP_TYP_S5        5           /* \_S5 value and PM1_CNT SLP_TYP */

#endif

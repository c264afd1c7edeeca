/* How the boot vCPU starts: the loaders' output, the vCPU code's input. */
#ifndef VESSEL_ENTRY_H
#define VESSEL_ENTRY_H

#include <stdint.h>

#include "../vmm/memory.h"
#include "../tools/base/error.h"

enum boot_mode {
	BOOT_LONG64,    /* 64-bit mode, identity-mapped 4 GiB, GDT at BOOT_GDT_ADDR */
	BOOT_FLAT32,    /* 32-bit protected mode, paging off (PVH entry) */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip, rsi, rbx;
};

/* GDT selectors vessel's boot GDT provides (the Linux boot protocol's). */
#define BOOT_CS32 0x08
#define BOOT_CS64 0x10
#define BOOT_DS   0x18
#define BOOT_TSS  0x20

/* Write the boot GDT and an identity map of the low 4 GiB (2 MiB pages). */
int boot_write_cpu_tables(struct gmem *m, struct error *err);

#endif

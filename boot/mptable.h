/* Intel MultiProcessor Specification 1.4 tables, for guests that do not use
 * ACPI (acpi=off) or predate it: a floating pointer structure at
 * MPTABLE_ADDR (in the last KiB of base memory, where an OS scans for it)
 * and, right after it, the configuration table describing one local APIC
 * per vCPU (APIC ids 0..ncpus-1, BSP 0), the buses, the IOAPIC (id ncpus)
 * and the interrupt routing: ISA IRQ0 -> pin 2, the other ISA IRQs
 * identity and, with a PCI bus, INTA..INTD of PCI slots 1..31 on bus 0 ->
 * pins ACPI_PCI_INTX_GSI(slot, pin) (16..19), as the ACPI _PRT says.
 *
 * Bus ids: without PCI the ISA bus is bus 0; with PCI, bus 0 is the PCI
 * bus (an MP bus id for PCI is the PCI bus number) and ISA is bus 1. */
#ifndef VESSEL_MPTABLE_H
#define VESSEL_MPTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "../tools/base/error.h"
#include "../vmm/memory.h"

/* 8-bit xAPIC ids; 0xff is the broadcast id */
#define MPTABLE_MAX_CPUS 255

/* Bytes mptable_build() writes at MPTABLE_ADDR for ncpus vCPUs, with or
 * without a PCI bus. With PCI (124 interrupt entries) or many vCPUs this
 * exceeds the 1 KiB EBDA and runs on into [0xa0000, 1 MiB), which is
 * reserved too; it always ends below ACPI_TABLES_ADDR. */
size_t mptable_size(unsigned ncpus, bool pci);

/* Write the tables; pci: describe PCI bus 0 and its INTx routing too.
 * Returns -1 with err filled if ncpus is not in 1..MPTABLE_MAX_CPUS or the
 * tables would not lie wholly in guest RAM below ACPI_TABLES_ADDR; nothing
 * is written then. */
int mptable_build(struct gmem *m, unsigned ncpus, bool pci, struct error *err);

#endif

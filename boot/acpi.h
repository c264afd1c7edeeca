/* ACPI tables for the guest, built at run time into guest memory at
 * [ACPI_TABLES_ADDR, ACPI_TABLES_ADDR + ACPI_TABLES_SIZE):
 *
 *   RSDP (ACPI 2.0+) -> XSDT (and a mirroring RSDT) -> FADT, MADT[, MCFG]
 *   FADT -> FACS, DSDT (hand-encoded AML: \_S5[, \_SB.PCI0, \_SB.RES0])
 *
 * The platform the tables describe is the one in boot/layout.h: the PM
 * block at PM_BASE_PORT, the reset register at RESET_PORT, SCI on SCI_IRQ,
 * one IOAPIC and one xAPIC local APIC per vCPU (APIC ids 0..ncpus-1) and,
 * if configured, one PCI host bridge (segment 0) with ECAM. */
#ifndef VESSEL_ACPI_H
#define VESSEL_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tools/base/error.h"
#include "../vmm/memory.h"

/* xAPIC ids are 8 bits and 0xff is the broadcast id (and the "all
 * processors" UID in MADT NMI entries); more vCPUs would need x2APIC
 * entries. */
#define ACPI_MAX_CPUS 255

/*
 * PCI INTx routing, when there is a host bridge: INTA..INTD (pin 0..3) of
 * device (slot) d on bus 0 is wired to IOAPIC pin / GSI
 * ACPI_PCI_INTX_GSI(d, pin), level-triggered and active low as PCI
 * interrupts are. The _PRT says so for slots 0..31; mptable.c's PCI
 * interrupt entries must agree.
 */
#define ACPI_PCI_INTX_GSI_BASE	16
#define ACPI_PCI_INTX_GSI(slot, pin) \
	(ACPI_PCI_INTX_GSI_BASE + ((slot) + (pin)) % 4)

struct acpi_config {
	unsigned ncpus;             /* 1..ACPI_MAX_CPUS */
	/*
	 * PCI host bridge, segment 0. pci_ecam_base == 0: none, and the
	 * tables are those of a machine without PCI (no MCFG, no PCI0).
	 * Otherwise:
	 *  - an MCFG entry with base pci_ecam_base (the address of bus 0's
	 *    config space, even if pci_bus_start > 0) for buses
	 *    [pci_bus_start, pci_bus_end];
	 *  - \_SB.PCI0 (PNP0A08, compatible PNP0A03) with _SEG 0, _BBN
	 *    pci_bus_start, a _PRT (see ACPI_PCI_INTX_GSI) and a _CRS of the
	 *    bus range, I/O 0-0xcf7 and 0xd00-0xffff, the 32-bit memory
	 *    window [pci_mmio_base, +pci_mmio_size) and, if pci_mmio64_size
	 *    is not 0, the 64-bit window [pci_mmio64_base, +pci_mmio64_size);
	 *  - \_SB.RES0 (PNP0C02, a motherboard resource) reserving the ECAM
	 *    area of those buses, which Linux requires before it uses ECAM.
	 * The ECAM area must lie below 4 GiB, the 32-bit window must be
	 * non-empty and below 4 GiB, and neither window may overlap the ECAM
	 * area.
	 */
	uint64_t pci_ecam_base;
	uint8_t pci_bus_start;
	uint8_t pci_bus_end;
	uint64_t pci_mmio_base;
	uint64_t pci_mmio_size;
	uint64_t pci_mmio64_base;
	uint64_t pci_mmio64_size;   /* 0: no 64-bit window */
};

/* Zero [ACPI_TABLES_ADDR, +ACPI_TABLES_SIZE) and write the tables there.
 * On success stores the RSDP's guest-physical address (for boot_params
 * acpi_rsdp_addr) in *rsdp_gpa if rsdp_gpa is not NULL. Returns -1 with err
 * filled on a bad config or if the region is not wholly in guest RAM. */
int acpi_build(struct gmem *m, const struct acpi_config *c, uint64_t *rsdp_gpa,
	       struct error *err);
/* The same over [gpa, gpa + size) (16-byte aligned, below 4 GiB); tests use
 * small areas to check that tables which do not fit are an error. */
int acpi_build_at(struct gmem *m, const struct acpi_config *c, uint64_t gpa,
		  size_t size, uint64_t *rsdp_gpa, struct error *err);

/*
 * A tiny AML encoder: appends bytes to a fixed buffer. Errors (overflow, a
 * bad name, a too-long package) are sticky in ->failed and make later calls
 * no-ops, so a sequence of calls is checked once at the end. Nothing is
 * written at or past buf + cap.
 *
 * Objects with a PkgLength (Scope, Device, Package, Buffer, Method) are
 * opened by a *_begin() call that returns a handle and closed with
 * aml_end(a, handle); they nest. Example:
 *
 *	size_t sb = aml_scope_begin(a, "\\_SB_");
 *	size_t dev = aml_device_begin(a, "PCI0");
 *	aml_name(a, "_HID");
 *	aml_eisaid(a, "PNP0A08");
 *	aml_end(a, dev);
 *	aml_end(a, sb);
 */
struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool failed;
};

void aml_init(struct aml *a, void *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
/* Reserve room for a PkgLength; aml_pkg_end() encodes it in 1..4 bytes
 * covering everything appended since (and itself). */
size_t aml_pkg_begin(struct aml *a);
void aml_pkg_end(struct aml *a, size_t handle);
/* NameString: optional leading '\\' or '^'s, then 0 or more dot-separated
 * segments of 1-4 of [A-Z0-9_] (not starting with a digit), padded with
 * '_' to 4 characters: "\\_SB_.PCI0", "_S5", "^FOO". */
void aml_namestring(struct aml *a, const char *path);
/* Integer in the shortest encoding: Zero, One, Ones, Byte/Word/DWord/QWord */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0A03") as a DWordConst, like ASL's EISAID() */
void aml_eisaid(struct aml *a, const char *id);
/* Name(path, ...): the caller appends the data object next */
void aml_name(struct aml *a, const char *path);
size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *path);
/* Package(nelems) { ... }: the caller appends nelems data objects */
size_t aml_package_begin(struct aml *a, unsigned nelems);
/* Buffer(len) { bytes } */
void aml_buffer(struct aml *a, const void *p, size_t len);
void aml_end(struct aml *a, size_t handle);

/*
 * Resource descriptors (ACPI 6.5 section 6.4) for a resource template such
 * as a _CRS: append them to a scratch struct aml, finish with
 * aml_res_end() and emit the bytes with aml_buffer(). Example:
 *
 *	struct aml r;
 *
 *	aml_init(&r, tmp, sizeof(tmp));
 *	aml_res_memory32_fixed(&r, true, 0xe0000000, 0x100000);
 *	aml_res_end(&r);
 *	aml_name(a, "_CRS");
 *	aml_buffer(a, r.buf, r.len);	(after checking r.failed)
 *
 * The address space descriptors describe a window the device produces
 * (ResourceProducer, PosDecode, MinFixed, MaxFixed) of [min, max]:
 * granularity 0, translation offset 0, length max - min + 1, no resource
 * source. min > max, or a range of the whole 64-bit space, fails.
 */
enum aml_res_space {
	AML_RES_MEMORY = 0,
	AML_RES_IO = 1,
	AML_RES_BUS = 2,
};

/* Type specific flags: memory */
#define AML_RES_MEM_RW		(1u << 0)	/* ReadWrite (else ReadOnly) */
#define AML_RES_MEM_NONCACHEABLE (0u << 1)
#define AML_RES_MEM_CACHEABLE	(1u << 1)
#define AML_RES_MEM_WC		(2u << 1)	/* write combining */
#define AML_RES_MEM_PREFETCH	(3u << 1)
/* Type specific flags: I/O */
#define AML_RES_IO_ENTIRE	3u		/* EntireRange (ISA and not) */

void aml_res_word(struct aml *a, enum aml_res_space type, uint8_t type_flags,
		  uint16_t min, uint16_t max);
void aml_res_dword(struct aml *a, enum aml_res_space type, uint8_t type_flags,
		   uint32_t min, uint32_t max);
void aml_res_qword(struct aml *a, enum aml_res_space type, uint8_t type_flags,
		   uint64_t min, uint64_t max);
/* Memory32Fixed(ReadWrite or ReadOnly, base, len) */
void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base,
			    uint32_t len);
/* End Tag, checksum 0 ("the template is correct") */
void aml_res_end(struct aml *a);

#endif

/* ACPI tables for the guest, built at run time into guest memory at
 * [ACPI_TABLES_ADDR, ACPI_TABLES_ADDR + ACPI_TABLES_SIZE):
 *
 *   RSDP (ACPI 2.0+) -> XSDT (and a mirroring RSDT) -> FADT, MADT
 *   FADT -> FACS, DSDT (hand-encoded AML: \_S5)
 *
 * The platform the tables describe is the one in boot/layout.h: the PM
 * block at PM_BASE_PORT, the reset register at RESET_PORT, SCI on SCI_IRQ,
 * one IOAPIC and one xAPIC local APIC per vCPU (APIC ids 0..ncpus-1). */
#ifndef VESSEL_ACPI_H
#define VESSEL_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tools/error.h"
#include "../vmm/memory.h"

/* xAPIC ids are 8 bits and 0xff is the broadcast id (and the "all
 * processors" UID in MADT NMI entries); more vCPUs would need x2APIC
 * entries. */
#define ACPI_MAX_CPUS 255

struct acpi_config {
	unsigned ncpus;             /* 1..ACPI_MAX_CPUS */
	/* PCI host bridge (MCFG + \_SB.PCI0), not implemented yet: must be
	 * 0. When it lands, pci_ecam_base != 0 adds an MCFG entry for buses
	 * [pci_bus_start, pci_bus_end] and a PCI0 device in the DSDT. */
	uint64_t pci_ecam_base;
	uint8_t pci_bus_start;
	uint8_t pci_bus_end;
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

#endif

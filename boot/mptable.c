/* MP spec 1.4 floating pointer and configuration table. */
#include "mptable.h"

#include <string.h>

#include "acpi.h"	/* ACPI_PCI_INTX_GSI: the _PRT's routing */
#include "layout.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "MP tables are little-endian; so is the host");
_Static_assert(MPTABLE_ADDR % 16 == 0, "MP floating pointer alignment");

#define MP_SPEC_REV		4	/* 1.4 */
#define MP_LAPIC_VERSION	0x14	/* integrated APIC, as KVM's */
#define MP_IOAPIC_VERSION	0x11
#define MP_CPU_SIGNATURE	0x600	/* family 6 */
#define MP_CPU_FEATURES		0x201	/* CPUID.1:EDX FPU, APIC */
#define MP_PCI_BUS		0	/* with PCI: the PCI bus number */
#define MP_PCI_FIRST_SLOT	1	/* slot 0: the host bridge, no INTx */
#define MP_PCI_SLOTS		32
#define MP_PCI_PINS		4	/* INTA..INTD */
#define MP_ISA_IRQS		16
#define MP_TIMER_PIN		2	/* IOAPIC pin the PIT's IRQ0 is on */
#define MP_ALL_LAPICS		0xff

enum {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_INTSRC = 3,
	MP_LINTSRC = 4,
};

enum { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

#define MP_CPU_ENABLED		(1u << 0)
#define MP_CPU_BSP		(1u << 1)
#define MP_IOAPIC_ENABLED	(1u << 0)
#define MP_IRQ_CONFORMS		0	/* polarity and trigger of the bus */
#define MP_IRQ_ACTIVE_LOW	0x3
#define MP_IRQ_LEVEL		(0x3 << 2)

struct mpf_intel {
	char signature[4];		/* "_MP_" */
	uint32_t physptr;		/* configuration table */
	uint8_t length;			/* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature1;		/* 0: the table at physptr is used */
	uint8_t feature2;		/* bit 7 IMCRP clear: virtual wire */
	uint8_t feature3[3];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer size");

struct mpc_table {
	char signature[4];		/* "PCMP" */
	uint16_t length;		/* base table, header included */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_table) == 44, "MP config table header size");

struct mpc_cpu {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t cpu_flags;
	uint32_t cpu_signature;
	uint32_t feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor entry size");

struct mpc_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_bus) == 8, "MP bus entry size");

struct mpc_ioapic {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t apic_addr;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_ioapic) == 8, "MP IOAPIC entry size");

/* I/O (type 3) and local (type 4) interrupt assignment entries */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irq_type;
	uint16_t irq_flags;
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;		/* INTIN# or LINTIN# */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_intsrc) == 8, "MP interrupt entry size");

#define MP_NINTSRC		(MP_ISA_IRQS - 1)	/* no IRQ2: cascade */
#define MP_NPCISRC		((MP_PCI_SLOTS - MP_PCI_FIRST_SLOT) * MP_PCI_PINS)
#define MP_NLINTSRC		2

static size_t mpc_size(unsigned ncpus, bool pci)
{
	unsigned nbus = pci ? 2 : 1;
	unsigned nint = MP_NINTSRC + (pci ? MP_NPCISRC : 0) + MP_NLINTSRC;

	return sizeof(struct mpc_table) + ncpus * sizeof(struct mpc_cpu) +
	       nbus * sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       nint * sizeof(struct mpc_intsrc);
}

size_t mptable_size(unsigned ncpus, bool pci)
{
	return sizeof(struct mpf_intel) + mpc_size(ncpus, pci);
}

_Static_assert(MPTABLE_ADDR + sizeof(struct mpf_intel) + 44 +
	       MPTABLE_MAX_CPUS * 20 + 2 * 8 + 8 + (15 + 124 + 2) * 8 <=
	       ACPI_TABLES_ADDR,
	       "MP tables for MPTABLE_MAX_CPUS run into the ACPI tables");

static uint8_t mp_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

static struct mpc_intsrc *pci_intsrcs(struct mpc_intsrc *irq,
				       uint8_t ioapic_id)
{
	for (unsigned slot = MP_PCI_FIRST_SLOT; slot < MP_PCI_SLOTS; slot++) {
		for (unsigned pin = 0; pin < MP_PCI_PINS; pin++) {
			*irq++ = (struct mpc_intsrc){
				.type = MP_INTSRC,
				.irq_type = MP_INT,
				.irq_flags = MP_IRQ_ACTIVE_LOW | MP_IRQ_LEVEL,
				.src_bus = MP_PCI_BUS,
				/* device in bits 6:2, INTA..D as 0..3 */
				.src_irq = slot << 2 | pin,
				.dst_apic = ioapic_id,
				.dst_pin = ACPI_PCI_INTX_GSI(slot, pin),
			};
		}
	}
	return irq;
}

int mptable_build(struct gmem *m, unsigned ncpus, bool pci, struct error *err)
{
	size_t size;
	uint8_t *host;
	struct mpf_intel *mpf;
	struct mpc_table *mpc;
	struct mpc_cpu *cpu;
	struct mpc_bus *bus;
	struct mpc_ioapic *ioapic;
	struct mpc_intsrc *irq;
	unsigned n = 0;
	uint8_t ioapic_id = ncpus;
	uint8_t isa_bus = pci ? 1 : 0;

	if (ncpus < 1 || ncpus > MPTABLE_MAX_CPUS)
		return err_set(err, "MP table: %u vCPUs is out of range (1-%u)",
			       ncpus, MPTABLE_MAX_CPUS);
	size = mptable_size(ncpus, pci);
	host = gmem_ptr(m, MPTABLE_ADDR, size);
	if (!host)
		return err_set(err, "MP table: 0x%llx+0x%zx is outside guest RAM",
			       (unsigned long long)MPTABLE_ADDR, size);
	memset(host, 0, size);

	mpf = (struct mpf_intel *)host;
	mpc = (struct mpc_table *)(mpf + 1);

	cpu = (struct mpc_cpu *)(mpc + 1);
	for (unsigned i = 0; i < ncpus; i++) {
		cpu[i] = (struct mpc_cpu){
			.type = MP_PROCESSOR,
			.apic_id = i,
			.apic_ver = MP_LAPIC_VERSION,
			.cpu_flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.cpu_signature = MP_CPU_SIGNATURE,
			.feature_flags = MP_CPU_FEATURES,
		};
		n++;
	}

	/* Bus entries in bus id order */
	bus = (struct mpc_bus *)(cpu + ncpus);
	if (pci) {
		bus->type = MP_BUS;
		bus->bus_id = MP_PCI_BUS;
		memcpy(bus->bus_type, "PCI   ", 6);
		bus++;
		n++;
	}
	bus->type = MP_BUS;
	bus->bus_id = isa_bus;
	memcpy(bus->bus_type, "ISA   ", 6);
	n++;

	ioapic = (struct mpc_ioapic *)(bus + 1);
	*ioapic = (struct mpc_ioapic){
		.type = MP_IOAPIC,
		.apic_id = ioapic_id,
		.apic_ver = MP_IOAPIC_VERSION,
		.flags = MP_IOAPIC_ENABLED,
		.apic_addr = IOAPIC_ADDR,
	};
	n++;

	irq = (struct mpc_intsrc *)(ioapic + 1);
	for (unsigned i = 0; i < MP_ISA_IRQS; i++) {
		if (i == MP_TIMER_PIN)
			continue;	/* the 8259 cascade: nothing there */
		*irq++ = (struct mpc_intsrc){
			.type = MP_INTSRC,
			.irq_type = MP_INT,
			.irq_flags = MP_IRQ_CONFORMS,
			.src_bus = isa_bus,
			.src_irq = i,
			.dst_apic = ioapic_id,
			.dst_pin = i == 0 ? MP_TIMER_PIN : i,
		};
		n++;
	}
	if (pci) {
		irq = pci_intsrcs(irq, ioapic_id);
		n += MP_NPCISRC;
	}

	/* Virtual wire: the 8259 on every LINT0, NMI on every LINT1 */
	*irq++ = (struct mpc_intsrc){
		.type = MP_LINTSRC,
		.irq_type = MP_EXTINT,
		.irq_flags = MP_IRQ_CONFORMS,
		.src_bus = isa_bus,
		.src_irq = 0,
		.dst_apic = MP_ALL_LAPICS,
		.dst_pin = 0,
	};
	*irq++ = (struct mpc_intsrc){
		.type = MP_LINTSRC,
		.irq_type = MP_NMI,
		.irq_flags = MP_IRQ_CONFORMS,
		.src_bus = isa_bus,
		.src_irq = 0,
		.dst_apic = MP_ALL_LAPICS,
		.dst_pin = 1,
	};
	n += 2;

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = mpc_size(ncpus, pci);
	mpc->spec_rev = MP_SPEC_REV;
	memcpy(mpc->oem_id, "VESSEL  ", 8);
	memcpy(mpc->product_id, "VESSEL VM   ", 12);
	mpc->entry_count = n;
	mpc->lapic_addr = LAPIC_ADDR;
	mpc->checksum = mp_checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = MPTABLE_ADDR + sizeof(*mpf);
	mpf->length = 1;
	mpf->spec_rev = MP_SPEC_REV;
	mpf->checksum = mp_checksum(mpf, sizeof(*mpf));
	return 0;
}

/* ACPI tables (ACPI 6.5 layouts) written into guest memory. */
#include "acpi.h"

#include <string.h>

#include "layout.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "ACPI tables are little-endian; so is the host");

#define ACPI_OEM_ID		"VESSEL"	/* 6 characters */
#define ACPI_OEM_TABLE_ID	"VESSELVM"	/* 8 characters */
#define ACPI_OEM_REVISION	1
#define ACPI_CREATOR_ID		"VSSL"
#define ACPI_CREATOR_REVISION	1

#define ACPI_MAX_TABLES		8		/* entries in the XSDT */

/* Generic Address Structure */
#define GAS_SYSTEM_IO		1
#define GAS_ACCESS_BYTE		1
#define GAS_ACCESS_WORD		2
#define GAS_ACCESS_DWORD	3

/* FADT Flags */
#define FADT_F_WBINVD		(1u << 0)
#define FADT_F_PROC_C1		(1u << 2)
#define FADT_F_PWR_BUTTON	(1u << 4)	/* set: no fixed power button */
#define FADT_F_SLP_BUTTON	(1u << 5)	/* set: no fixed sleep button */
#define FADT_F_FIX_RTC		(1u << 6)	/* set: no RTC fixed event */
#define FADT_F_TMR_VAL_EXT	(1u << 8)	/* set: 32-bit PM timer */
#define FADT_F_RESET_REG_SUP	(1u << 10)
#define FADT_F_HW_REDUCED	(1u << 20)

/* FADT IAPC_BOOT_ARCH */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042		(1u << 1)
#define FADT_BOOT_NO_VGA	(1u << 2)

/* FADT PM block lengths, in bytes (see the ports in layout.h) */
#define PM1_EVT_LEN		4
#define PM1_CNT_LEN		2
#define PM_TMR_LEN		4
#define PM_GPE0_LEN		4

/* MADT */
#define MADT_PCAT_COMPAT	(1u << 0)
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4
#define MADT_LAPIC_ENABLED	(1u << 0)
#define MPS_INTI_POLARITY_HIGH	0x1
#define MPS_INTI_TRIGGER_EDGE	(0x1 << 2)
#define MPS_INTI_TRIGGER_LEVEL	(0x3 << 2)
#define ACPI_UID_ALL		0xff

/* MCFG */
#define MCFG_BUS_SHIFT		20		/* 1 MiB of ECAM per bus */

/* Resource descriptors */
#define RES_MEMORY32_FIXED	0x86
#define RES_DWORD_ADDRESS	0x87
#define RES_WORD_ADDRESS	0x88
#define RES_QWORD_ADDRESS	0x8a
#define RES_END_TAG		0x79		/* small item, 1 data byte */
/* Address space general flags: ResourceProducer (bit 0 clear),
 * PosDecode (bit 1 clear), MinFixed, MaxFixed */
#define RES_MIN_FIXED		(1u << 2)
#define RES_MAX_FIXED		(1u << 3)

#define PCI_SLOTS		32
#define PCI_INTX_PINS		4		/* INTA..INTD */
#define PCI_IO_END		0xffff
#define PCI_CONFIG_PORTS_END	(PCI_CONFIG_ADDR_PORT + 8 - 1)	/* 0xcff */

struct acpi_rsdp {
	char signature[8];		/* "RSD PTR " */
	uint8_t checksum;		/* first 20 bytes */
	char oem_id[6];
	uint8_t revision;		/* 2: ACPI 2.0+ */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;	/* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP size");

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header size");

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS size");

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved1;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved2;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT size");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");

struct acpi_facs {
	char signature[4];		/* "FACS" */
	uint32_t length;		/* 64 */
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved1[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS size");

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT size");

struct madt_lapic {
	uint8_t type;
	uint8_t length;
	uint8_t uid;			/* ACPI processor UID */
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC size");

struct madt_ioapic {
	uint8_t type;
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC size");

struct madt_iso {
	uint8_t type;
	uint8_t length;
	uint8_t bus;			/* 0: ISA */
	uint8_t source;			/* ISA IRQ */
	uint32_t gsi;
	uint16_t flags;			/* MPS INTI flags */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_iso) == 10, "MADT ISO size");

struct madt_lapic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT LAPIC NMI size");

struct acpi_mcfg {
	struct acpi_header h;
	uint8_t reserved[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG size");

struct mcfg_alloc {
	uint64_t base;			/* ECAM address of bus 0 */
	uint16_t segment;
	uint8_t bus_start;
	uint8_t bus_end;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mcfg_alloc) == 16, "MCFG allocation size");

/* ------------------------------------------------------------------ */
/* AML encoder */

#define AML_ZERO_OP		0x00
#define AML_ONE_OP		0x01
#define AML_NAME_OP		0x08
#define AML_BYTE_PREFIX		0x0a
#define AML_WORD_PREFIX		0x0b
#define AML_DWORD_PREFIX	0x0c
#define AML_STRING_PREFIX	0x0d
#define AML_QWORD_PREFIX	0x0e
#define AML_SCOPE_OP		0x10
#define AML_BUFFER_OP		0x11
#define AML_PACKAGE_OP		0x12
#define AML_DUAL_NAME_PREFIX	0x2e
#define AML_MULTI_NAME_PREFIX	0x2f
#define AML_EXT_OP_PREFIX	0x5b
#define AML_DEVICE_OP		0x82	/* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR		0x5c
#define AML_PARENT_PREFIX	0x5e
#define AML_ONES_OP		0xff

#define AML_PKG_RESERVE		4	/* PkgLength is at most 4 bytes */
#define AML_PKG_MAX		0x0fffffff

void aml_init(struct aml *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->failed = false;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->failed)
		return;
	if (n > a->cap - a->len) {
		a->failed = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = v >> (8 * i);
	aml_bytes(a, b, n);
}

size_t aml_pkg_begin(struct aml *a)
{
	static const uint8_t zero[AML_PKG_RESERVE];
	size_t handle = a->len;

	aml_bytes(a, zero, sizeof(zero));
	return handle;
}

void aml_pkg_end(struct aml *a, size_t handle)
{
	size_t body, total;
	unsigned n;

	if (a->failed)
		return;
	if (handle > a->len || a->len - handle < AML_PKG_RESERVE) {
		a->failed = true;	/* not a handle from aml_pkg_begin */
		return;
	}
	body = a->len - handle - AML_PKG_RESERVE;
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else if (body + 4 <= AML_PKG_MAX)
		n = 4;
	else {
		a->failed = true;
		return;
	}
	total = body + n;
	memmove(a->buf + handle + n, a->buf + handle + AML_PKG_RESERVE, body);
	if (n == 1) {
		a->buf[handle] = total;
	} else {
		/* Lead byte: count of following bytes in bits 7:6, the low
		 * nibble of the length in bits 3:0; then 8 bits per byte. */
		a->buf[handle] = (n - 1) << 6 | (total & 0xf);
		for (unsigned i = 1; i < n; i++)
			a->buf[handle + i] = total >> (4 + 8 * (i - 1));
	}
	a->len = handle + n + body;
}

void aml_end(struct aml *a, size_t handle)
{
	aml_pkg_end(a, handle);
}

static bool aml_lead_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool aml_name_char(char ch)
{
	return aml_lead_char(ch) || (ch >= '0' && ch <= '9');
}

void aml_namestring(struct aml *a, const char *path)
{
	char segs[255][4];
	unsigned nsegs = 0;
	const char *p = path;

	if (a->failed)
		return;
	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(a, AML_PARENT_PREFIX);
			p++;
		}
	}
	while (*p) {
		unsigned n = 0;

		if (nsegs == 255 || !aml_lead_char(*p))
			goto bad;
		while (aml_name_char(*p)) {
			if (n == 4)
				goto bad;
			segs[nsegs][n++] = *p++;
		}
		while (n < 4)
			segs[nsegs][n++] = '_';
		nsegs++;
		if (*p == '.') {
			p++;
			if (!*p)
				goto bad;
		} else if (*p) {
			goto bad;
		}
	}
	if (nsegs == 0) {
		aml_byte(a, AML_ZERO_OP);	/* NullName */
		return;
	}
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, nsegs);
	}
	aml_bytes(a, segs, 4 * nsegs);
	return;
bad:
	a->failed = true;
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v == UINT64_MAX) {
		aml_byte(a, AML_ONES_OP);	/* DSDT revision 2: 64 bits */
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p > 0x7f) {
			a->failed = true;	/* AsciiCharList is 0x01-0x7f */
			return;
		}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	/* Three letters, 5 bits each ('A' = 1), then four hex digits;
	 * stored big-endian in a little-endian DWord. */
	if (strlen(id) != 7) {
		a->failed = true;
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			a->failed = true;
			return;
		}
		v = v << 5 | (uint32_t)(id[i] - 0x40);
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0) {
			a->failed = true;
			return;
		}
		v = v << 4 | (uint32_t)d;
	}
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, __builtin_bswap32(v), 4);
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, path);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	size_t h;

	aml_byte(a, AML_SCOPE_OP);
	h = aml_pkg_begin(a);
	aml_namestring(a, path);
	return h;
}

size_t aml_device_begin(struct aml *a, const char *path)
{
	size_t h;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	h = aml_pkg_begin(a);
	aml_namestring(a, path);
	return h;
}

size_t aml_package_begin(struct aml *a, unsigned nelems)
{
	size_t h;

	if (nelems > 255)
		a->failed = true;	/* would need VarPackageOp */
	aml_byte(a, AML_PACKAGE_OP);
	h = aml_pkg_begin(a);
	aml_byte(a, nelems);
	return h;
}

void aml_buffer(struct aml *a, const void *p, size_t len)
{
	size_t h;

	aml_byte(a, AML_BUFFER_OP);
	h = aml_pkg_begin(a);
	aml_integer(a, len);
	aml_bytes(a, p, len);
	aml_pkg_end(a, h);
}

/* Resource descriptors */

/* The common part of Word/DWord/QWord Address Space descriptors: tag,
 * length, resource type, general flags, type specific flags, then five
 * size-byte fields: granularity, min, max, translation offset, length. */
static void aml_res_address(struct aml *a, uint8_t tag, unsigned size,
			    enum aml_res_space type, uint8_t type_flags,
			    uint64_t min, uint64_t max)
{
	uint16_t len = 3 + 5 * size;	/* bytes after the length field */

	if (min > max || max - min == UINT64_MAX ||
	    (type != AML_RES_MEMORY && type != AML_RES_IO &&
	     type != AML_RES_BUS)) {
		a->failed = true;
		return;
	}
	aml_byte(a, tag);
	aml_le(a, len, 2);
	aml_byte(a, type);
	aml_byte(a, RES_MIN_FIXED | RES_MAX_FIXED);
	aml_byte(a, type_flags);
	aml_le(a, 0, size);		/* granularity: 0 for fixed windows */
	aml_le(a, min, size);
	aml_le(a, max, size);
	aml_le(a, 0, size);		/* translation offset */
	aml_le(a, max - min + 1, size);
}

void aml_res_word(struct aml *a, enum aml_res_space type, uint8_t type_flags,
		  uint16_t min, uint16_t max)
{
	aml_res_address(a, RES_WORD_ADDRESS, 2, type, type_flags, min, max);
}

void aml_res_dword(struct aml *a, enum aml_res_space type, uint8_t type_flags,
		   uint32_t min, uint32_t max)
{
	aml_res_address(a, RES_DWORD_ADDRESS, 4, type, type_flags, min, max);
}

void aml_res_qword(struct aml *a, enum aml_res_space type, uint8_t type_flags,
		   uint64_t min, uint64_t max)
{
	aml_res_address(a, RES_QWORD_ADDRESS, 8, type, type_flags, min, max);
}

void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base,
			    uint32_t len)
{
	aml_byte(a, RES_MEMORY32_FIXED);
	aml_le(a, 9, 2);		/* information, base, length */
	aml_byte(a, rw ? 1 : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, RES_END_TAG);
	aml_byte(a, 0);			/* checksum 0: not computed */
}

/* ------------------------------------------------------------------ */
/* Tables */

/* The table region: a bump allocator over its host mapping. */
struct acpi_space {
	uint8_t *host;
	uint64_t gpa;
	size_t size;
	size_t used;
	uint64_t table[ACPI_MAX_TABLES];	/* for the XSDT/RSDT */
	unsigned ntables;
};

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static void *acpi_alloc(struct acpi_space *s, size_t len, size_t align,
			uint64_t *gpa, struct error *err)
{
	size_t off = align_up(s->gpa + s->used, align) - s->gpa;

	if (off > s->size || len > s->size - off) {
		err_set(err, "ACPI tables do not fit in 0x%llx bytes at 0x%llx",
			(unsigned long long)s->size,
			(unsigned long long)s->gpa);
		return NULL;
	}
	s->used = off + len;
	*gpa = s->gpa + off;
	return s->host + off;
}

static int acpi_add_table(struct acpi_space *s, uint64_t gpa,
			  struct error *err)
{
	if (s->ntables == ACPI_MAX_TABLES)
		return err_set(err, "too many ACPI tables");
	s->table[s->ntables++] = gpa;
	return 0;
}

static uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

static void acpi_header(struct acpi_header *h, const char *sig, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Set the final length and checksum: call last. */
static void acpi_finish(struct acpi_header *h, size_t len)
{
	h->length = len;
	h->checksum = 0;
	h->checksum = acpi_checksum(h, len);
}

static struct acpi_gas gas_io(uint16_t port, uint8_t bits, uint8_t access)
{
	return (struct acpi_gas){
		.space_id = GAS_SYSTEM_IO,
		.bit_width = bits,
		.bit_offset = 0,
		.access_size = access,
		.address = port,
	};
}

static int build_facs(struct acpi_space *s, uint64_t *gpa, struct error *err)
{
	struct acpi_facs *f = acpi_alloc(s, sizeof(*f), 64, gpa, err);

	if (!f)
		return -1;
	memcpy(f->signature, "FACS", 4);
	f->length = sizeof(*f);
	f->version = 2;
	return 0;	/* the FACS has no checksum */
}

/* Name(name, ResourceTemplate () { ...r... }) */
static void aml_name_template(struct aml *a, const char *name,
			      const struct aml *r)
{
	if (r->failed) {
		a->failed = true;
		return;
	}
	aml_name(a, name);
	aml_buffer(a, r->buf, r->len);
}

static uint64_t ecam_start(const struct acpi_config *c)
{
	return c->pci_ecam_base + ((uint64_t)c->pci_bus_start << MCFG_BUS_SHIFT);
}

static uint64_t ecam_size(const struct acpi_config *c)
{
	return (uint64_t)(c->pci_bus_end - c->pci_bus_start + 1) <<
	       MCFG_BUS_SHIFT;
}

/* \_SB.PCI0's _CRS: the bus range, all I/O ports but the config ports
 * 0xcf8-0xcff, and the memory windows. */
static void pci0_crs(struct aml *a, const struct acpi_config *c)
{
	uint8_t tmp[128];
	struct aml r;

	aml_init(&r, tmp, sizeof(tmp));
	aml_res_word(&r, AML_RES_BUS, 0, c->pci_bus_start, c->pci_bus_end);
	aml_res_word(&r, AML_RES_IO, AML_RES_IO_ENTIRE, 0,
		     PCI_CONFIG_ADDR_PORT - 1);
	aml_res_word(&r, AML_RES_IO, AML_RES_IO_ENTIRE,
		     PCI_CONFIG_PORTS_END + 1, PCI_IO_END);
	aml_res_dword(&r, AML_RES_MEMORY,
		      AML_RES_MEM_RW | AML_RES_MEM_NONCACHEABLE,
		      c->pci_mmio_base,
		      c->pci_mmio_base + c->pci_mmio_size - 1);
	if (c->pci_mmio64_size)
		aml_res_qword(&r, AML_RES_MEMORY,
			      AML_RES_MEM_RW | AML_RES_MEM_CACHEABLE,
			      c->pci_mmio64_base,
			      c->pci_mmio64_base + c->pci_mmio64_size - 1);
	aml_res_end(&r);
	aml_name_template(a, "_CRS", &r);
}

/* \_SB.PCI0's _PRT: Package { Address (0xSSSSFFFF: slot, any function),
 * Pin (0: INTA), Source (0: a GSI, not a link device), Source Index (the
 * GSI) } for every slot and pin. */
static void pci0_prt(struct aml *a)
{
	size_t prt, e;

	aml_name(a, "_PRT");
	prt = aml_package_begin(a, PCI_SLOTS * PCI_INTX_PINS);
	for (unsigned slot = 0; slot < PCI_SLOTS; slot++) {
		for (unsigned pin = 0; pin < PCI_INTX_PINS; pin++) {
			e = aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, ACPI_PCI_INTX_GSI(slot, pin));
			aml_end(a, e);
		}
	}
	aml_end(a, prt);
}

/*
 * Scope (\_SB) {
 *	Device (PCI0) { _HID PNP0A08, _CID PNP0A03, _SEG, _UID, _BBN, _CRS,
 *			_PRT }
 *	Device (RES0) { _HID PNP0C02, _CRS: Memory32Fixed (the ECAM area) }
 * }
 * No _ADR: a device has a _HID or an _ADR, not both (ACPI 6.5 6.1; iasl
 * warns). No _OSC: Linux then leaves native PCIe services (hotplug, AER,
 * PME) and ASPM off, which a bridge without them wants anyway.
 */
static void dsdt_pci(struct aml *a, const struct acpi_config *c)
{
	uint8_t tmp[32];
	struct aml r;
	size_t sb, dev;

	sb = aml_scope_begin(a, "\\_SB_");

	dev = aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");		/* PCI Express root bridge */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");		/* PCI root bridge */
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, c->pci_bus_start);
	pci0_crs(a, c);
	pci0_prt(a);
	aml_end(a, dev);

	dev = aml_device_begin(a, "RES0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");		/* motherboard resources */
	aml_init(&r, tmp, sizeof(tmp));
	aml_res_memory32_fixed(&r, true, ecam_start(c), ecam_size(c));
	aml_res_end(&r);
	aml_name_template(a, "_CRS", &r);
	aml_end(a, dev);

	aml_end(a, sb);
}

/* The DSDT's AML */
static void dsdt_body(struct aml *a, const struct acpi_config *c)
{
	size_t pkg;

	/* \_S5: soft off. SLP_TYP for PM1a_CNT and PM1b_CNT, 2 reserved */
	aml_name(a, "_S5_");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, SLP_TYP_S5);
	aml_integer(a, SLP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	if (c->pci_ecam_base)
		dsdt_pci(a, c);
}

static int build_dsdt(struct acpi_space *s, const struct acpi_config *c,
		      uint64_t *gpa, struct error *err)
{
	size_t off = align_up(s->gpa + s->used, 16) - s->gpa;
	struct acpi_header *h;
	struct aml a;

	if (off > s->size || s->size - off < sizeof(*h))
		return err_set(err, "ACPI tables: no room for the DSDT");
	h = (struct acpi_header *)(s->host + off);
	aml_init(&a, s->host + off + sizeof(*h), s->size - off - sizeof(*h));
	dsdt_body(&a, c);
	if (a.failed)
		return err_set(err, "ACPI tables: cannot encode the DSDT's AML");
	/* Revision 2: 64-bit AML integers */
	acpi_header(h, "DSDT", 2);
	acpi_finish(h, sizeof(*h) + a.len);
	s->used = off + sizeof(*h) + a.len;
	*gpa = s->gpa + off;
	return 0;
}

static int build_fadt(struct acpi_space *s, uint64_t facs, uint64_t dsdt,
		      struct error *err)
{
	struct acpi_fadt *f;
	uint64_t gpa;

	f = acpi_alloc(s, sizeof(*f), 16, &gpa, err);
	if (!f)
		return -1;
	acpi_header(&f->h, "FACP", 6);
	f->minor_version = 5;			/* ACPI 6.5 */

	/* Below 4 GiB, so the 32-bit pointers; X_FIRMWARE_CTRL must then
	 * be 0, while X_DSDT may (and should) repeat DSDT. */
	f->firmware_ctrl = facs;
	f->dsdt = dsdt;
	f->x_dsdt = dsdt;

	f->sci_int = SCI_IRQ;
	f->smi_cmd = 0;		/* no SMM: always in ACPI mode */

	f->pm1a_evt_blk = PM1_EVT_PORT;
	f->pm1a_cnt_blk = PM1_CNT_PORT;
	f->pm_tmr_blk = PM_TMR_PORT;
	f->gpe0_blk = PM_GPE0_PORT;
	f->pm1_evt_len = PM1_EVT_LEN;
	f->pm1_cnt_len = PM1_CNT_LEN;
	f->pm_tmr_len = PM_TMR_LEN;
	f->gpe0_blk_len = PM_GPE0_LEN;
	f->x_pm1a_evt_blk = gas_io(PM1_EVT_PORT, 8 * PM1_EVT_LEN,
				   GAS_ACCESS_WORD);
	f->x_pm1a_cnt_blk = gas_io(PM1_CNT_PORT, 8 * PM1_CNT_LEN,
				   GAS_ACCESS_WORD);
	f->x_pm_tmr_blk = gas_io(PM_TMR_PORT, 8 * PM_TMR_LEN,
				 GAS_ACCESS_DWORD);
	f->x_gpe0_blk = gas_io(PM_GPE0_PORT, 8 * PM_GPE0_LEN,
			       GAS_ACCESS_BYTE);

	/* No C2/C3: latencies above 100 and 1000 us mean "not supported" */
	f->p_lvl2_lat = 101;
	f->p_lvl3_lat = 1001;

	/* No 8042 declared: vessel's i8042 is only the reset line, and a
	 * declared controller makes Linux probe for a keyboard (~1 s). */
	f->iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES |
			    FADT_BOOT_NO_VGA;
	/* Fixed power button (PWR_BUTTON clear), no sleep button, no RTC
	 * wake event; 24-bit PM timer (TMR_VAL_EXT clear) is what every OS
	 * handles, whatever the timer's real width. */
	f->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
		   FADT_F_FIX_RTC | FADT_F_RESET_REG_SUP;

	f->reset_reg = gas_io(RESET_PORT, 8, GAS_ACCESS_BYTE);
	f->reset_value = RESET_VALUE;

	memcpy(&f->hypervisor_vendor_id, "VESSEL\0\0", 8);
	acpi_finish(&f->h, sizeof(*f));
	return acpi_add_table(s, gpa, err);
}

static int build_madt(struct acpi_space *s, const struct acpi_config *c,
		      struct error *err)
{
	size_t len = sizeof(struct acpi_madt) +
		     c->ncpus * sizeof(struct madt_lapic) +
		     sizeof(struct madt_ioapic) +
		     2 * sizeof(struct madt_iso) +
		     sizeof(struct madt_lapic_nmi);
	struct acpi_madt *madt;
	struct madt_lapic *lapic;
	struct madt_ioapic *ioapic;
	struct madt_iso *iso;
	struct madt_lapic_nmi *nmi;
	uint64_t gpa;

	madt = acpi_alloc(s, len, 16, &gpa, err);
	if (!madt)
		return -1;
	acpi_header(&madt->h, "APIC", 5);
	madt->lapic_address = LAPIC_ADDR;
	madt->flags = MADT_PCAT_COMPAT;	/* there are 8259s to mask */

	lapic = (struct madt_lapic *)(madt + 1);
	for (unsigned i = 0; i < c->ncpus; i++) {
		lapic[i] = (struct madt_lapic){
			.type = MADT_LAPIC,
			.length = sizeof(*lapic),
			.uid = i,
			.apic_id = i,
			.flags = MADT_LAPIC_ENABLED,
		};
	}

	ioapic = (struct madt_ioapic *)(lapic + c->ncpus);
	*ioapic = (struct madt_ioapic){
		.type = MADT_IOAPIC,
		.length = sizeof(*ioapic),
		.id = c->ncpus,
		.address = IOAPIC_ADDR,
		.gsi_base = 0,
	};

	/* The PIT's IRQ0 is wired to IOAPIC pin 2 */
	iso = (struct madt_iso *)(ioapic + 1);
	iso[0] = (struct madt_iso){
		.type = MADT_ISO,
		.length = sizeof(*iso),
		.bus = 0,
		.source = 0,
		.gsi = 2,
		.flags = 0,		/* conforms to ISA: edge, high */
	};
	iso[1] = (struct madt_iso){
		.type = MADT_ISO,
		.length = sizeof(*iso),
		.bus = 0,
		.source = SCI_IRQ,
		.gsi = SCI_IRQ,
		.flags = MPS_INTI_POLARITY_HIGH | MPS_INTI_TRIGGER_LEVEL,
	};

	nmi = (struct madt_lapic_nmi *)(iso + 2);
	*nmi = (struct madt_lapic_nmi){
		.type = MADT_LAPIC_NMI,
		.length = sizeof(*nmi),
		.uid = ACPI_UID_ALL,
		.flags = 0,		/* conforms: edge, active high */
		.lint = 1,
	};

	acpi_finish(&madt->h, len);
	return acpi_add_table(s, gpa, err);
}

static int build_mcfg(struct acpi_space *s, const struct acpi_config *c,
		      struct error *err)
{
	size_t len = sizeof(struct acpi_mcfg) + sizeof(struct mcfg_alloc);
	struct acpi_mcfg *mcfg;
	struct mcfg_alloc *e;
	uint64_t gpa;

	mcfg = acpi_alloc(s, len, 16, &gpa, err);
	if (!mcfg)
		return -1;
	acpi_header(&mcfg->h, "MCFG", 1);
	e = (struct mcfg_alloc *)(mcfg + 1);
	*e = (struct mcfg_alloc){
		.base = c->pci_ecam_base,
		.segment = 0,
		.bus_start = c->pci_bus_start,
		.bus_end = c->pci_bus_end,
	};
	acpi_finish(&mcfg->h, len);
	return acpi_add_table(s, gpa, err);
}

/* Non-empty ranges that do not wrap */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

static int check_pci(const struct acpi_config *c, struct error *err)
{
	uint64_t ecam, size;

	if (!c->pci_ecam_base)
		return 0;
	if (c->pci_bus_start > c->pci_bus_end)
		return err_set(err, "ACPI: PCI bus range %u-%u is empty",
			       c->pci_bus_start, c->pci_bus_end);
	if (c->pci_ecam_base % (1ULL << MCFG_BUS_SHIFT) ||
	    c->pci_ecam_base >= (1ULL << 32))
		return err_set(err, "ACPI: bad PCI ECAM base 0x%llx",
			       (unsigned long long)c->pci_ecam_base);
	ecam = ecam_start(c);
	size = ecam_size(c);
	/* Memory32Fixed in RES0 */
	if (ecam + size > (1ULL << 32))
		return err_set(err, "ACPI: PCI ECAM area 0x%llx+0x%llx is not below 4 GiB",
			       (unsigned long long)ecam,
			       (unsigned long long)size);
	if (!c->pci_mmio_size || c->pci_mmio_base >= (1ULL << 32) ||
	    c->pci_mmio_size > (1ULL << 32) - c->pci_mmio_base)
		return err_set(err, "ACPI: bad PCI 32-bit MMIO window 0x%llx+0x%llx",
			       (unsigned long long)c->pci_mmio_base,
			       (unsigned long long)c->pci_mmio_size);
	if (c->pci_mmio64_size &&
	    c->pci_mmio64_size - 1 > UINT64_MAX - c->pci_mmio64_base)
		return err_set(err, "ACPI: bad PCI 64-bit MMIO window 0x%llx+0x%llx",
			       (unsigned long long)c->pci_mmio64_base,
			       (unsigned long long)c->pci_mmio64_size);
	if (overlaps(c->pci_mmio_base, c->pci_mmio_size, ecam, size) ||
	    (c->pci_mmio64_size &&
	     overlaps(c->pci_mmio64_base, c->pci_mmio64_size, ecam, size)))
		return err_set(err, "ACPI: a PCI MMIO window overlaps the ECAM area");
	return 0;
}

static int build_root_tables(struct acpi_space *s, uint64_t *xsdt_gpa,
			     uint64_t *rsdt_gpa, struct error *err)
{
	size_t xlen = sizeof(struct acpi_header) + 8 * s->ntables;
	size_t rlen = sizeof(struct acpi_header) + 4 * s->ntables;
	struct acpi_header *x, *r;
	uint8_t *xe, *re;

	x = acpi_alloc(s, xlen, 16, xsdt_gpa, err);
	if (!x)
		return -1;
	r = acpi_alloc(s, rlen, 16, rsdt_gpa, err);
	if (!r)
		return -1;
	acpi_header(x, "XSDT", 1);
	acpi_header(r, "RSDT", 1);
	xe = (uint8_t *)(x + 1);
	re = (uint8_t *)(r + 1);
	for (unsigned i = 0; i < s->ntables; i++) {
		uint64_t a64 = s->table[i];
		uint32_t a32 = s->table[i];	/* all tables are < 1 MiB */

		memcpy(xe + 8 * i, &a64, 8);
		memcpy(re + 4 * i, &a32, 4);
	}
	acpi_finish(x, xlen);
	acpi_finish(r, rlen);
	return 0;
}

int acpi_build_at(struct gmem *m, const struct acpi_config *c, uint64_t gpa,
		 size_t size, uint64_t *rsdp_gpa, struct error *err)
{
	struct acpi_space s = { 0 };
	struct acpi_rsdp *rsdp;
	uint64_t rsdp_addr = 0, facs = 0, dsdt = 0, xsdt = 0, rsdt = 0;

	if (c->ncpus < 1 || c->ncpus > ACPI_MAX_CPUS)
		return err_set(err, "ACPI: %u vCPUs is out of range (1-%u)",
			       c->ncpus, ACPI_MAX_CPUS);
	if (check_pci(c, err) < 0)
		return -1;
	/* 32-bit table pointers (RSDT, FADT) and a 16-byte aligned RSDP */
	if (gpa % 16 || gpa > UINT32_MAX || size > UINT32_MAX - gpa + 1)
		return err_set(err, "ACPI: bad table area 0x%llx+0x%zx",
			       (unsigned long long)gpa, size);

	s.gpa = gpa;
	s.size = size;
	s.host = gmem_ptr(m, gpa, size);
	if (!s.host)
		return err_set(err, "ACPI: table area 0x%llx+0x%zx is outside guest RAM",
			       (unsigned long long)gpa, size);
	memset(s.host, 0, s.size);

	/* The RSDP goes first (16-byte aligned, where an OS scans for it)
	 * but is filled last, so a failed build leaves no valid tables. */
	rsdp = acpi_alloc(&s, sizeof(*rsdp), 16, &rsdp_addr, err);
	if (!rsdp)
		return -1;
	if (build_facs(&s, &facs, err) < 0 ||
	    build_dsdt(&s, c, &dsdt, err) < 0 ||
	    build_fadt(&s, facs, dsdt, err) < 0 ||
	    build_madt(&s, c, err) < 0 ||
	    (c->pci_ecam_base && build_mcfg(&s, c, err) < 0) ||
	    build_root_tables(&s, &xsdt, &rsdt, err) < 0)
		return -1;

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = rsdt;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt;
	rsdp->checksum = acpi_checksum(rsdp, 20);
	rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));

	if (rsdp_gpa)
		*rsdp_gpa = rsdp_addr;
	return 0;
}

int acpi_build(struct gmem *m, const struct acpi_config *c, uint64_t *rsdp_gpa,
	       struct error *err)
{
	return acpi_build_at(m, c, ACPI_TABLES_ADDR, ACPI_TABLES_SIZE,
			     rsdp_gpa, err);
}

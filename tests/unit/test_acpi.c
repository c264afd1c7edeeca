/* ACPI tables: built over fake guest memory, then found and checked the way
 * an OS would, from raw bytes at the spec's offsets (not through the
 * builder's structs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../boot/acpi.h"
#include "../../boot/layout.h"
#include "fake_tables.h"

#define REGION_END	(ACPI_TABLES_ADDR + ACPI_TABLES_SIZE)

/* What the walk from the RSDP found */
struct range {
	uint64_t gpa;
	uint64_t len;
	char what[5];
};

struct tables {
	uint64_t rsdp, xsdt, rsdt, fadt, madt, dsdt, facs, mcfg;
	struct range r[16];
	unsigned nr;
};

static void add_range(struct tables *t, const char *what, uint64_t gpa,
		      uint64_t len)
{
	assert_true(t->nr < 16);
	t->r[t->nr].gpa = gpa;
	t->r[t->nr].len = len;
	snprintf(t->r[t->nr].what, sizeof(t->r[t->nr].what), "%s", what);
	t->nr++;
}

/* Check an SDT's header and checksum; returns its length. */
static uint32_t check_sdt(const struct vm *v, struct tables *t, uint64_t gpa,
			  const char *sig)
{
	const uint8_t *h;
	uint32_t len;

	assert_true(gpa >= ACPI_TABLES_ADDR);
	assert_true(gpa + 36 <= REGION_END);
	h = gp(v, gpa, 36);
	assert_memory_equal(h, sig, 4);
	len = le32(h + 4);
	assert_true(len >= 36);
	assert_true(gpa + len <= REGION_END);
	assert_int_equal(sum8(gp(v, gpa, len), len), 0);
	assert_memory_equal(h + 10, "VESSEL", 6);	/* OEMID */
	add_range(t, sig, gpa, len);
	return len;
}

static void find_tables(const struct vm *v, uint64_t rsdp_ret,
			struct tables *t)
{
	const uint8_t *p, *x, *r, *f;
	uint32_t xlen, rlen, n;
	unsigned found = 0;

	memset(t, 0, sizeof(*t));
	/* Scan like an OS: 16-byte boundaries in 0xe0000..0xfffff (the part
	 * of it that is in RAM) */
	for (uint64_t a = 0xe0000; a < 0x100000 && a + 16 <= v->size; a += 16)
		if (!memcmp(gp(v, a, 8), "RSD PTR ", 8)) {
			t->rsdp = a;
			found++;
		}
	assert_int_equal(found, 1);
	assert_int_equal(t->rsdp, rsdp_ret);

	p = gp(v, t->rsdp, 36);
	assert_int_equal(sum8(p, 20), 0);
	assert_int_equal(p[15], 2);			/* revision */
	assert_int_equal(le32(p + 20), 36);		/* length */
	assert_int_equal(sum8(p, 36), 0);		/* extended */
	assert_memory_equal(p + 9, "VESSEL", 6);
	add_range(t, "RSDP", t->rsdp, 36);
	t->rsdt = le32(p + 16);
	t->xsdt = le64(p + 24);

	xlen = check_sdt(v, t, t->xsdt, "XSDT");
	rlen = check_sdt(v, t, t->rsdt, "RSDT");
	assert_int_equal((xlen - 36) % 8, 0);
	n = (xlen - 36) / 8;
	assert_int_equal(rlen, 36 + 4 * n);
	x = gp(v, t->xsdt, xlen);
	r = gp(v, t->rsdt, rlen);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = le64(x + 36 + 8 * i);
		const uint8_t *sig;

		assert_int_equal(le32(r + 36 + 4 * i), a);	/* RSDT mirrors */
		sig = gp(v, a, 4);
		if (!memcmp(sig, "FACP", 4)) {
			assert_int_equal(t->fadt, 0);
			t->fadt = a;
		} else if (!memcmp(sig, "APIC", 4)) {
			assert_int_equal(t->madt, 0);
			t->madt = a;
		} else if (!memcmp(sig, "MCFG", 4)) {
			assert_int_equal(t->mcfg, 0);
			t->mcfg = a;
		} else {
			fail_msg("unexpected table %.4s in the XSDT", sig);
		}
	}
	assert_int_not_equal(t->fadt, 0);
	assert_int_not_equal(t->madt, 0);

	assert_int_equal(check_sdt(v, t, t->fadt, "FACP"), 276);
	f = gp(v, t->fadt, 276);
	assert_int_equal(f[8], 6);			/* FADT revision */
	t->dsdt = le32(f + 40);
	assert_int_equal(le64(f + 140), t->dsdt);	/* X_DSDT */
	t->facs = le32(f + 36);
	assert_int_equal(le64(f + 132), 0);	/* X_FIRMWARE_CTRL: must be 0 */
	check_sdt(v, t, t->dsdt, "DSDT");
	assert_int_equal(gp(v, t->dsdt, 9)[8], 2);	/* 64-bit AML ints */
	check_sdt(v, t, t->madt, "APIC");
	if (t->mcfg)
		check_sdt(v, t, t->mcfg, "MCFG");

	/* FACS: no checksum, 64-byte aligned */
	assert_int_equal(t->facs % 64, 0);
	assert_true(t->facs >= ACPI_TABLES_ADDR && t->facs + 64 <= REGION_END);
	p = gp(v, t->facs, 64);
	assert_memory_equal(p, "FACS", 4);
	assert_int_equal(le32(p + 4), 64);
	add_range(t, "FACS", t->facs, 64);
}

static void check_no_overlap(const struct tables *t)
{
	for (unsigned i = 0; i < t->nr; i++) {
		const struct range *a = &t->r[i];

		assert_true(a->gpa >= ACPI_TABLES_ADDR);
		assert_true(a->gpa + a->len <= REGION_END);
		for (unsigned j = i + 1; j < t->nr; j++) {
			const struct range *b = &t->r[j];

			if (a->gpa < b->gpa + b->len && b->gpa < a->gpa + a->len)
				fail_msg("%s 0x%llx+%llu overlaps %s 0x%llx+%llu",
					 a->what, (unsigned long long)a->gpa,
					 (unsigned long long)a->len, b->what,
					 (unsigned long long)b->gpa,
					 (unsigned long long)b->len);
		}
	}
}

static void build_cfg(struct vm *v, const struct acpi_config *c,
		      struct tables *t)
{
	struct error err = { 0 };
	uint64_t rsdp = 0;

	if (acpi_build(&v->m, c, &rsdp, &err) < 0)
		fail_msg("acpi_build(%u vCPUs, ECAM 0x%llx): %s", c->ncpus,
			 (unsigned long long)c->pci_ecam_base, err.msg);
	find_tables(v, rsdp, t);
	check_no_overlap(t);
}

static void build(struct vm *v, unsigned ncpus, struct tables *t)
{
	struct acpi_config c = { .ncpus = ncpus };

	build_cfg(v, &c, t);
}

/* The host bridge boot.c describes: boot/layout.h's */
static struct acpi_config pci_config(unsigned ncpus)
{
	return (struct acpi_config){
		.ncpus = ncpus,
		.pci_ecam_base = PCI_ECAM_BASE,
		.pci_bus_start = PCI_BUS_START,
		.pci_bus_end = PCI_BUS_END,
		.pci_mmio_base = PCI_MMIO_START,
		.pci_mmio_size = PCI_MMIO_SIZE,
	};
}

static void test_tables_found_and_checksummed(void **state)
{
	static const unsigned counts[] = { 1, 2, 4, 16, 255 };
	struct vm v;
	struct tables t;

	(void)state;
	vm_init(&v, FAKE_RAM);
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct acpi_config c = pci_config(counts[i]);

		build(&v, counts[i], &t);
		assert_int_equal(t.mcfg, 0);
		build_cfg(&v, &c, &t);
		assert_int_not_equal(t.mcfg, 0);
	}
	/* Garbage around the region is untouched */
	assert_int_equal(gp(&v, ACPI_TABLES_ADDR - 1, 1)[0], GARBAGE);
	assert_int_equal(gp(&v, REGION_END, 1)[0], GARBAGE);
	vm_free(&v);
}

/* The MADT for ncpus: walk every entry. */
static void check_madt(unsigned ncpus)
{
	uint8_t seen[256] = { 0 };
	unsigned enabled = 0, lapics = 0, ioapics = 0, nmis = 0;
	int iso_gsi[16], iso_flags[16];
	const uint8_t *p;
	struct tables t;
	uint32_t len, off;
	struct vm v;

	vm_init(&v, FAKE_RAM);
	build(&v, ncpus, &t);
	for (int i = 0; i < 16; i++)
		iso_gsi[i] = iso_flags[i] = -1;
	len = le32(gp(&v, t.madt, 8) + 4);
	p = gp(&v, t.madt, len);
	assert_int_equal(p[8], 5);				/* revision */
	assert_int_equal(le32(p + 36), LAPIC_ADDR);
	assert_int_equal(le32(p + 40) & 1, 1);			/* PCAT_COMPAT */
	for (off = 44; off < len; off += p[off + 1]) {
		const uint8_t *e = p + off;

		assert_true(off + 2 <= len);
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:		/* Processor Local APIC */
			assert_int_equal(e[1], 8);
			lapics++;
			if (le32(e + 4) & 1) {
				enabled++;
				assert_true(e[3] < ncpus);
				assert_int_equal(seen[e[3]], 0);
				seen[e[3]] = 1;
				assert_int_equal(e[2], e[3]);	/* UID = id */
			}
			break;
		case 1:		/* I/O APIC */
			assert_int_equal(e[1], 12);
			ioapics++;
			assert_int_equal(e[2], ncpus);
			assert_int_equal(le32(e + 4), IOAPIC_ADDR);
			assert_int_equal(le32(e + 8), 0);	/* GSI base */
			break;
		case 2:		/* Interrupt Source Override */
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);		/* ISA */
			assert_true(e[3] < 16);
			assert_int_equal(iso_gsi[e[3]], -1);
			iso_gsi[e[3]] = le32(e + 4);
			iso_flags[e[3]] = le16(e + 8);
			break;
		case 4:		/* Local APIC NMI */
			assert_int_equal(e[1], 6);
			nmis++;
			assert_int_equal(e[2], 0xff);		/* all CPUs */
			assert_int_equal(e[5], 1);		/* LINT1 */
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_int_equal(off, len);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(enabled, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
	assert_int_equal(iso_gsi[0], 2);
	assert_int_equal(iso_flags[0], 0);
	assert_int_equal(iso_gsi[SCI_IRQ], SCI_IRQ);
	assert_int_equal(iso_flags[SCI_IRQ], 0x0d);	/* level, active high */
	for (int i = 0; i < 16; i++)
		if (i != 0 && i != SCI_IRQ)
			assert_int_equal(iso_gsi[i], -1);
	vm_free(&v);
}

static void test_madt_1(void **state)
{
	(void)state;
	check_madt(1);
}

static void test_madt_4(void **state)
{
	(void)state;
	check_madt(4);
}

static void test_madt_255(void **state)
{
	(void)state;
	check_madt(255);
}

static void check_gas(const uint8_t *g, uint8_t space, uint8_t bits,
		      uint64_t addr)
{
	assert_int_equal(g[0], space);
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);			/* bit offset */
	assert_true(addr == 0 || (g[3] >= 1 && g[3] <= 4)); /* access size */
	assert_int_equal(le64(g + 4), addr);
}

static void test_fadt(void **state)
{
	static const uint8_t zero_gas[12];
	const uint8_t *f;
	struct tables t;
	uint32_t flags;
	struct vm v;

	(void)state;
	vm_init(&v, FAKE_RAM);
	build(&v, 4, &t);
	f = gp(&v, t.fadt, 276);
	assert_int_equal(le16(f + 46), SCI_IRQ);		/* SCI_INT */
	assert_int_equal(le32(f + 48), 0);			/* SMI_CMD */
	assert_int_equal(le32(f + 56), PM1_EVT_PORT);		/* PM1a_EVT */
	assert_int_equal(le32(f + 60), 0);			/* PM1b_EVT */
	assert_int_equal(le32(f + 64), PM1_CNT_PORT);		/* PM1a_CNT */
	assert_int_equal(le32(f + 68), 0);			/* PM1b_CNT */
	assert_int_equal(le32(f + 72), 0);			/* PM2_CNT */
	assert_int_equal(le32(f + 76), PM_TMR_PORT);		/* PM_TMR */
	assert_int_equal(le32(f + 80), PM_GPE0_PORT);		/* GPE0 */
	assert_int_equal(le32(f + 84), 0);			/* GPE1 */
	assert_int_equal(f[88], 4);				/* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);				/* PM1_CNT_LEN */
	assert_int_equal(f[90], 0);				/* PM2_CNT_LEN */
	assert_int_equal(f[91], 4);				/* PM_TMR_LEN */
	assert_int_equal(f[92], 4);				/* GPE0_BLK_LEN */
	assert_int_equal(f[93], 0);				/* GPE1_BLK_LEN */
	assert_true(le16(f + 96) > 100);			/* no C2 */
	assert_true(le16(f + 98) > 1000);			/* no C3 */
	assert_int_equal(le16(f + 109) & 2, 0);			/* no 8042 */

	flags = le32(f + 112);
	assert_int_equal(flags & (1u << 10), 1u << 10);		/* RESET_REG_SUP */
	assert_int_equal(flags & (1u << 4), 0);			/* PWR_BUTTON */
	assert_int_equal(flags & (1u << 5), 1u << 5);		/* SLP_BUTTON */
	assert_int_equal(flags & (1u << 20), 0);		/* HW_REDUCED */

	/* RESET_REG: SystemIO, 8 bits at offset 0, byte access */
	check_gas(f + 116, 1, 8, RESET_PORT);
	assert_int_equal(f[116 + 3], 1);
	assert_int_equal(f[128], RESET_VALUE);

	check_gas(f + 148, 1, 32, PM1_EVT_PORT);		/* X_PM1a_EVT */
	assert_memory_equal(f + 160, zero_gas, 12);		/* X_PM1b_EVT */
	check_gas(f + 172, 1, 16, PM1_CNT_PORT);		/* X_PM1a_CNT */
	assert_memory_equal(f + 184, zero_gas, 12);		/* X_PM1b_CNT */
	assert_memory_equal(f + 196, zero_gas, 12);		/* X_PM2_CNT */
	check_gas(f + 208, 1, 32, PM_TMR_PORT);			/* X_PM_TMR */
	check_gas(f + 220, 1, 32, PM_GPE0_PORT);		/* X_GPE0 */
	assert_memory_equal(f + 232, zero_gas, 12);		/* X_GPE1 */
	assert_memory_equal(f + 244, zero_gas, 12);		/* SLEEP_CONTROL */
	assert_memory_equal(f + 256, zero_gas, 12);		/* SLEEP_STATUS */
	vm_free(&v);
}

/* ---- a small AML reader, enough for the DSDT's top level ---- */

struct reader {
	const uint8_t *p;
	size_t pos, end;
};

static uint8_t rd_byte(struct reader *r)
{
	assert_true(r->pos < r->end);
	return r->p[r->pos++];
}

/* PkgLength: returns the end offset of the package it starts. */
static size_t rd_pkglen(struct reader *r)
{
	size_t start = r->pos, len;
	uint8_t lead = rd_byte(r);
	unsigned n = lead >> 6;

	if (n == 0) {
		len = lead & 0x3f;
	} else {
		assert_int_equal(lead & 0x30, 0);
		len = lead & 0x0f;
		for (unsigned i = 0; i < n; i++)
			len |= (size_t)rd_byte(r) << (4 + 8 * i);
	}
	assert_true(len >= r->pos - start);
	assert_true(start + len <= r->end);
	return start + len;
}

static void rd_nameseg(struct reader *r, char *out)
{
	for (int i = 0; i < 4; i++) {
		char ch = rd_byte(r);

		assert_true((ch >= 'A' && ch <= 'Z') || ch == '_' ||
			    (i > 0 && ch >= '0' && ch <= '9'));
		out[i] = ch;
	}
}

/* NameString into out as "\\_SB_.PCI0" */
static void rd_namestring(struct reader *r, char *out, size_t size)
{
	char seg[5] = { 0 };
	unsigned nsegs;
	size_t o = 0;
	uint8_t b = r->p[r->pos];

	assert_true(size >= 2);
	if (b == 0x5c) {
		out[o++] = '\\';
		r->pos++;
	}
	while (r->p[r->pos] == 0x5e) {
		assert_true(o + 1 < size);
		out[o++] = '^';
		r->pos++;
	}
	b = rd_byte(r);
	if (b == 0x00) {
		nsegs = 0;
	} else if (b == 0x2e) {
		nsegs = 2;
	} else if (b == 0x2f) {
		nsegs = rd_byte(r);
	} else {
		nsegs = 1;
		r->pos--;
	}
	for (unsigned i = 0; i < nsegs; i++) {
		rd_nameseg(r, seg);
		assert_true(o + 6 <= size);
		if (i)
			out[o++] = '.';
		memcpy(out + o, seg, 4);
		o += 4;
	}
	out[o] = '\0';
}

static uint64_t rd_integer(struct reader *r)
{
	uint8_t op = rd_byte(r);
	unsigned n;
	uint64_t v = 0;

	switch (op) {
	case 0x00: return 0;
	case 0x01: return 1;
	case 0xff: return UINT64_MAX;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default:
		fail_msg("not an integer: opcode 0x%02x at %zu", op, r->pos - 1);
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)rd_byte(r) << (8 * i);
	return v;
}

/* What a walk of the DSDT found */
#define MAX_DEVS	8
#define MAX_PRT		160

enum {
	HAVE_HID = 1 << 0,
	HAVE_CID = 1 << 1,
	HAVE_UID = 1 << 2,
	HAVE_SEG = 1 << 3,
	HAVE_BBN = 1 << 4,
	HAVE_ADR = 1 << 5,
	HAVE_CRS = 1 << 6,
	HAVE_PRT = 1 << 7,
};

struct prt_entry {
	uint64_t addr, pin, source, index;
};

struct dev_info {
	char path[64];			/* "\\_SB_.PCI0" */
	unsigned have;			/* HAVE_* */
	uint64_t hid, cid, uid, seg, bbn, adr;
	const uint8_t *crs;		/* the _CRS buffer's bytes */
	size_t crs_len;
	unsigned prt_nelems, nprt;
	struct prt_entry prt[MAX_PRT];
};

struct dsdt_info {
	bool have_s5;
	unsigned s5_nelems;
	uint64_t s5[8];
	unsigned nscopes, ndevs;
	struct dev_info dev[MAX_DEVS];
};

static void set_int(struct dev_info *dev, const char *name, uint64_t v)
{
	static const struct {
		const char *name;
		unsigned bit;
		size_t off;
	} fields[] = {
		{ "_HID", HAVE_HID, offsetof(struct dev_info, hid) },
		{ "_CID", HAVE_CID, offsetof(struct dev_info, cid) },
		{ "_UID", HAVE_UID, offsetof(struct dev_info, uid) },
		{ "_SEG", HAVE_SEG, offsetof(struct dev_info, seg) },
		{ "_BBN", HAVE_BBN, offsetof(struct dev_info, bbn) },
		{ "_ADR", HAVE_ADR, offsetof(struct dev_info, adr) },
	};

	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(name, fields[i].name)) {
			assert_int_equal(dev->have & fields[i].bit, 0);
			dev->have |= fields[i].bit;
			memcpy((uint8_t *)dev + fields[i].off, &v, sizeof(v));
			return;
		}
	fail_msg("unexpected integer %s in %s", name, dev->path);
}

/* Package (n) { integers or Package (4) { integers } }: \_S5 and _PRT */
static void rd_package(struct reader *r, const char *name,
		       struct dev_info *dev, struct dsdt_info *d)
{
	bool s5 = !dev && (!strcmp(name, "_S5_") || !strcmp(name, "\\_S5_"));
	bool prt = dev && !strcmp(name, "_PRT");
	size_t end = rd_pkglen(r);
	unsigned n = rd_byte(r), i = 0;

	assert_true(s5 || prt);
	for (; r->pos < end; i++) {
		if (r->p[r->pos] == 0x12) {		/* Package (4) */
			struct prt_entry *e;
			size_t eend;

			assert_true(prt);
			assert_true(dev->nprt < MAX_PRT);
			e = &dev->prt[dev->nprt++];
			r->pos++;
			eend = rd_pkglen(r);
			assert_int_equal(rd_byte(r), 4);
			e->addr = rd_integer(r);
			e->pin = rd_integer(r);
			e->source = rd_integer(r);
			e->index = rd_integer(r);
			assert_int_equal(r->pos, eend);
		} else {
			uint64_t v = rd_integer(r);

			assert_true(s5);
			if (i < 8)
				d->s5[i] = v;
		}
	}
	assert_int_equal(r->pos, end);
	assert_true(i <= n);
	if (s5) {
		assert_false(d->have_s5);
		d->have_s5 = true;
		d->s5_nelems = n;
	} else {
		assert_int_equal(dev->have & HAVE_PRT, 0);
		dev->have |= HAVE_PRT;
		dev->prt_nelems = n;
	}
}

/* A DataRefObject after a Name() */
static void rd_data(struct reader *r, const char *name, struct dev_info *dev,
		    struct dsdt_info *d)
{
	uint8_t op = r->p[r->pos];
	size_t end;

	if (op == 0x12) {			/* Package */
		r->pos++;
		rd_package(r, name, dev, d);
	} else if (op == 0x0d) {		/* String */
		r->pos++;
		while (rd_byte(r))
			;
	} else if (op == 0x11) {		/* Buffer (size) { bytes } */
		uint64_t size;

		r->pos++;
		end = rd_pkglen(r);
		size = rd_integer(r);
		assert_true(r->pos <= end);
		assert_int_equal(size, end - r->pos);
		if (dev && !strcmp(name, "_CRS")) {
			assert_int_equal(dev->have & HAVE_CRS, 0);
			dev->have |= HAVE_CRS;
			dev->crs = r->p + r->pos;
			dev->crs_len = size;
		}
		r->pos = end;
	} else {
		uint64_t v = rd_integer(r);

		if (dev)
			set_int(dev, name, v);
	}
}

static void join_path(char *out, size_t size, const char *scope,
		      const char *name)
{
	if (name[0] == '\\')
		snprintf(out, size, "%s", name);
	else if (!strcmp(scope, "\\"))
		snprintf(out, size, "\\%s", name);
	else
		snprintf(out, size, "%s.%s", scope, name);
}

/* A TermList of Name, Scope and Device up to end, in scope (a device's
 * path if dev is not NULL) */
static void parse_terms(struct reader *r, size_t end, const char *scope,
			struct dev_info *dev, struct dsdt_info *d)
{
	char name[64], path[64];

	while (r->pos < end) {
		uint8_t op = rd_byte(r);
		size_t pkg_end;

		switch (op) {
		case 0x08:				/* Name */
			rd_namestring(r, name, sizeof(name));
			rd_data(r, name, dev, d);
			break;
		case 0x10:				/* Scope */
			pkg_end = rd_pkglen(r);
			rd_namestring(r, name, sizeof(name));
			join_path(path, sizeof(path), scope, name);
			d->nscopes++;
			parse_terms(r, pkg_end, path, dev, d);
			break;
		case 0x5b: {
			struct dev_info *nd;

			assert_int_equal(rd_byte(r), 0x82);	/* Device */
			pkg_end = rd_pkglen(r);
			rd_namestring(r, name, sizeof(name));
			assert_true(d->ndevs < MAX_DEVS);
			nd = &d->dev[d->ndevs++];
			join_path(nd->path, sizeof(nd->path), scope, name);
			parse_terms(r, pkg_end, nd->path, nd, d);
			break;
		}
		default:
			fail_msg("unexpected AML opcode 0x%02x at %zu", op,
				 r->pos - 1);
		}
	}
	assert_int_equal(r->pos, end);
}

static void parse_dsdt(const uint8_t *aml, size_t len, struct dsdt_info *d)
{
	struct reader r = { aml, 0, len };

	memset(d, 0, sizeof(*d));
	parse_terms(&r, len, "\\", NULL, d);
	assert_int_equal(r.pos, len);
}

static const struct dev_info *find_dev(const struct dsdt_info *d,
				       const char *path)
{
	const struct dev_info *found = NULL;

	for (unsigned i = 0; i < d->ndevs; i++)
		if (!strcmp(d->dev[i].path, path)) {
			assert_null(found);
			found = &d->dev[i];
		}
	if (!found)
		fail_msg("no device %s in the DSDT", path);
	return found;
}

/* ---- a resource template walker ---- */

struct res_desc {
	uint8_t tag;			/* large item name byte */
	uint8_t type, gflags, tflags;	/* Memory32Fixed: tflags = info */
	uint64_t gran, min, max, tra, len;
};

struct res_list {
	unsigned n;
	struct res_desc d[16];
};

static uint64_t rd_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void walk_resources(const uint8_t *p, size_t len, struct res_list *l)
{
	bool end = false;
	size_t off = 0;

	memset(l, 0, sizeof(*l));
	while (off < len) {
		uint8_t b = p[off];
		const uint8_t *e;
		struct res_desc *r;
		unsigned n, size;

		assert_false(end);			/* End Tag is last */
		if (!(b & 0x80)) {			/* small item */
			n = b & 7;
			assert_true(off + 1 + n <= len);
			if ((b >> 3 & 0xf) != 0xf)
				fail_msg("unexpected small resource 0x%02x", b);
			assert_int_equal(n, 1);
			/* checksum: 0, or the whole template sums to 0 */
			assert_true(p[off + 1] == 0 || sum8(p, off + 2) == 0);
			end = true;
			off += 1 + n;
			continue;
		}
		assert_true(off + 3 <= len);
		n = le16(p + off + 1);
		assert_true(off + 3 + n <= len);
		assert_true(l->n < 16);
		e = p + off + 3;
		r = &l->d[l->n++];
		r->tag = b;
		switch (b) {
		case 0x86:				/* Memory32Fixed */
			assert_int_equal(n, 9);
			r->tflags = e[0];
			r->min = le32(e + 1);
			r->len = le32(e + 5);
			assert_true(r->len > 0);
			r->max = r->min + r->len - 1;
			break;
		case 0x88:				/* Word Address Space */
		case 0x87:				/* DWord */
		case 0x8a:				/* QWord */
			size = b == 0x88 ? 2 : b == 0x87 ? 4 : 8;
			/* no ResourceSource */
			assert_int_equal(n, 3 + 5 * size);
			r->type = e[0];
			r->gflags = e[1];
			r->tflags = e[2];
			r->gran = rd_le(e + 3, size);
			r->min = rd_le(e + 3 + size, size);
			r->max = rd_le(e + 3 + 2 * size, size);
			r->tra = rd_le(e + 3 + 3 * size, size);
			r->len = rd_le(e + 3 + 4 * size, size);
			break;
		default:
			fail_msg("unexpected large resource 0x%02x", b);
		}
		off += 3 + n;
	}
	assert_true(end);
	assert_int_equal(off, len);
}

/* EISAID("ABC1234") computed here, independently of the encoder: bytes
 * [0..1] the three letters, 5 bits each ('A' = 1), big-endian; [2..3] the
 * product number, big-endian; as the little-endian DWord AML holds. */
static uint32_t eisa_id(const char *id)
{
	unsigned letters = (id[0] - '@') << 10 | (id[1] - '@') << 5 |
			   (id[2] - '@');
	unsigned product = strtoul(id + 3, NULL, 16);
	const uint8_t b[4] = {
		letters >> 8, letters & 0xff, product >> 8, product & 0xff,
	};

	return le32(b);
}

static void test_eisa_id(void **state)
{
	(void)state;
	/* Bytes 41 d0 0a 08: "PNP" compressed, then product 0x0a08 */
	assert_int_equal(eisa_id("PNP0A08"), 0x080ad041);
	assert_int_equal(eisa_id("PNP0A03"), 0x030ad041);
	assert_int_equal(eisa_id("PNP0C02"), 0x020cd041);
}

static void get_dsdt(const struct vm *v, const struct tables *t,
		     struct dsdt_info *d, uint32_t *len)
{
	*len = le32(gp(v, t->dsdt, 8) + 4);
	parse_dsdt(gp(v, t->dsdt, *len) + 36, *len - 36, d);
}

static void test_dsdt_s5(void **state)
{
	/* Name (_S5_, Package (0x04) { 0x05, 0x05, Zero, Zero }) */
	static const uint8_t s5[] = {
		0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0a, SLP_TYP_S5, 0x0a, SLP_TYP_S5, 0x00, 0x00,
	};
	struct acpi_config c = pci_config(1);
	struct dsdt_info *d = malloc(sizeof(*d));
	const uint8_t *p;
	struct tables t;
	uint32_t len;
	struct vm v;

	(void)state;
	assert_non_null(d);
	vm_init(&v, FAKE_RAM);
	build(&v, 1, &t);
	get_dsdt(&v, &t, d, &len);
	p = gp(&v, t.dsdt, len);
	assert_true(d->have_s5);
	assert_int_equal(d->s5_nelems, 4);
	assert_int_equal(d->s5[0], SLP_TYP_S5);
	assert_int_equal(d->s5[1], SLP_TYP_S5);
	assert_non_null(memmem(p + 36, len - 36, s5, sizeof(s5)));
	/* Without PCI the DSDT is just \_S5 */
	assert_int_equal(len, 36 + sizeof(s5));
	assert_int_equal(d->ndevs, 0);
	assert_int_equal(d->nscopes, 0);

	/* With PCI, \_S5 is still there */
	build_cfg(&v, &c, &t);
	get_dsdt(&v, &t, d, &len);
	p = gp(&v, t.dsdt, len);
	assert_true(d->have_s5);
	assert_memory_equal(p + 36, s5, sizeof(s5));
	vm_free(&v);
	free(d);
}

/* No PCI: no MCFG, only the FADT and MADT in the XSDT, no devices */
static void test_no_pci(void **state)
{
	struct acpi_config c = { .ncpus = 2, .pci_mmio_base = PCI_MMIO_START,
				 .pci_mmio_size = PCI_MMIO_SIZE,
				 .pci_bus_end = 7 };
	struct dsdt_info *d = malloc(sizeof(*d));
	struct tables t;
	uint32_t len;
	struct vm v;

	(void)state;
	assert_non_null(d);
	vm_init(&v, FAKE_RAM);
	/* The other PCI fields are ignored when pci_ecam_base is 0 */
	build_cfg(&v, &c, &t);
	assert_int_equal(t.mcfg, 0);
	assert_int_equal(le32(gp(&v, t.xsdt, 8) + 4), 36 + 2 * 8);
	get_dsdt(&v, &t, d, &len);
	assert_int_equal(d->ndevs, 0);
	assert_null(memmem(gp(&v, t.dsdt, len), len, "PCI0", 4));
	vm_free(&v);
	free(d);
}

static void check_mcfg(const struct vm *v, const struct tables *t,
		       const struct acpi_config *c)
{
	static const uint8_t zero[8];
	const uint8_t *p;
	uint32_t len;

	assert_int_not_equal(t->mcfg, 0);
	len = le32(gp(v, t->mcfg, 8) + 4);
	p = gp(v, t->mcfg, len);
	assert_int_equal(len, 44 + 16);			/* one allocation */
	assert_int_equal(sum8(p, len), 0);
	assert_true(p[8] >= 1);				/* revision */
	assert_memory_equal(p + 36, zero, 8);		/* reserved */
	assert_int_equal(le64(p + 44), c->pci_ecam_base);
	assert_int_equal(le16(p + 52), 0);		/* segment */
	assert_int_equal(p[54], c->pci_bus_start);
	assert_int_equal(p[55], c->pci_bus_end);
	assert_memory_equal(p + 56, zero, 4);		/* reserved */
}

static void check_prt(const struct dev_info *pci)
{
	bool seen[32][4] = { { false } };

	assert_true(pci->have & HAVE_PRT);
	assert_int_equal(pci->prt_nelems, 32 * 4);
	assert_int_equal(pci->nprt, 32 * 4);
	for (unsigned i = 0; i < pci->nprt; i++) {
		const struct prt_entry *e = &pci->prt[i];
		uint64_t slot = e->addr >> 16;

		assert_int_equal(e->addr & 0xffff, 0xffff);	/* any function */
		assert_true(slot < 32);
		assert_true(e->pin < 4);
		assert_false(seen[slot][e->pin]);
		seen[slot][e->pin] = true;
		assert_int_equal(e->source, 0);		/* a GSI, no link */
		assert_int_equal(e->index, 16 + (slot + e->pin) % 4);
		assert_int_equal(e->index, ACPI_PCI_INTX_GSI(slot, e->pin));
	}
}

/* The DSDT for config c: \_SB.PCI0 and \_SB.RES0 as acpi.h says */
static void check_pci_dsdt(const struct dsdt_info *d,
			   const struct acpi_config *c)
{
	static uint8_t io[0x10000];
	uint64_t ecam = c->pci_ecam_base + ((uint64_t)c->pci_bus_start << 20);
	uint64_t ecam_len = (uint64_t)(c->pci_bus_end - c->pci_bus_start + 1)
			    << 20;
	const struct dev_info *pci, *res;
	struct res_list l;
	unsigned nmem = 0;

	assert_int_equal(d->ndevs, 2);
	assert_int_equal(d->nscopes, 1);
	pci = find_dev(d, "\\_SB_.PCI0");
	res = find_dev(d, "\\_SB_.RES0");

	/* No _ADR: it and _HID are exclusive */
	assert_int_equal(pci->have, HAVE_HID | HAVE_CID | HAVE_UID | HAVE_SEG |
				    HAVE_BBN | HAVE_CRS | HAVE_PRT);
	assert_int_equal(pci->hid, eisa_id("PNP0A08"));
	assert_int_equal(pci->cid, eisa_id("PNP0A03"));
	assert_int_equal(pci->uid, 0);
	assert_int_equal(pci->seg, 0);
	assert_int_equal(pci->bbn, c->pci_bus_start);
	check_prt(pci);

	/* _CRS: bus range, I/O, memory windows, all produced by PCI0 */
	walk_resources(pci->crs, pci->crs_len, &l);
	assert_int_equal(l.n, c->pci_mmio64_size ? 5 : 4);
	memset(io, 0, sizeof(io));
	for (unsigned i = 0; i < l.n; i++) {
		const struct res_desc *r = &l.d[i];

		assert_int_not_equal(r->tag, 0x86);
		/* ResourceProducer, PosDecode, MinFixed, MaxFixed */
		assert_int_equal(r->gflags, 0x0c);
		assert_int_equal(r->gran, 0);
		assert_int_equal(r->tra, 0);
		assert_true(r->min <= r->max);
		assert_int_equal(r->len, r->max - r->min + 1);
		switch (r->type) {
		case 2:					/* bus numbers */
			assert_int_equal(i, 0);
			assert_int_equal(r->tag, 0x88);
			assert_int_equal(r->tflags, 0);
			assert_int_equal(r->min, c->pci_bus_start);
			assert_int_equal(r->max, c->pci_bus_end);
			break;
		case 1:					/* I/O */
			assert_int_equal(r->tag, 0x88);
			assert_int_equal(r->tflags, 3);	/* EntireRange */
			for (uint64_t port = r->min; port <= r->max; port++) {
				assert_int_equal(io[port], 0);
				io[port] = 1;
			}
			break;
		case 0:					/* memory */
			nmem++;
			assert_int_equal(r->tflags & 1, 1);	/* ReadWrite */
			/* Not over the ECAM area */
			assert_true(r->max < ecam || r->min >= ecam + ecam_len);
			if (r->tag == 0x87) {
				assert_int_equal(r->tflags, 0x01); /* uncached */
				assert_int_equal(r->min, c->pci_mmio_base);
				assert_int_equal(r->len, c->pci_mmio_size);
			} else {
				assert_int_equal(r->tag, 0x8a);
				assert_int_equal(r->min, c->pci_mmio64_base);
				assert_int_equal(r->len, c->pci_mmio64_size);
			}
			break;
		default:
			fail_msg("unexpected resource type %u", r->type);
		}
	}
	assert_int_equal(nmem, c->pci_mmio64_size ? 2 : 1);
	/* Every port but the config mechanism's 0xcf8-0xcff */
	for (unsigned port = 0; port < 0x10000; port++)
		assert_int_equal(io[port], port < 0xcf8 || port > 0xcff);
	assert_int_equal(l.d[1].min, 0);
	assert_int_equal(l.d[1].max, 0xcf7);
	assert_int_equal(l.d[2].min, 0xd00);
	assert_int_equal(l.d[2].max, 0xffff);

	/* RES0: the ECAM area of the buses, as a motherboard resource */
	assert_int_equal(res->have, HAVE_HID | HAVE_CRS);
	assert_int_equal(res->hid, eisa_id("PNP0C02"));
	walk_resources(res->crs, res->crs_len, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.d[0].tag, 0x86);
	assert_int_equal(l.d[0].tflags, 1);		/* ReadWrite */
	assert_int_equal(l.d[0].min, ecam);
	assert_int_equal(l.d[0].len, ecam_len);
}

static void check_pci(const struct acpi_config *c)
{
	struct dsdt_info *d = malloc(sizeof(*d));
	struct tables t;
	uint32_t len;
	struct vm v;

	assert_non_null(d);
	vm_init(&v, FAKE_RAM);
	build_cfg(&v, c, &t);
	check_mcfg(&v, &t, c);
	assert_int_equal(le32(gp(&v, t.xsdt, 8) + 4), 36 + 3 * 8);
	get_dsdt(&v, &t, d, &len);
	assert_true(d->have_s5);
	check_pci_dsdt(d, c);
	vm_free(&v);
	free(d);
}

static void test_pci_layout(void **state)
{
	struct acpi_config c = pci_config(4);

	(void)state;
	/* What boot/layout.h describes, spelled out */
	assert_int_equal(c.pci_ecam_base, 0xe0000000);
	assert_int_equal(c.pci_mmio_base, 0xc0000000);
	assert_int_equal(c.pci_mmio_size, 0x20000000);
	check_pci(&c);
	c.ncpus = 255;
	check_pci(&c);
}

static void test_pci_variants(void **state)
{
	struct acpi_config c = pci_config(2);

	(void)state;
	/* A 64-bit window too */
	c.pci_mmio64_base = 1ULL << 39;
	c.pci_mmio64_size = 1ULL << 39;
	check_pci(&c);
	/* Buses 2-5: ECAM from base + 2 MiB, 4 MiB long */
	c = pci_config(2);
	c.pci_ecam_base = 0xb0000000;
	c.pci_bus_start = 2;
	c.pci_bus_end = 5;
	check_pci(&c);
	/* All 256 buses, the window right below the ECAM area, ending at
	 * the top of the 32-bit space */
	c = pci_config(1);
	c.pci_ecam_base = 0xe0000000;
	c.pci_bus_start = 0;
	c.pci_bus_end = 255;
	c.pci_mmio_base = 0x80000000;
	c.pci_mmio_size = 0x60000000;
	check_pci(&c);
	c.pci_mmio_base = 0x80000000;
	c.pci_mmio_size = 0x20000000;
	c.pci_ecam_base = 0xa0000000;
	c.pci_bus_end = 15;
	c.pci_mmio64_base = 0xffffffff00000000ULL;
	c.pci_mmio64_size = 0x100000000ULL;		/* up to 2^64 - 1 */
	check_pci(&c);
}

static void test_bad_config(void **state)
{
	struct acpi_config c = { 0 }, bad_pci[10];
	struct error err;
	uint64_t rsdp = 0x1234;
	struct vm v;

	(void)state;
	vm_init(&v, FAKE_RAM);
	c.ncpus = 0;
	err.msg[0] = '\0';
	assert_int_equal(acpi_build(&v.m, &c, &rsdp, &err), -1);
	assert_non_null(strstr(err.msg, "vCPUs"));
	c.ncpus = ACPI_MAX_CPUS + 1;
	err.msg[0] = '\0';
	assert_int_equal(acpi_build(&v.m, &c, &rsdp, &err), -1);
	assert_non_null(strstr(err.msg, "vCPUs"));
	for (unsigned i = 0; i < sizeof(bad_pci) / sizeof(bad_pci[0]); i++) {
		c = pci_config(1);
		switch (i) {
		case 0:		/* bus range */
			c.pci_bus_start = 1;
			c.pci_bus_end = 0;
			break;
		case 1:		/* ECAM not 1 MiB aligned */
			c.pci_ecam_base = 0xe0080000;
			break;
		case 2:		/* ECAM above 4 GiB */
			c.pci_ecam_base = 1ULL << 32;
			break;
		case 3:		/* ECAM area crossing 4 GiB */
			c.pci_ecam_base = 0xfff00000;
			c.pci_bus_end = 1;
			break;
		case 4:		/* no 32-bit window */
			c.pci_mmio_size = 0;
			break;
		case 5:		/* 32-bit window crossing 4 GiB */
			c.pci_mmio_base = 0xf0000000;
			c.pci_mmio_size = 0x20000000;
			c.pci_ecam_base = 0xe0000000;
			break;
		case 6:		/* 32-bit window over the ECAM area */
			c.pci_mmio_size = 0x20100000;
			break;
		case 7:		/* ECAM of bus 3 in the window */
			c.pci_ecam_base = 0xbfd00000;
			c.pci_bus_start = 3;
			c.pci_bus_end = 3;
			break;
		case 8:		/* 64-bit window wrapping */
			c.pci_mmio64_base = 0xffffffff00000000ULL;
			c.pci_mmio64_size = 0x100000001ULL;
			break;
		case 9:		/* 64-bit window over the ECAM area */
			c.pci_mmio64_base = 0;
			c.pci_mmio64_size = 1ULL << 40;
			break;
		}
		bad_pci[i] = c;
	}
	for (unsigned i = 0; i < sizeof(bad_pci) / sizeof(bad_pci[0]); i++) {
		err.msg[0] = '\0';
		if (acpi_build(&v.m, &bad_pci[i], &rsdp, &err) != -1)
			fail_msg("bad PCI config %u accepted", i);
		assert_non_null(strstr(err.msg, "PCI"));
	}
	/* Nothing written, *rsdp_gpa untouched */
	assert_int_equal(rsdp, 0x1234);
	for (uint64_t a = ACPI_TABLES_ADDR; a < REGION_END; a++)
		assert_int_equal(gp(&v, a, 1)[0], GARBAGE);
	vm_free(&v);
}

static void test_small_ram(void **state)
{
	static const uint64_t sizes[] = {
		0x1000, ACPI_TABLES_ADDR, ACPI_TABLES_ADDR + 0x10,
		REGION_END - 1,
	};
	struct acpi_config c = { .ncpus = 4 };
	struct error err;
	uint64_t rsdp;
	struct vm v;

	(void)state;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		vm_init(&v, sizes[i]);
		err.msg[0] = '\0';
		assert_int_equal(acpi_build(&v.m, &c, &rsdp, &err), -1);
		assert_non_null(strstr(err.msg, "outside guest RAM"));
		for (uint64_t a = 0; a < v.size; a++)
			if (v.ram[a] != GARBAGE)
				fail_msg("RAM 0x%llx bytes: wrote at 0x%llx",
					 (unsigned long long)v.size,
					 (unsigned long long)a);
		vm_free(&v);
	}
	/* Exactly enough RAM */
	vm_init(&v, REGION_END);
	assert_int_equal(acpi_build(&v.m, &c, NULL, &err), 0);
	vm_free(&v);
}

/* A table area one byte too small for any table fails cleanly, without
 * writing outside the area; an area of exactly the needed size works. */
static void test_area_too_small(void **state)
{
	static const unsigned counts[] = { 1, 255 };
	const uint64_t gpa = 0x10000;
	struct tables t;
	struct error err;
	uint64_t rsdp;
	struct vm v;

	(void)state;
	vm_init(&v, FAKE_RAM);
	for (unsigned i = 0; i < 2 * sizeof(counts) / sizeof(counts[0]); i++) {
		unsigned ncpus = counts[i / 2];
		struct acpi_config c = { .ncpus = ncpus };
		uint64_t need = 0;
		size_t size;

		if (i % 2)
			c = pci_config(ncpus);
		/* How much do the tables take? */
		build_cfg(&v, &c, &t);
		for (unsigned j = 0; j < t.nr; j++)
			if (t.r[j].gpa + t.r[j].len - ACPI_TABLES_ADDR > need)
				need = t.r[j].gpa + t.r[j].len - ACPI_TABLES_ADDR;
		assert_true(need > 36 && need < ACPI_TABLES_SIZE);

		for (size = 0; size <= need; size++) {
			int ret;

			memset(v.ram + gpa - 16, GARBAGE, need + 32);
			err.msg[0] = '\0';
			ret = acpi_build_at(&v.m, &c, gpa, size, &rsdp, &err);
			if (size < need) {
				if (ret != -1)
					fail_msg("%u vCPUs%s fit in %zu < %llu bytes",
						 ncpus, i % 2 ? " + PCI" : "",
						 size, (unsigned long long)need);
				assert_true(err.msg[0] != '\0');
			} else {
				assert_int_equal(ret, 0);
				assert_int_equal(rsdp, gpa);
			}
			for (uint64_t a = gpa - 16; a < gpa; a++)
				assert_int_equal(v.ram[a], GARBAGE);
			for (uint64_t a = gpa + size; a < gpa + need + 16; a++)
				assert_int_equal(v.ram[a], GARBAGE);
		}
	}
	/* Unaligned or not below 4 GiB */
	{
		struct acpi_config c = { .ncpus = 1 };

		assert_int_equal(acpi_build_at(&v.m, &c, gpa + 8, 0x1000,
					       &rsdp, &err), -1);
		assert_int_equal(acpi_build_at(&v.m, &c, 0xfffff000, 0x2000,
					       &rsdp, &err), -1);
	}
	vm_free(&v);
}

/* Tables for 255 CPUs, then for 1 CPU in the same RAM: nothing stale;
 * likewise with PCI, then without. */
static void test_rebuild(void **state)
{
	struct acpi_config c = pci_config(255);
	struct tables t;
	struct vm v;

	(void)state;
	vm_init(&v, FAKE_RAM);
	build(&v, 255, &t);
	build(&v, 1, &t);
	assert_int_equal(le32(gp(&v, t.madt, 8) + 4),
			 44 + 8 + 12 + 2 * 10 + 6);
	build_cfg(&v, &c, &t);
	assert_int_not_equal(t.mcfg, 0);
	build(&v, 1, &t);
	assert_int_equal(t.mcfg, 0);
	for (uint64_t a = ACPI_TABLES_ADDR; a < REGION_END - 4; a++)
		if (!memcmp(gp(&v, a, 4), "MCFG", 4) ||
		    !memcmp(gp(&v, a, 4), "PCI0", 4))
			fail_msg("stale PCI tables at 0x%llx",
				 (unsigned long long)a);
	vm_free(&v);
}

/* ---- the AML encoder ---- */

static void check_pkglen(size_t body, const uint8_t *enc, size_t n)
{
	size_t cap = body + 64;
	uint8_t *buf = malloc(cap);
	struct aml a;
	size_t h;

	assert_non_null(buf);
	aml_init(&a, buf, cap);
	aml_byte(&a, 0x12);
	h = aml_pkg_begin(&a);
	for (size_t i = 0; i < body; i++)
		aml_byte(&a, (uint8_t)(i * 7 + 1));
	aml_pkg_end(&a, h);
	assert_false(a.failed);
	assert_int_equal(a.len, 1 + n + body);
	assert_int_equal(buf[0], 0x12);
	assert_memory_equal(buf + 1, enc, n);
	for (size_t i = 0; i < body; i++)
		assert_int_equal(buf[1 + n + i], (uint8_t)(i * 7 + 1));
	free(buf);
}

static void test_aml_pkglen(void **state)
{
	(void)state;
	check_pkglen(0, (const uint8_t[]){ 0x01 }, 1);
	check_pkglen(10, (const uint8_t[]){ 0x0b }, 1);
	check_pkglen(62, (const uint8_t[]){ 0x3f }, 1);
	/* 63 + 2 = 65 = 0x41 */
	check_pkglen(63, (const uint8_t[]){ 0x41, 0x04 }, 2);
	/* 4093 + 2 = 0xfff */
	check_pkglen(4093, (const uint8_t[]){ 0x4f, 0xff }, 2);
	/* 4094 + 3 = 0x1001 */
	check_pkglen(4094, (const uint8_t[]){ 0x81, 0x00, 0x01 }, 3);
	/* 0xffffc + 3 = 0xfffff; 0xffffd + 4 = 0x100001 */
	check_pkglen(0xffffc, (const uint8_t[]){ 0x8f, 0xff, 0xff }, 3);
	check_pkglen(0xffffd, (const uint8_t[]){ 0xc1, 0x00, 0x00, 0x01 }, 4);
}

static void test_aml_encodings(void **state)
{
	/* Scope (\_SB) { Device (PCI0) { Name (_HID, EisaId ("PNP0A03"))
	 * Name (_UID, Zero) Name (_STR, "ab") } } */
	static const uint8_t want[] = {
		0x10, 0x26, '\\', '_', 'S', 'B', '_',
		0x5b, 0x82, 0x1e, 'P', 'C', 'I', '0',
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,
		0x08, '_', 'U', 'I', 'D', 0x00,
		0x08, '_', 'S', 'T', 'R', 0x0d, 'a', 'b', 0x00,
	};
	static const uint8_t ints[] = {
		0x00, 0x01, 0xff, 0x0a, 0x02, 0x0a, 0xff,
		0x0b, 0x00, 0x01, 0x0c, 0x78, 0x56, 0x34, 0x12,
		0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	};
	static const uint8_t names[] = {
		0x5c, 0x00,				/* "\\" */
		'_', 'S', '5', '_',			/* "_S5" padded */
		0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		0x5e, 0x5e, 0x2f, 0x03, 'A', '_', '_', '_',
		'B', '1', '_', '_', 'C', 'D', 'E', 'F',
	};
	static const uint8_t buffer[] = { 0x11, 0x05, 0x0a, 0x02, 0x79, 0x00 };
	uint8_t buf[128];
	struct aml a;
	size_t sb, dev;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	sb = aml_scope_begin(&a, "\\_SB");
	dev = aml_device_begin(&a, "PCI0");
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0A03");
	aml_name(&a, "_UID");
	aml_integer(&a, 0);
	aml_name(&a, "_STR");
	aml_string(&a, "ab");
	aml_end(&a, dev);
	aml_end(&a, sb);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, UINT64_MAX);
	aml_integer(&a, 2);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 1ULL << 32);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(ints));
	assert_memory_equal(buf, ints, sizeof(ints));

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\");
	aml_namestring(&a, "_S5");
	aml_namestring(&a, "\\_SB_.PCI0");
	aml_namestring(&a, "^^A.B1.CDEF");
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(names));
	assert_memory_equal(buf, names, sizeof(names));

	aml_init(&a, buf, sizeof(buf));
	aml_buffer(&a, (const uint8_t[]){ 0x79, 0x00 }, 2);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(buffer));
	assert_memory_equal(buf, buffer, sizeof(buffer));
}

/* Resource descriptors, byte for byte as iasl 20200925 compiles the ASL
 * in the comments */
static void test_aml_resources(void **state)
{
	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
	 *	0x0000, 0x0000, 0x0000, 0x0000, 0x0001,,,) */
	static const uint8_t bus[] = {
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	};
	/* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode,
	 *	EntireRange, 0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8,,,,
	 *	TypeStatic, DenseTranslation) */
	static const uint8_t io[] = {
		0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00,
		0xf7, 0x0c, 0x00, 0x00, 0xf8, 0x0c,
	};
	/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
	 *	NonCacheable, ReadWrite, 0x00000000, 0xC0000000, 0xDFFFFFFF,
	 *	0x00000000, 0x20000000,,,, AddressRangeMemory, TypeStatic) */
	static const uint8_t mem32[] = {
		0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
		0xff, 0xff, 0xff, 0xdf, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x20,
	};
	/* QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
	 *	Cacheable, ReadWrite, 0x0, 0x8000000000, 0xFFFFFFFFFF, 0x0,
	 *	0x8000000000,,,, AddressRangeMemory, TypeStatic) */
	static const uint8_t mem64[] = {
		0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
	};
	/* Memory32Fixed (ReadWrite, 0xE0000000, 0x00100000) and the End
	 * Tag */
	static const uint8_t fixed[] = {
		0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0,
		0x00, 0x00, 0x10, 0x00, 0x79, 0x00,
	};
	uint8_t buf[64];
	struct aml a;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_res_word(&a, AML_RES_BUS, 0, 0, 0);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(bus));
	assert_memory_equal(buf, bus, sizeof(bus));

	aml_init(&a, buf, sizeof(buf));
	aml_res_word(&a, AML_RES_IO, AML_RES_IO_ENTIRE, 0, 0xcf7);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(io));
	assert_memory_equal(buf, io, sizeof(io));

	aml_init(&a, buf, sizeof(buf));
	aml_res_dword(&a, AML_RES_MEMORY,
		      AML_RES_MEM_RW | AML_RES_MEM_NONCACHEABLE,
		      0xc0000000, 0xdfffffff);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(mem32));
	assert_memory_equal(buf, mem32, sizeof(mem32));

	aml_init(&a, buf, sizeof(buf));
	aml_res_qword(&a, AML_RES_MEMORY,
		      AML_RES_MEM_RW | AML_RES_MEM_CACHEABLE,
		      0x8000000000, 0xffffffffff);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(mem64));
	assert_memory_equal(buf, mem64, sizeof(mem64));

	aml_init(&a, buf, sizeof(buf));
	aml_res_memory32_fixed(&a, true, 0xe0000000, 0x100000);
	aml_res_end(&a);
	assert_false(a.failed);
	assert_int_equal(a.len, sizeof(fixed));
	assert_memory_equal(buf, fixed, sizeof(fixed));

	/* The whole I/O space is fine; an empty or inverted range is not,
	 * nor a length that does not fit (the whole 64-bit space) */
	aml_init(&a, buf, sizeof(buf));
	aml_res_word(&a, AML_RES_IO, AML_RES_IO_ENTIRE, 0, 0xffff);
	assert_false(a.failed);
	aml_init(&a, buf, sizeof(buf));
	aml_res_word(&a, AML_RES_IO, AML_RES_IO_ENTIRE, 0xd00, 0xcff);
	assert_true(a.failed);
	aml_init(&a, buf, sizeof(buf));
	aml_res_qword(&a, AML_RES_MEMORY, 0, 0, UINT64_MAX);
	assert_true(a.failed);
	aml_init(&a, buf, sizeof(buf));
	aml_res_dword(&a, 7, 0, 0, 1);
	assert_true(a.failed);
	/* Overflow is sticky like the rest */
	aml_init(&a, buf, 20);
	aml_res_dword(&a, AML_RES_MEMORY, 0, 0, 1);
	assert_true(a.failed);
	assert_true(a.len <= 20);
}

static void test_aml_errors(void **state)
{
	static const char *const bad_names[] = {
		"TOOLONG", "1ABC", "lower", "A..B", "A.", "\\^A", "A-B",
	};
	uint8_t buf[16];
	struct aml a;
	size_t h;

	(void)state;
	for (unsigned i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, bad_names[i]);
		if (!a.failed)
			fail_msg("name \"%s\" accepted", bad_names[i]);
	}
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP0A0G");
	assert_true(a.failed);
	aml_init(&a, buf, sizeof(buf));
	aml_package_begin(&a, 256);
	assert_true(a.failed);

	/* Overflow: nothing past cap, and the error sticks */
	memset(buf, 0xee, sizeof(buf));
	aml_init(&a, buf, 8);
	h = aml_package_begin(&a, 1);
	aml_integer(&a, 0x12345678);		/* 5 more bytes: 11 > 8 */
	aml_end(&a, h);
	assert_true(a.failed);
	aml_byte(&a, 0);
	assert_true(a.failed);
	assert_true(a.len <= 8);
	for (unsigned i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

static void dump_tables(const struct vm *v, const struct tables *t,
			const char *dir, const char *prefix)
{
	for (unsigned i = 0; i < t->nr; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s%s.dat", dir, prefix,
			 t->r[i].what);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(gp(v, t->r[i].gpa, t->r[i].len), 1,
					t->r[i].len, f), t->r[i].len);
		assert_int_equal(fclose(f), 0);
	}
}

/* VESSEL_ACPI_DUMP=dir: write each table to dir/SIG.dat for `iasl -d`:
 * with layout.h's PCI host bridge, as boot.c builds them, and without it
 * as dir/nopci-SIG.dat. */
static void test_dump(void **state)
{
	const char *dir = getenv("VESSEL_ACPI_DUMP");
	struct acpi_config c = pci_config(4);
	struct tables t;
	struct vm v;

	(void)state;
	if (!dir)
		return;
	vm_init(&v, FAKE_RAM);
	build_cfg(&v, &c, &t);
	dump_tables(&v, &t, dir, "");
	build(&v, 4, &t);
	dump_tables(&v, &t, dir, "nopci-");
	vm_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_found_and_checksummed),
		cmocka_unit_test(test_madt_1),
		cmocka_unit_test(test_madt_4),
		cmocka_unit_test(test_madt_255),
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_eisa_id),
		cmocka_unit_test(test_dsdt_s5),
		cmocka_unit_test(test_no_pci),
		cmocka_unit_test(test_pci_layout),
		cmocka_unit_test(test_pci_variants),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_small_ram),
		cmocka_unit_test(test_area_too_small),
		cmocka_unit_test(test_rebuild),
		cmocka_unit_test(test_aml_pkglen),
		cmocka_unit_test(test_aml_encodings),
		cmocka_unit_test(test_aml_resources),
		cmocka_unit_test(test_aml_errors),
		cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

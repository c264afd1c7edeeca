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

#define FAKE_RAM	(1ULL << 20)
#define GARBAGE		0xa5
#define REGION_END	(ACPI_TABLES_ADDR + ACPI_TABLES_SIZE)

struct vm {
	uint8_t *ram;
	uint64_t size;
	struct gmem m;
};

static void vm_init(struct vm *v, uint64_t size)
{
	v->ram = malloc(size);	/* exactly size: ASan catches overruns */
	assert_non_null(v->ram);
	memset(v->ram, GARBAGE, size);
	v->size = size;
	gmem_init_fake(&v->m, v->ram, size);
}

static void vm_free(struct vm *v)
{
	free(v->ram);
}

static const uint8_t *gp(const struct vm *v, uint64_t gpa, size_t len)
{
	const uint8_t *p = gmem_ptr(&v->m, gpa, len);

	assert_non_null(p);
	return p;
}

static uint16_t rd16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t rd32(const uint8_t *p)
{
	return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* What the walk from the RSDP found */
struct range {
	uint64_t gpa;
	uint64_t len;
	char what[5];
};

struct tables {
	uint64_t rsdp, xsdt, rsdt, fadt, madt, dsdt, facs;
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
	len = rd32(h + 4);
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
	assert_int_equal(rd32(p + 20), 36);		/* length */
	assert_int_equal(sum8(p, 36), 0);		/* extended */
	assert_memory_equal(p + 9, "VESSEL", 6);
	add_range(t, "RSDP", t->rsdp, 36);
	t->rsdt = rd32(p + 16);
	t->xsdt = rd64(p + 24);

	xlen = check_sdt(v, t, t->xsdt, "XSDT");
	rlen = check_sdt(v, t, t->rsdt, "RSDT");
	assert_int_equal((xlen - 36) % 8, 0);
	n = (xlen - 36) / 8;
	assert_int_equal(rlen, 36 + 4 * n);
	x = gp(v, t->xsdt, xlen);
	r = gp(v, t->rsdt, rlen);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = rd64(x + 36 + 8 * i);
		const uint8_t *sig;

		assert_int_equal(rd32(r + 36 + 4 * i), a);	/* RSDT mirrors */
		sig = gp(v, a, 4);
		if (!memcmp(sig, "FACP", 4)) {
			assert_int_equal(t->fadt, 0);
			t->fadt = a;
		} else if (!memcmp(sig, "APIC", 4)) {
			assert_int_equal(t->madt, 0);
			t->madt = a;
		} else {
			fail_msg("unexpected table %.4s in the XSDT", sig);
		}
	}
	assert_int_not_equal(t->fadt, 0);
	assert_int_not_equal(t->madt, 0);

	assert_int_equal(check_sdt(v, t, t->fadt, "FACP"), 276);
	f = gp(v, t->fadt, 276);
	assert_int_equal(f[8], 6);			/* FADT revision */
	t->dsdt = rd32(f + 40);
	assert_int_equal(rd64(f + 140), t->dsdt);	/* X_DSDT */
	t->facs = rd32(f + 36);
	assert_int_equal(rd64(f + 132), 0);	/* X_FIRMWARE_CTRL: must be 0 */
	check_sdt(v, t, t->dsdt, "DSDT");
	assert_int_equal(gp(v, t->dsdt, 9)[8], 2);	/* 64-bit AML ints */
	check_sdt(v, t, t->madt, "APIC");

	/* FACS: no checksum, 64-byte aligned */
	assert_int_equal(t->facs % 64, 0);
	assert_true(t->facs >= ACPI_TABLES_ADDR && t->facs + 64 <= REGION_END);
	p = gp(v, t->facs, 64);
	assert_memory_equal(p, "FACS", 4);
	assert_int_equal(rd32(p + 4), 64);
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

static void build(struct vm *v, unsigned ncpus, struct tables *t)
{
	struct acpi_config c = { .ncpus = ncpus };
	struct error err = { 0 };
	uint64_t rsdp = 0;

	if (acpi_build(&v->m, &c, &rsdp, &err) < 0)
		fail_msg("acpi_build(%u): %s", ncpus, err.msg);
	find_tables(v, rsdp, t);
	check_no_overlap(t);
}

static void test_tables_found_and_checksummed(void **state)
{
	static const unsigned counts[] = { 1, 2, 4, 16, 255 };
	struct vm v;
	struct tables t;

	(void)state;
	vm_init(&v, FAKE_RAM);
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		build(&v, counts[i], &t);
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
	len = rd32(gp(&v, t.madt, 8) + 4);
	p = gp(&v, t.madt, len);
	assert_int_equal(p[8], 5);				/* revision */
	assert_int_equal(rd32(p + 36), LAPIC_ADDR);
	assert_int_equal(rd32(p + 40) & 1, 1);			/* PCAT_COMPAT */
	for (off = 44; off < len; off += p[off + 1]) {
		const uint8_t *e = p + off;

		assert_true(off + 2 <= len);
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:		/* Processor Local APIC */
			assert_int_equal(e[1], 8);
			lapics++;
			if (rd32(e + 4) & 1) {
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
			assert_int_equal(rd32(e + 4), IOAPIC_ADDR);
			assert_int_equal(rd32(e + 8), 0);	/* GSI base */
			break;
		case 2:		/* Interrupt Source Override */
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);		/* ISA */
			assert_true(e[3] < 16);
			assert_int_equal(iso_gsi[e[3]], -1);
			iso_gsi[e[3]] = rd32(e + 4);
			iso_flags[e[3]] = rd16(e + 8);
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
	assert_int_equal(rd64(g + 4), addr);
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
	assert_int_equal(rd16(f + 46), SCI_IRQ);		/* SCI_INT */
	assert_int_equal(rd32(f + 48), 0);			/* SMI_CMD */
	assert_int_equal(rd32(f + 56), PM1_EVT_PORT);		/* PM1a_EVT */
	assert_int_equal(rd32(f + 60), 0);			/* PM1b_EVT */
	assert_int_equal(rd32(f + 64), PM1_CNT_PORT);		/* PM1a_CNT */
	assert_int_equal(rd32(f + 68), 0);			/* PM1b_CNT */
	assert_int_equal(rd32(f + 72), 0);			/* PM2_CNT */
	assert_int_equal(rd32(f + 76), PM_TMR_PORT);		/* PM_TMR */
	assert_int_equal(rd32(f + 80), PM_GPE0_PORT);		/* GPE0 */
	assert_int_equal(rd32(f + 84), 0);			/* GPE1 */
	assert_int_equal(f[88], 4);				/* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);				/* PM1_CNT_LEN */
	assert_int_equal(f[90], 0);				/* PM2_CNT_LEN */
	assert_int_equal(f[91], 4);				/* PM_TMR_LEN */
	assert_int_equal(f[92], 4);				/* GPE0_BLK_LEN */
	assert_int_equal(f[93], 0);				/* GPE1_BLK_LEN */
	assert_true(rd16(f + 96) > 100);			/* no C2 */
	assert_true(rd16(f + 98) > 1000);			/* no C3 */
	assert_int_equal(rd16(f + 109) & 2, 0);			/* no 8042 */

	flags = rd32(f + 112);
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

struct dsdt_info {
	bool have_s5;
	unsigned s5_nelems;
	uint64_t s5[8];
};

/* A DataRefObject after a Name(); records \_S5's package */
static void rd_data(struct reader *r, const char *name, struct dsdt_info *d)
{
	uint8_t op = r->p[r->pos];
	size_t end;

	if (op == 0x12) {			/* Package */
		bool s5 = !strcmp(name, "_S5_") || !strcmp(name, "\\_S5_");
		unsigned n, i = 0;

		r->pos++;
		end = rd_pkglen(r);
		n = rd_byte(r);
		while (r->pos < end) {
			uint64_t v = rd_integer(r);

			if (s5 && i < 8)
				d->s5[i] = v;
			i++;
		}
		assert_int_equal(r->pos, end);
		assert_true(i <= n);
		if (s5) {
			assert_false(d->have_s5);
			d->have_s5 = true;
			d->s5_nelems = n;
		}
	} else if (op == 0x0d) {		/* String */
		r->pos++;
		while (rd_byte(r))
			;
	} else if (op == 0x11) {		/* Buffer */
		r->pos++;
		r->pos = rd_pkglen(r);
	} else {
		rd_integer(r);
	}
}

static void parse_dsdt(const uint8_t *aml, size_t len, struct dsdt_info *d)
{
	struct reader r = { aml, 0, len };
	char name[64];

	memset(d, 0, sizeof(*d));
	while (r.pos < r.end) {
		uint8_t op = rd_byte(&r);

		switch (op) {
		case 0x08:				/* Name */
			rd_namestring(&r, name, sizeof(name));
			rd_data(&r, name, d);
			break;
		case 0x10:				/* Scope */
			r.pos = rd_pkglen(&r);
			break;
		case 0x5b:
			assert_int_equal(rd_byte(&r), 0x82);	/* Device */
			r.pos = rd_pkglen(&r);
			break;
		default:
			fail_msg("unexpected AML opcode 0x%02x at %zu", op,
				 r.pos - 1);
		}
	}
	assert_int_equal(r.pos, len);
}

static void test_dsdt_s5(void **state)
{
	/* Name (_S5_, Package (0x04) { 0x05, 0x05, Zero, Zero }) */
	static const uint8_t s5[] = {
		0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
		0x0a, SLP_TYP_S5, 0x0a, SLP_TYP_S5, 0x00, 0x00,
	};
	struct dsdt_info d;
	const uint8_t *p;
	struct tables t;
	uint32_t len;
	struct vm v;

	(void)state;
	vm_init(&v, FAKE_RAM);
	build(&v, 1, &t);
	len = rd32(gp(&v, t.dsdt, 8) + 4);
	p = gp(&v, t.dsdt, len);
	parse_dsdt(p + 36, len - 36, &d);
	assert_true(d.have_s5);
	assert_int_equal(d.s5_nelems, 4);
	assert_int_equal(d.s5[0], SLP_TYP_S5);
	assert_int_equal(d.s5[1], SLP_TYP_S5);
	assert_non_null(memmem(p + 36, len - 36, s5, sizeof(s5)));
	vm_free(&v);
}

static void test_bad_config(void **state)
{
	struct acpi_config c = { 0 };
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
	c.ncpus = 1;
	c.pci_ecam_base = 0xb0000000;
	err.msg[0] = '\0';
	assert_int_equal(acpi_build(&v.m, &c, &rsdp, &err), -1);
	assert_true(err.msg[0] != '\0');
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
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct acpi_config c = { .ncpus = counts[i] };
		uint64_t need = 0;
		size_t size;

		/* How much do the tables take? */
		build(&v, counts[i], &t);
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
					fail_msg("%u vCPUs fit in %zu < %llu bytes",
						 counts[i], size,
						 (unsigned long long)need);
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

/* Tables for 255 CPUs, then for 1 CPU in the same RAM: nothing stale. */
static void test_rebuild(void **state)
{
	struct tables t;
	struct vm v;

	(void)state;
	vm_init(&v, FAKE_RAM);
	build(&v, 255, &t);
	build(&v, 1, &t);
	assert_int_equal(rd32(gp(&v, t.madt, 8) + 4),
			 44 + 8 + 12 + 2 * 10 + 6);
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

/* VESSEL_ACPI_DUMP=dir: write each table to dir/SIG.dat for `iasl -d`. */
static void test_dump(void **state)
{
	const char *dir = getenv("VESSEL_ACPI_DUMP");
	struct tables t;
	struct vm v;

	(void)state;
	if (!dir)
		return;
	vm_init(&v, FAKE_RAM);
	build(&v, 4, &t);
	for (unsigned i = 0; i < t.nr; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.dat", dir, t.r[i].what);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(gp(&v, t.r[i].gpa, t.r[i].len), 1,
					t.r[i].len, f), t.r[i].len);
		assert_int_equal(fclose(f), 0);
	}
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
		cmocka_unit_test(test_dsdt_s5),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_small_ram),
		cmocka_unit_test(test_area_too_small),
		cmocka_unit_test(test_rebuild),
		cmocka_unit_test(test_aml_pkglen),
		cmocka_unit_test(test_aml_encodings),
		cmocka_unit_test(test_aml_errors),
		cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Helpers for the loader tests: fenced buffers (an inaccessible page on each
 * side, so a stray read or write faults even without ASan), fake guest RAM
 * built on them, and kernel images synthesised in memory from the boot
 * protocol and ELF layouts. Include after <cmocka.h>. */
#ifndef VESSEL_TEST_FAKE_KERNEL_H
#define VESSEL_TEST_FAKE_KERNEL_H

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../boot/layout.h"
#include "../../vmm/memory.h"
#include "le_bytes.h"

#define GARBAGE		0xa5	/* fresh fake RAM holds this */
#define PAGE		4096UL

/* A buffer of len bytes whose start (FENCE_START) or end (FENCE_END)
 * touches an inaccessible page. */
enum fence_side { FENCE_START, FENCE_END };

struct fenced {
	uint8_t *map;
	size_t map_len;
	uint8_t *p;
	size_t len;
};

static inline void fenced_alloc(struct fenced *f, size_t len,
				enum fence_side side)
{
	size_t body = (len + PAGE - 1) & ~(PAGE - 1);

	if (!body)
		body = PAGE;
	f->map_len = body + 2 * PAGE;
	f->map = mmap(NULL, f->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(f->map != MAP_FAILED);
	assert_int_equal(mprotect(f->map, PAGE, PROT_NONE), 0);
	assert_int_equal(mprotect(f->map + PAGE + body, PAGE, PROT_NONE), 0);
	f->len = len;
	f->p = side == FENCE_START ? f->map + PAGE : f->map + PAGE + body - len;
}

static inline void fenced_free(struct fenced *f)
{
	munmap(f->map, f->map_len);
	memset(f, 0, sizeof(*f));
}

/* A fenced copy of an image, so the loader reads it from a bounded place. */
static inline void fenced_copy(struct fenced *f, const uint8_t *img, size_t len,
			       enum fence_side side)
{
	fenced_alloc(f, len, side);
	memcpy(f->p, img, len);
}

/* Fake guest RAM: low RAM is filled with GARBAGE and followed by a guard
 * page. RAM above 3 GiB is mapped MAP_NORESERVE and left untouched (zero),
 * so large guests cost only the pages a test writes. */
struct fake_vm {
	struct fenced ram;
	struct gmem m;
	uint64_t size;
};

static inline void fake_vm_init(struct fake_vm *v, uint64_t size)
{
	uint64_t low = size < MMIO_HOLE_START ? size : MMIO_HOLE_START;

	fenced_alloc(&v->ram, size, FENCE_END);
	/* Huge pages where the kernel gives them: a fault per 2 MiB, not per
	 * 4 KiB, for the memset (the suite took 20 s in page faults). */
	(void)madvise(v->ram.map, v->ram.map_len, MADV_HUGEPAGE);
	if (size <= 256ULL << 20)
		memset(v->ram.p, GARBAGE, low);
	v->size = size;
	gmem_init_fake(&v->m, v->ram.p, size);
}

static inline void fake_vm_free(struct fake_vm *v)
{
	fenced_free(&v->ram);
}

/* Host pointer of guest range that must be RAM */
static inline uint8_t *gpa_ptr(const struct fake_vm *v, uint64_t gpa, size_t len)
{
	uint8_t *p = gmem_ptr(&v->m, gpa, len);

	assert_non_null(p);
	return p;
}

/* First guest address in [from, to) whose byte is not GARBAGE, or to. */
static inline uint64_t first_touched(const struct fake_vm *v, uint64_t from,
				     uint64_t to)
{
	const uint8_t *p = gpa_ptr(v, from, to - from);

	for (uint64_t i = 0; i < to - from; i++)
		if (p[i] != GARBAGE)
			return from + i;
	return to;
}

static inline void assert_ram_untouched(const struct fake_vm *v)
{
	uint64_t end = v->size < MMIO_HOLE_START ? v->size : MMIO_HOLE_START;
	uint64_t at = first_touched(v, 0, end);

	if (at != end)
		fail_msg("guest RAM written at 0x%llx", (unsigned long long)at);
}

/* A recognisable, position-dependent byte pattern */
static inline uint8_t pattern_byte(uint64_t i, uint8_t seed)
{
	return (uint8_t)(i * 131 + (i >> 9) + seed) | 1;	/* never 0 */
}

static inline void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(i, seed);
}

/* A temporary directory holding files for one test; removed by td_free. */
struct tmpdir {
	char path[64];
	char files[4][128];
	unsigned n;
};

static inline void td_init(struct tmpdir *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "/tmp/vessel-unit-XXXXXX");
	assert_non_null(mkdtemp(t->path));
}

static inline const char *td_file(struct tmpdir *t, const char *name,
				  const void *data, size_t len)
{
	char buf[sizeof(t->files[0])];
	char *path;
	int fd;

	assert_true(t->n < 4);
	assert_true(strlen(t->path) + 1 + strlen(name) < sizeof(buf));
	if (snprintf(buf, sizeof(buf), "%s/%s", t->path, name) >= (int)sizeof(buf))
		fail();
	path = t->files[t->n++];
	memcpy(path, buf, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static inline void td_free(struct tmpdir *t)
{
	for (unsigned i = 0; i < t->n; i++)
		unlink(t->files[i]);
	rmdir(t->path);
}

/*
 * bzImage: setup_sects+1 sectors of real-mode setup holding the setup header
 * at 0x1f1, then the protected-mode kernel ("payload"). Offsets from the x86
 * boot protocol, written here independently of boot/bootparams.h.
 */
struct fake_bz {
	uint8_t setup_sects;	/* 0 means 4 */
	uint8_t hdr_len;	/* byte at 0x201: header ends at 0x202 + this */
	uint16_t version;
	uint8_t loadflags;
	uint8_t relocatable;
	uint16_t xloadflags;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	size_t payload_len;
};

#define FBZ_PAYLOAD_SEED	0x3c
#define FBZ_SETUP_SEED		0x71

static inline void fake_bz_defaults(struct fake_bz *k)
{
	*k = (struct fake_bz){
		.setup_sects = 3,
		.hdr_len = 0x6a,		/* 2.15 header: ends at 0x26c */
		.version = 0x020f,
		.loadflags = 0,
		.relocatable = 1,
		.xloadflags = 0x0001 | 0x0002,	/* KERNEL_64, CAN_BE_LOADED_ABOVE_4G */
		.pref_address = 0x1000000,
		.init_size = 0x200000,
		.cmdline_size = 2047,
		.initrd_addr_max = 0x7fffffff,
		.payload_len = 0x10000 + 0x234,
	};
}

static inline size_t fake_bz_setup_size(const struct fake_bz *k)
{
	return ((size_t)(k->setup_sects ? k->setup_sects : 4) + 1) * 512;
}

static inline size_t fake_bz_size(const struct fake_bz *k)
{
	return fake_bz_setup_size(k) + k->payload_len;
}

/* Write the image into img[0, fake_bz_size(k)). The setup area outside the
 * named fields holds a pattern, so a copied header is recognisable. */
static inline void fake_bz_write(const struct fake_bz *k, uint8_t *img)
{
	size_t setup = fake_bz_setup_size(k);

	fill_pattern(img, setup, FBZ_SETUP_SEED);
	img[0x1f1] = k->setup_sects;
	set16(img + 0x1fa, 0xfffd);		/* vid_mode: "ask" */
	set16(img + 0x1fe, 0xaa55);		/* boot_flag */
	img[0x200] = 0xeb;			/* jmp short */
	img[0x201] = k->hdr_len;
	memcpy(img + 0x202, "HdrS", 4);
	set16(img + 0x206, k->version);
	img[0x210] = 0;				/* type_of_loader */
	img[0x211] = k->loadflags;
	set32(img + 0x214, 0x100000);		/* code32_start */
	set32(img + 0x218, 0);			/* ramdisk_image */
	set32(img + 0x21c, 0);			/* ramdisk_size */
	set16(img + 0x224, 0);			/* heap_end_ptr */
	set32(img + 0x228, 0);			/* cmd_line_ptr */
	set32(img + 0x22c, k->initrd_addr_max);
	set32(img + 0x230, 0x200000);		/* kernel_alignment */
	img[0x234] = k->relocatable;
	img[0x235] = 21;			/* min_alignment */
	set16(img + 0x236, k->xloadflags);
	set32(img + 0x238, k->cmdline_size);
	set32(img + 0x23c, 0);			/* hardware_subarch */
	set64(img + 0x240, 0);			/* hardware_subarch_data */
	set64(img + 0x250, 0);			/* setup_data */
	set64(img + 0x258, k->pref_address);
	set32(img + 0x260, k->init_size);
	fill_pattern(img + setup, k->payload_len, FBZ_PAYLOAD_SEED);
}

/* A fenced bzImage (its end touches a guard page) */
static inline void fake_bz_make(const struct fake_bz *k, struct fenced *f)
{
	fenced_alloc(f, fake_bz_size(k), FENCE_END);
	fake_bz_write(k, f->p);
}

/*
 * ELF64 vmlinux for the PVH entry: the Ehdr, the program headers (PT_LOAD
 * then PT_NOTE) right after it, the segment's bytes at FELF_SEG_OFF, and the
 * notes last.
 */
#define FELF_PHOFF	64
#define FELF_SEG_OFF	0x1000
#define FELF_SEED	0x5e
#define FELF_NOTES_MAX	256

struct fake_elf {
	uint64_t paddr, filesz, memsz;
	uint8_t notes[FELF_NOTES_MAX];
	size_t notes_len;
};

/* Append one note: 12-byte header, name padded to 4, desc padded to 4. */
static inline void felf_add_note(struct fake_elf *e, const char *name,
				 uint32_t type, const void *desc,
				 uint32_t descsz)
{
	uint32_t namesz = strlen(name) + 1;
	size_t need = 12 + ((namesz + 3) & ~3U) + ((descsz + 3) & ~3U);
	uint8_t *p = e->notes + e->notes_len;

	assert_true(e->notes_len + need <= FELF_NOTES_MAX);
	memset(p, 0, need);
	set32(p, namesz);
	set32(p + 4, descsz);
	set32(p + 8, type);
	memcpy(p + 12, name, namesz);
	memcpy(p + 12 + ((namesz + 3) & ~3U), desc, descsz);
	e->notes_len += need;
}

/* Defaults: a 12 KiB segment at 1 MiB with 8 KiB of bss; notes a GNU build
 * id, a Xen note of another type, then the PVH entry note. */
static inline void felf_defaults(struct fake_elf *e, uint32_t entry)
{
	static const uint8_t build_id[20] = { 0xb1, 0x1d };
	uint64_t virt = 0xffffffff81000000ULL;
	uint8_t pvh[4];

	memset(e, 0, sizeof(*e));
	e->paddr = 0x100000;
	e->filesz = 0x3000;
	e->memsz = 0x5000;
	felf_add_note(e, "GNU", 3, build_id, sizeof(build_id));
	felf_add_note(e, "Xen", 1, &virt, sizeof(virt));	/* ENTRY */
	set32(pvh, entry);
	felf_add_note(e, "Xen", 18, pvh, sizeof(pvh));	/* PHYS32_ENTRY */
}

static inline size_t felf_notes_off(const struct fake_elf *e)
{
	return FELF_SEG_OFF + ((e->filesz + 7) & ~7ULL);
}

/* Padded to 8 bytes after the notes, so an end-fenced image starts 8-byte
 * aligned like a malloc'd one; notes of a multiple of 8 end the file. */
static inline size_t felf_size(const struct fake_elf *e)
{
	return felf_notes_off(e) + ((e->notes_len + 7) & ~7ULL);
}

/* Offsets of the program headers in the image */
#define FELF_PH_LOAD	FELF_PHOFF
#define FELF_PH_NOTE	(FELF_PHOFF + 56)

static inline void felf_write(const struct fake_elf *e, uint8_t *img)
{
	size_t notes = felf_notes_off(e);
	uint8_t *ph;

	memset(img, 0, felf_size(e));
	memcpy(img, "\177ELF", 4);
	img[4] = 2;			/* ELFCLASS64 */
	img[5] = 1;			/* little-endian */
	img[6] = 1;			/* EV_CURRENT */
	set16(img + 16, 2);		/* ET_EXEC */
	set16(img + 18, 62);		/* EM_X86_64 */
	set32(img + 20, 1);
	set64(img + 24, 0xffffffff81000000ULL);	/* e_entry: virtual */
	set64(img + 32, FELF_PHOFF);
	set64(img + 40, 0);		/* no section headers */
	set16(img + 52, 64);		/* e_ehsize */
	set16(img + 54, 56);		/* e_phentsize */
	set16(img + 56, 2);		/* e_phnum */

	ph = img + FELF_PH_LOAD;
	set32(ph, 1);			/* PT_LOAD */
	set32(ph + 4, 7);		/* RWX */
	set64(ph + 8, FELF_SEG_OFF);
	set64(ph + 16, 0xffffffff81000000ULL);
	set64(ph + 24, e->paddr);
	set64(ph + 32, e->filesz);
	set64(ph + 40, e->memsz);
	set64(ph + 48, 0x200000);

	ph = img + FELF_PH_NOTE;
	set32(ph, 4);			/* PT_NOTE */
	set32(ph + 4, 4);
	set64(ph + 8, notes);
	set64(ph + 16, 0);
	set64(ph + 24, 0);
	set64(ph + 32, e->notes_len);
	set64(ph + 40, e->notes_len);
	set64(ph + 48, 4);

	fill_pattern(img + FELF_SEG_OFF, e->filesz, FELF_SEED);
	memcpy(img + notes, e->notes, e->notes_len);
}

/* A fenced ELF image on the given side */
static inline void felf_make(const struct fake_elf *e, struct fenced *f,
			     enum fence_side side)
{
	fenced_alloc(f, felf_size(e), side);
	felf_write(e, f->p);
}

#endif

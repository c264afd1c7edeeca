/* GPT writer (gpt.h): little-endian fields, CRC32 (zlib's) over the
 * entry array and the header; GUIDs stored with their first three fields
 * little-endian. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "gpt.h"
#include "../base/sha256.h"

const struct guid GPT_TYPE_ESP = { { 0xc1, 0x2a, 0x73, 0x28, 0xf8, 0x1f,
	0x11, 0xd2, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b } };
const struct guid GPT_TYPE_LINUX_DATA = { { 0x0f, 0xc6, 0x3d, 0xaf, 0x84,
	0x83, 0x47, 0x72, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 } };

#define ENTRY_SIZE 128u
#define ENTRY_SECTORS (GPT_ENTRIES * ENTRY_SIZE / GPT_SECTOR)

struct guid guid_derive(const char *seed)
{
	uint8_t d[SHA256_LEN];
	struct guid g;

	sha256(seed, strlen(seed), d);
	memcpy(g.b, d, 16);
	g.b[6] = (uint8_t)((g.b[6] & 0x0f) | 0x40);
	g.b[8] = (uint8_t)((g.b[8] & 0x3f) | 0x80);
	return g;
}

void guid_text(const struct guid *g, char out[37])
{
	const uint8_t *b = g->b;

	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		 b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static void put_guid(uint8_t *p, const struct guid *g)
{
	const uint8_t *b = g->b;

	p[0] = b[3]; p[1] = b[2]; p[2] = b[1]; p[3] = b[0];
	p[4] = b[5]; p[5] = b[4];
	p[6] = b[7]; p[7] = b[6];
	memcpy(p + 8, b + 8, 8);
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off,
		      struct error *err)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n <= 0)
			return err_sys(err, "gpt: write");
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void header(uint8_t *h, uint64_t my_lba, uint64_t alt_lba,
		   uint64_t first, uint64_t last, const struct guid *disk,
		   uint64_t entries_lba, uint32_t entries_crc)
{
	memset(h, 0, GPT_SECTOR);
	memcpy(h, "EFI PART", 8);
	put32(h + 8, 0x00010000);
	put32(h + 12, 92);
	put64(h + 24, my_lba);
	put64(h + 32, alt_lba);
	put64(h + 40, first);
	put64(h + 48, last);
	put_guid(h + 56, disk);
	put64(h + 72, entries_lba);
	put32(h + 80, GPT_ENTRIES);
	put32(h + 84, ENTRY_SIZE);
	put32(h + 88, entries_crc);
	put32(h + 16, (uint32_t)crc32(0, h, 92));
}

int gpt_write(int fd, uint64_t disk_bytes, const struct guid *disk,
	      const struct gpt_part *parts, size_t nparts, struct error *err)
{
	uint64_t sectors = disk_bytes / GPT_SECTOR;
	uint64_t last_usable = sectors - 1 - ENTRY_SECTORS - 1;
	uint8_t mbr[GPT_SECTOR] = { 0 }, hdr[GPT_SECTOR];
	uint8_t *ent;
	uint32_t crc;
	int r;

	if (disk_bytes % GPT_SECTOR || sectors < 2 * (1 + ENTRY_SECTORS) + 2)
		return err_set(err, "gpt: bad disk size %llu",
			       (unsigned long long)disk_bytes);
	if (nparts > GPT_ENTRIES)
		return err_set(err, "gpt: too many partitions");
	ent = calloc(GPT_ENTRIES, ENTRY_SIZE);
	if (!ent)
		return err_set(err, "out of memory");
	for (size_t i = 0; i < nparts; i++) {
		const struct gpt_part *p = &parts[i];
		uint8_t *e = ent + i * ENTRY_SIZE;
		size_t nlen = strlen(p->name);

		if (p->first_lba < GPT_FIRST_LBA || p->last_lba > last_usable ||
		    p->first_lba > p->last_lba || nlen > 36 ||
		    (i && p->first_lba <= parts[i - 1].last_lba)) {
			free(ent);
			return err_set(err, "gpt: partition %zu does not fit", i + 1);
		}
		put_guid(e, &p->type);
		put_guid(e + 16, &p->unique);
		put64(e + 32, p->first_lba);
		put64(e + 40, p->last_lba);
		for (size_t c = 0; c < nlen; c++)
			put16(e + 56 + 2 * c, (uint8_t)p->name[c]);
	}
	crc = (uint32_t)crc32(0, ent, GPT_ENTRIES * ENTRY_SIZE);

	/* Protective MBR: one partition of type 0xEE over the whole disk. */
	mbr[446 + 2] = 0x02;                    /* CHS start 0/0/2 */
	mbr[446 + 4] = 0xee;
	mbr[446 + 5] = 0xff; mbr[446 + 6] = 0xff; mbr[446 + 7] = 0xff;
	put32(mbr + 446 + 8, 1);
	put32(mbr + 446 + 12, sectors - 1 > 0xffffffffu ? 0xffffffffu :
			      (uint32_t)(sectors - 1));
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	r = pwrite_all(fd, mbr, sizeof(mbr), 0, err);

	header(hdr, 1, sectors - 1, GPT_FIRST_LBA, last_usable, disk, 2, crc);
	if (r == 0)
		r = pwrite_all(fd, hdr, sizeof(hdr), GPT_SECTOR, err);
	if (r == 0)
		r = pwrite_all(fd, ent, GPT_ENTRIES * ENTRY_SIZE, 2 * GPT_SECTOR, err);
	header(hdr, sectors - 1, 1, GPT_FIRST_LBA, last_usable, disk,
	       sectors - 1 - ENTRY_SECTORS, crc);
	if (r == 0)
		r = pwrite_all(fd, ent, GPT_ENTRIES * ENTRY_SIZE,
			       (sectors - 1 - ENTRY_SECTORS) * GPT_SECTOR, err);
	if (r == 0)
		r = pwrite_all(fd, hdr, sizeof(hdr), (sectors - 1) * GPT_SECTOR, err);
	free(ent);
	return r;
}

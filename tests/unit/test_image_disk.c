/* Unit tests for the disk image's pieces: the GPT writer
 * (tools/appliance/gpt.c) read back (protective MBR, both headers and
 * their CRCs, the entries, GUID byte order, UTF-16 names, refusals), the
 * derived GUIDs, and the PE header helpers of the UKI
 * (tools/appliance/uki_x86.c): the stub's image end, the timestamp and
 * checksum rewrite, hostile headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "../../tools/appliance/gpt.h"
#include "../../tools/appliance/uki_x86.h"

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void check_header(const uint8_t *h, uint64_t my, uint64_t alt,
			 uint64_t entries, const uint8_t *ent)
{
	uint8_t copy[92];

	assert_memory_equal(h, "EFI PART", 8);
	assert_int_equal(le32(h + 12), 92);
	memcpy(copy, h, 92);
	memset(copy + 16, 0, 4);
	assert_int_equal(le32(h + 16), (uint32_t)crc32(0, copy, 92));
	assert_int_equal(le64(h + 24), my);
	assert_int_equal(le64(h + 32), alt);
	assert_int_equal(le64(h + 72), entries);
	assert_int_equal(le32(h + 80), 128);
	assert_int_equal(le32(h + 84), 128);
	assert_int_equal(le32(h + 88), (uint32_t)crc32(0, ent, 128 * 128));
}

static void test_gpt_roundtrip(void **state)
{
	uint64_t size = 8 << 20, sectors = size / 512;
	int fd = memfd_create("disk", 0);
	struct guid disk = guid_derive("disk");
	struct gpt_part parts[2] = {
		{ .type = GPT_TYPE_ESP, .unique = guid_derive("a"),
		  .first_lba = 2048, .last_lba = 4095, .name = "EFI System Partition" },
		{ .type = GPT_TYPE_LINUX_DATA, .unique = guid_derive("b"),
		  .first_lba = 4096, .last_lba = sectors - 2048, .name = "vessel-data" },
	};
	struct error err = { 0 };
	uint8_t *d;

	(void)state;
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(gpt_write(fd, size, &disk, parts, 2, &err), 0);
	d = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(d != MAP_FAILED);
	/* Protective MBR. */
	assert_int_equal(d[510], 0x55);
	assert_int_equal(d[511], 0xaa);
	assert_int_equal(d[446 + 4], 0xee);
	assert_int_equal(le32(d + 446 + 8), 1);
	assert_int_equal(le32(d + 446 + 12), sectors - 1);
	/* Primary at LBA 1, entries at 2; backup entries before the last LBA. */
	check_header(d + 512, 1, sectors - 1, 2, d + 1024);
	check_header(d + (sectors - 1) * 512, sectors - 1, 1, sectors - 33,
		     d + (sectors - 33) * 512);
	assert_memory_equal(d + 1024, d + (sectors - 33) * 512, 128 * 128);
	/* Entry 1: the ESP type, mixed-endian: C12A7328-F81F-11D2-... */
	static const uint8_t esp[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
					 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b };
	assert_memory_equal(d + 1024, esp, 16);
	assert_int_equal(le64(d + 1024 + 32), 2048);
	assert_int_equal(le64(d + 1024 + 40), 4095);
	/* Entry 2's name in UTF-16LE. */
	assert_int_equal(d[1024 + 128 + 56], 'v');
	assert_int_equal(d[1024 + 128 + 57], 0);
	assert_int_equal(d[1024 + 128 + 56 + 2 * 10], 'a');
	/* Entry 3 is empty. */
	for (int i = 0; i < 128; i++)
		assert_int_equal(d[1024 + 256 + i], 0);
	munmap(d, size);
	close(fd);
}

static void test_gpt_refuses(void **state)
{
	int fd = memfd_create("disk", 0);
	struct guid disk = guid_derive("disk");
	struct gpt_part p = { .type = GPT_TYPE_ESP, .unique = guid_derive("a"),
			      .first_lba = 2048, .last_lba = 100000, .name = "x" };
	struct gpt_part two[2] = { p, p };
	struct error err = { 0 };

	(void)state;
	/* Past the usable end, before LBA 34, overlapping, odd sizes. */
	assert_int_equal(gpt_write(fd, 8 << 20, &disk, &p, 1, &err), -1);
	p.last_lba = 4095;
	p.first_lba = 10;
	assert_int_equal(gpt_write(fd, 8 << 20, &disk, &p, 1, &err), -1);
	two[0].last_lba = 4095;
	two[1].first_lba = 4095;
	two[1].last_lba = 5000;
	assert_int_equal(gpt_write(fd, 8 << 20, &disk, two, 2, &err), -1);
	assert_int_equal(gpt_write(fd, (8 << 20) + 1, &disk, &p, 0, &err), -1);
	p.first_lba = 2048;
	p.name = "a name far longer than the thirty-six characters allowed";
	assert_int_equal(gpt_write(fd, 8 << 20, &disk, &p, 1, &err), -1);
	close(fd);
}

static void test_guid_derive(void **state)
{
	struct guid a = guid_derive("vessel:x:disk"), b = guid_derive("vessel:x:disk");
	struct guid c = guid_derive("vessel:y:disk");
	char text[37];

	(void)state;
	assert_memory_equal(a.b, b.b, 16);
	assert_memory_not_equal(a.b, c.b, 16);
	assert_int_equal(a.b[6] >> 4, 4);          /* version 4 */
	assert_int_equal(a.b[8] >> 6, 2);          /* RFC 4122 variant */
	guid_text(&a, text);
	assert_int_equal(strlen(text), 36);
	assert_int_equal(text[8], '-');
	assert_int_equal(text[14], '4');
}

/* A minimal PE32+ header: MZ, e_lfanew 0x80, "PE\0\0", COFF, optional. */
static void fake_pe(uint8_t *buf, size_t len)
{
	memset(buf, 0, len);
	buf[0] = 'M';
	buf[1] = 'Z';
	buf[0x3c] = 0x80;
	memcpy(buf + 0x80, "PE\0\0", 4);
	buf[0x80 + 24] = 0x0b;
	buf[0x80 + 25] = 0x02;
	buf[0x80 + 24 + 24 + 2] = 0x40;            /* ImageBase 0x400000 */
	buf[0x80 + 24 + 56 + 1] = 0x93;            /* SizeOfImage 0x19300 */
	buf[0x80 + 24 + 56 + 2] = 0x01;
	buf[0x80 + 8] = 0x12;                      /* a timestamp */
}

static void test_pe_header(void **state)
{
	uint8_t buf[1024];
	struct error err = { 0 };
	uint64_t end;
	uint32_t sum = 0;

	(void)state;
	fake_pe(buf, sizeof(buf));
	assert_int_equal(pe_image_end(buf, sizeof(buf), &end, &err), 0);
	assert_int_equal(end, 0x400000 + 0x19300);
	assert_int_equal(pe_set_timestamp(buf, sizeof(buf), 0, &err), 0);
	assert_int_equal(le32(buf + 0x80 + 8), 0);
	/* The checksum: 16-bit folded sum of the file with the field zero,
	 * plus the length. */
	for (size_t i = 0; i < sizeof(buf); i += 2) {
		if (i >= 0x80 + 88 && i < 0x80 + 92)
			continue;
		sum += buf[i] | buf[i + 1] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	assert_int_equal(le32(buf + 0x80 + 88), sum + sizeof(buf));
	/* Hostile headers. */
	fake_pe(buf, sizeof(buf));
	buf[0x3c] = 0xff;
	buf[0x3d] = 0xff;
	assert_int_equal(pe_image_end(buf, sizeof(buf), &end, &err), -1);
	assert_int_equal(pe_set_timestamp(buf, sizeof(buf), 0, &err), -1);
	fake_pe(buf, sizeof(buf));
	buf[0x80 + 24] = 0x0b;
	buf[0x80 + 25] = 0x01;                     /* PE32, not PE32+ */
	assert_int_equal(pe_image_end(buf, sizeof(buf), &end, &err), -1);
	assert_int_equal(pe_image_end(buf, 0x90, &end, &err), -1);
	buf[0] = 'X';
	assert_int_equal(pe_image_end(buf, sizeof(buf), &end, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpt_roundtrip),
		cmocka_unit_test(test_gpt_refuses),
		cmocka_unit_test(test_guid_derive),
		cmocka_unit_test(test_pe_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

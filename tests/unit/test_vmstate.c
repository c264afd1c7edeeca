/* Unit tests for the state image (vmm/vmstate.c): the writer's byte
 * layout, round trips, writer misuse, and the reader against hostile
 * images: every bit flipped, every truncation, a newer format, bad
 * section headers and lengths (with a valid checksum), missing sections,
 * reads past a section's end and section versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "../../vmm/vmstate.h"

#define HDR 24
#define SEC 40

static const uint8_t blob[] = "general registers, as KVM gives them";

/* An image with three sections: vcpu.0 (version 2, every put), vm.clock
 * (version 1, empty) and serial (version 1, a blob). */
static void build(struct vmstate_writer *w)
{
	struct error err = { 0 };

	vmstate_writer_init(w);
	vmstate_begin(w, "vcpu.0", 2);
	vmstate_put_u8(w, 0xab);
	vmstate_put_u16(w, 0xbeef);
	vmstate_put_u32(w, 0xdeadbeef);
	vmstate_put_u64(w, 0x0123456789abcdefULL);
	vmstate_put(w, blob, sizeof(blob));
	vmstate_end(w);
	vmstate_begin(w, "vm.clock", 1);
	vmstate_end(w);
	vmstate_begin(w, "serial", 1);
	vmstate_put(w, "abc", 3);
	vmstate_end(w);
	assert_int_equal(vmstate_finish(w, &err), 0);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Make the trailer match whatever the test did to the image. */
static void reseal(uint8_t *b, size_t len)
{
	wr32(b + len - 4, (uint32_t)crc32(0, b, (uInt)(len - 4)));
}

static uint8_t *copy(const struct vmstate_writer *w)
{
	uint8_t *b = malloc(w->len);

	assert_non_null(b);
	memcpy(b, w->buf, w->len);
	return b;
}

/* Open must fail as bad input with a message containing want. */
static void refused(const uint8_t *b, size_t len, const char *want)
{
	struct vmstate_reader r;
	struct error err = { 0 };

	assert_int_equal(vmstate_open(&r, b, len, &err), -1);
	assert_int_equal(err.input, 1);
	if (!strstr(err.msg, want))
		fail_msg("len %zu: \"%s\" does not say \"%s\"", len, err.msg, want);
}

/* The exact bytes: header, section headers, little-endian, crc32 */
static void test_layout(void **state)
{
	struct vmstate_writer w;
	size_t plen;

	(void)state;
	build(&w);
	plen = 3 * SEC + (1 + 2 + 4 + 8 + sizeof(blob)) + 3;
	assert_int_equal(w.len, HDR + plen + 4);
	assert_memory_equal(w.buf, "VESSELST", 8);
	assert_int_equal(rd32(w.buf + 8), VMSTATE_FORMAT_VERSION);
	assert_int_equal(rd32(w.buf + 12), 0);
	assert_int_equal(rd32(w.buf + 16), plen);
	assert_int_equal(rd32(w.buf + 20), 0);
	assert_string_equal((char *)w.buf + HDR, "vcpu.0");
	for (int i = 6; i < 32; i++)
		assert_int_equal(w.buf[HDR + i], 0);
	assert_int_equal(rd32(w.buf + HDR + 32), 2);
	assert_int_equal(rd32(w.buf + HDR + 36), 15 + sizeof(blob));
	{
		static const uint8_t le[] = { 0xab, 0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde,
					      0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01 };
		assert_memory_equal(w.buf + HDR + SEC, le, sizeof(le));
	}
	assert_int_equal(rd32(w.buf + w.len - 4),
			 (uint32_t)crc32(0, w.buf, (uInt)(w.len - 4)));
	vmstate_writer_free(&w);
	assert_null(w.buf);
}

static void test_round_trip(void **state)
{
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err = { 0 };
	uint8_t u8, back[sizeof(blob)];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	size_t cursor = 0;
	const char *order[] = { "vcpu.0", "vm.clock", "serial" };

	(void)state;
	build(&w);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	assert_int_equal(r.format_version, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vmstate_next(&r, &cursor, &s), 1);
		assert_string_equal(s.id, order[i]);
	}
	assert_int_equal(vmstate_next(&r, &cursor, &s), 0);
	assert_int_equal(vmstate_next(&r, &cursor, &s), 0);

	assert_int_equal(vmstate_find(&r, "vcpu.0", &s, &err), 0);
	assert_int_equal(s.version, 2);
	assert_int_equal(vmstate_get_u8(&s, &u8, &err), 0);
	assert_int_equal(u8, 0xab);
	assert_int_equal(vmstate_get_u16(&s, &u16, &err), 0);
	assert_int_equal(u16, 0xbeef);
	assert_int_equal(vmstate_get_u32(&s, &u32, &err), 0);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(vmstate_get_u64(&s, &u64, &err), 0);
	assert_true(u64 == 0x0123456789abcdefULL);
	assert_int_equal(vmstate_get(&s, back, sizeof(back), &err), 0);
	assert_memory_equal(back, blob, sizeof(blob));
	assert_int_equal(s.pos, s.len);
	assert_int_equal(vmstate_get(&s, back, 0, &err), 0);

	assert_int_equal(vmstate_find(&r, "vm.clock", &s, &err), 0);
	assert_int_equal(s.len, 0);
	assert_int_equal(vmstate_find(&r, "serial", &s, &err), 0);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.data, "abc", 3);
	vmstate_writer_free(&w);
}

/* An image without sections, and one section large enough to grow the
 * buffer many times. */
static void test_empty_and_large(void **state)
{
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err = { 0 };
	size_t cursor = 0, big = 3 << 20;
	uint8_t *data = malloc(big);

	(void)state;
	assert_non_null(data);
	vmstate_writer_init(&w);
	assert_int_equal(vmstate_finish(&w, &err), 0);
	assert_int_equal(w.len, HDR + 4);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	assert_int_equal(vmstate_next(&r, &cursor, &s), 0);
	vmstate_writer_free(&w);

	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 12));
	vmstate_writer_init(&w);
	vmstate_begin(&w, "virtio-blk.0", 1);
	for (size_t i = 0; i < big; i += 1000)
		vmstate_put(&w, data + i, big - i < 1000 ? big - i : 1000);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), 0);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	assert_int_equal(vmstate_find(&r, "virtio-blk.0", &s, &err), 0);
	assert_int_equal(s.len, big);
	assert_memory_equal(s.data, data, big);
	vmstate_writer_free(&w);
	free(data);
}

/* Misuse makes finish fail: ids of 0 and 32 bytes, nesting, puts outside
 * a section, end without begin, a section left open, an oversized image. */
static void test_writer_failures(void **state)
{
	static const char id31[] = "0123456789012345678901234567890";
	static const char id32[] = "01234567890123456789012345678901";
	struct vmstate_writer w;
	struct error err = { 0 };
	void *big;

	(void)state;
	vmstate_writer_init(&w);	/* 31 bytes: fits */
	vmstate_begin(&w, id31, 1);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), 0);
	vmstate_writer_free(&w);

	vmstate_writer_init(&w);
	vmstate_begin(&w, id32, 1);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	assert_non_null(strstr(err.msg, "state image"));
	vmstate_writer_free(&w);

	vmstate_writer_init(&w);
	vmstate_begin(&w, "", 1);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	vmstate_writer_free(&w);

	vmstate_writer_init(&w);
	vmstate_begin(&w, "a", 1);
	vmstate_begin(&w, "b", 1);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	vmstate_writer_free(&w);

	vmstate_writer_init(&w);
	vmstate_put_u32(&w, 1);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	vmstate_writer_free(&w);

	vmstate_writer_init(&w);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	vmstate_writer_free(&w);

	vmstate_writer_init(&w);
	vmstate_begin(&w, "open", 1);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	vmstate_writer_free(&w);

	big = calloc(1, VMSTATE_MAX_SIZE);
	assert_non_null(big);
	vmstate_writer_init(&w);
	vmstate_begin(&w, "ram", 1);
	vmstate_put(&w, big, VMSTATE_MAX_SIZE);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	vmstate_writer_free(&w);
	vmstate_writer_init(&w);
	vmstate_begin(&w, "ram", 1);
	vmstate_put(&w, big, SIZE_MAX);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), -1);
	vmstate_writer_free(&w);
	free(big);
}

/* Every single-bit flip is refused as bad input. Outside the magic,
 * format version and length fields it is the checksum that catches it;
 * those fields are read before the checksum and say what they saw. */
static void test_bit_flips(void **state)
{
	struct vmstate_writer w;
	uint8_t *b;

	(void)state;
	build(&w);
	b = copy(&w);
	for (size_t i = 0; i < w.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct vmstate_reader r;
			struct error err = { 0 };

			b[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(vmstate_open(&r, b, w.len, &err), -1);
			assert_int_equal(err.input, 1);
			if (i < 8)
				assert_string_equal(err.msg, "not a vessel state file");
			else if (i < 12)
				assert_true(strstr(err.msg, "is newer than") ||
					    strstr(err.msg, "format 0"));
			else if (i >= 16 && i < 24)
				assert_true(strstr(err.msg, "truncated") ||
					    strstr(err.msg, "corrupted"));
			else
				assert_string_equal(err.msg, "checksum mismatch: "
						    "the state file is corrupted");
			b[i] ^= (uint8_t)(1 << bit);
		}
	}
	free(b);
	vmstate_writer_free(&w);
}

/* Every proper prefix is refused; the whole image plus a byte too. */
static void test_truncation(void **state)
{
	struct vmstate_writer w;
	uint8_t *b;

	(void)state;
	build(&w);
	for (size_t len = 0; len < w.len; len++) {
		b = malloc(len ? len : 1);	/* exact size: ASan sees overreads */
		assert_non_null(b);
		memcpy(b, w.buf, len);
		refused(b, len, len ? "truncated" : "not a vessel state file");
		free(b);
	}
	b = malloc(w.len + 1);
	assert_non_null(b);
	memcpy(b, w.buf, w.len);
	b[w.len] = 0;
	refused(b, w.len + 1, "corrupted");
	free(b);
	refused((const uint8_t *)"ELF\x7f", 4, "not a vessel state file");
	vmstate_writer_free(&w);
}

static void test_newer_format(void **state)
{
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct error err = { 0 };
	uint8_t *b;

	(void)state;
	build(&w);
	b = copy(&w);
	wr32(b + 8, 7);
	assert_int_equal(vmstate_open(&r, b, w.len, &err), -1);
	assert_int_equal(err.input, 1);
	assert_string_equal(err.msg, "state format 7 is newer than this vessel reads (1)");
	reseal(b, w.len);	/* with or without a valid checksum */
	refused(b, w.len, "state format 7 is newer than this vessel reads (1)");
	/* A newer format may be any length: the version comes first */
	refused(b, HDR, "state format 7 is newer");
	wr32(b + 8, 0);
	reseal(b, w.len);
	refused(b, w.len, "not a vessel state file");
	free(b);
	vmstate_writer_free(&w);
}

/* Damage that a valid checksum does not excuse. */
static void test_bad_sections(void **state)
{
	struct vmstate_writer w;
	uint8_t *b, *x;
	size_t s2 = HDR + SEC + 15 + sizeof(blob);	/* vm.clock's header */

	(void)state;
	build(&w);
	b = copy(&w);

	/* unknown flags */
	wr32(b + 12, 1);
	reseal(b, w.len);
	refused(b, w.len, "unknown flags 0x1");
	wr32(b + 12, 0);

	/* a section length past the end, by one and by 2^32 - 1 */
	wr32(b + s2 + 36, (uint32_t)(w.len - 4 - s2 - SEC + 1));
	reseal(b, w.len);
	refused(b, w.len, "vm.clock is");
	wr32(b + s2 + 36, 0xffffffff);
	reseal(b, w.len);
	refused(b, w.len, "more than the image holds");
	wr32(b + s2 + 36, 0);

	/* an id of 32 bytes without a NUL, an empty id, junk after the NUL */
	memset(b + s2, 'x', 32);
	reseal(b, w.len);
	refused(b, w.len, "no valid id");
	memset(b + s2, 0, 32);
	reseal(b, w.len);
	refused(b, w.len, "no valid id");
	memcpy(b + s2, "vm.clock\0y", 10);
	reseal(b, w.len);
	refused(b, w.len, "no valid id");

	/* the same id twice */
	memcpy(b + s2, "vcpu.0\0\0\0\0", 10);
	reseal(b, w.len);
	refused(b, w.len, "section vcpu.0 appears twice");
	memcpy(b + s2, "vm.clock\0\0", 10);
	reseal(b, w.len);
	{
		struct vmstate_reader r;
		struct error err = { 0 };

		assert_int_equal(vmstate_open(&r, b, w.len, &err), 0);
	}

	/* a section header cut short: 5 more payload bytes than sections */
	x = malloc(w.len + 5);
	assert_non_null(x);
	memcpy(x, b, w.len - 4);
	memcpy(x + w.len - 4, "vcpu.", 5);
	wr32(x + 16, rd32(x + 16) + 5);
	reseal(x, w.len + 5);
	refused(x, w.len + 5, "cut short");
	free(x);

	/* larger than a state file can be */
	x = calloc(1, (size_t)VMSTATE_MAX_SIZE + 1);
	assert_non_null(x);
	memcpy(x, b, HDR);
	refused(x, (size_t)VMSTATE_MAX_SIZE + 1, "larger than");
	free(x);
	free(b);
	vmstate_writer_free(&w);
}

static void test_missing_section(void **state)
{
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err = { 0 };

	(void)state;
	build(&w);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	assert_int_equal(vmstate_find(&r, "vm.pit", &s, &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "missing section vm.pit"));
	/* a prefix of an id is another id */
	assert_int_equal(vmstate_find(&r, "vcpu", &s, &err), -1);
	assert_int_equal(vmstate_find(&r, "vcpu.00", &s, &err), -1);
	vmstate_writer_free(&w);
}

/* Reads past the end fail, name the section and move nothing. */
static void test_get_past_end(void **state)
{
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err = { 0 };
	uint8_t b8 = 0x11, buf[8];
	uint16_t b16 = 0x2222;
	uint32_t b32 = 0x33333333;
	uint64_t b64 = 0x4444;

	(void)state;
	build(&w);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	assert_int_equal(vmstate_find(&r, "serial", &s, &err), 0);
	assert_int_equal(vmstate_get_u32(&s, &b32, &err), -1);
	assert_int_equal(err.input, 1);
	assert_string_equal(err.msg, "serial: truncated");
	assert_int_equal(b32, 0x33333333);
	assert_int_equal(s.pos, 0);
	assert_int_equal(vmstate_get_u64(&s, &b64, &err), -1);
	assert_int_equal(b64, 0x4444);
	assert_int_equal(vmstate_get_u16(&s, &b16, &err), 0);
	assert_int_equal(vmstate_get_u16(&s, &b16, &err), -1);
	assert_int_equal(b16, 'a' | 'b' << 8);
	assert_int_equal(vmstate_get_u8(&s, &b8, &err), 0);
	assert_int_equal(b8, 'c');
	assert_int_equal(vmstate_get_u8(&s, &b8, &err), -1);
	assert_int_equal(vmstate_get(&s, buf, SIZE_MAX, &err), -1);
	assert_int_equal(vmstate_get(&s, buf, 0, &err), 0);

	assert_int_equal(vmstate_find(&r, "vm.clock", &s, &err), 0);
	assert_int_equal(vmstate_get_u8(&s, &b8, &err), -1);
	assert_string_equal(err.msg, "vm.clock: truncated");
	vmstate_writer_free(&w);
}

static void test_check_version(void **state)
{
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err = { 0 };

	(void)state;
	build(&w);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	assert_int_equal(vmstate_find(&r, "vcpu.0", &s, &err), 0);
	assert_int_equal(vmstate_check_version(&s, 2, &err), 0);
	assert_int_equal(vmstate_check_version(&s, 3, &err), 0);
	assert_int_equal(vmstate_check_version(&s, 1, &err), -1);
	assert_int_equal(err.input, 1);
	assert_string_equal(err.msg, "vcpu.0: version 2, this vessel reads up to 1");
	vmstate_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_and_large),
		cmocka_unit_test(test_writer_failures),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_newer_format),
		cmocka_unit_test(test_bad_sections),
		cmocka_unit_test(test_missing_section),
		cmocka_unit_test(test_get_past_end),
		cmocka_unit_test(test_check_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* libFuzzer target: the state image reader (vmm/vmstate.c). The input is
 * a state image; the first byte, when it is not 'V', instead picks a
 * repair: the rest gets a valid crc32 trailer, so the fuzzer gets past
 * the checksum to the section headers. An image that opens is walked
 * section by section; every section is found by id, its version checked
 * and its payload read with every get until they fail. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../vmm/vmstate.h"

static void walk(const struct vmstate_reader *r)
{
	struct vmstate_section s, f;
	struct error err;
	size_t cursor = 0, total = 0;
	uint8_t buf[64];
	bool named = false;     /* the image has a section "no.such.section" */

	while (vmstate_next(r, &cursor, &s) > 0) {
		uint64_t v64;
		uint32_t v32;
		uint16_t v16;
		uint8_t v8;

		if (s.id[0] == 0 || memchr(s.id, 0, VMSTATE_ID_LEN) == NULL)
			__builtin_trap();	/* open lets no bad id through */
		if (vmstate_find(r, s.id, &f, &err) < 0 || f.data != s.data)
			__builtin_trap();	/* ids are unique and findable */
		named |= !strncmp(s.id, "no.such.section", VMSTATE_ID_LEN);
		vmstate_check_version(&s, 1, &err);
		for (;;) {
			if (vmstate_get_u8(&s, &v8, &err) < 0 ||
			    vmstate_get_u16(&s, &v16, &err) < 0 ||
			    vmstate_get_u32(&s, &v32, &err) < 0 ||
			    vmstate_get_u64(&s, &v64, &err) < 0 ||
			    vmstate_get(&s, buf, v8 % sizeof(buf), &err) < 0)
				break;
		}
		if (s.pos > s.len || !err.input)
			__builtin_trap();
		total += s.len;
		if (total > r->len)
			__builtin_trap();
	}
	/* An id no section has is not found (the fuzzer can make one that
	 * has it: then it is found, by the check above). */
	if (!named && vmstate_find(r, "no.such.section", &f, &err) == 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmstate_reader r;
	struct error err;
	uint8_t *copy;

	if (vmstate_open(&r, data, size, &err) == 0)
		walk(&r);
	else if (!err.msg[0] || !err.input)
		__builtin_trap();	/* a refusal says why, as bad input */
	if (size < 5 || data[0] == 'V')
		return 0;
	/* The repair: data[1..] with its last 4 bytes a valid crc32 */
	copy = malloc(size - 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	uint32_t crc = (uint32_t)crc32(0, copy, (uInt)(size - 5));
	for (int i = 0; i < 4; i++)
		copy[size - 5 + i] = (uint8_t)(crc >> (8 * i));
	if (vmstate_open(&r, copy, size - 1, &err) == 0)
		walk(&r);
	else if (!err.msg[0] || !err.input)
		__builtin_trap();
	free(copy);
	return 0;
}

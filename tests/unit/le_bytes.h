/* Little-endian accessors on raw bytes, independent of the code under test:
 * the tests read and write guest structures at the spec's offsets with these
 * rather than through the structs of the code they check. */
#ifndef VESSEL_TEST_LE_BYTES_H
#define VESSEL_TEST_LE_BYTES_H

#include <stdint.h>

static inline uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static inline uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static inline uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline void set16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void set32(uint8_t *p, uint32_t v)
{
	set16(p, v);
	set16(p + 2, v >> 16);
}

static inline void set64(uint8_t *p, uint64_t v)
{
	set32(p, v);
	set32(p + 4, v >> 32);
}

#endif

/* Content-defined chunking: cut points chosen by a rolling (gear) hash of
 * the last 64 bytes, so an insertion moves only the chunks around it and
 * an unchanged file in a container's archive stream yields the same
 * chunks again. Chunks are CDC_MIN..CDC_MAX bytes, CDC_AVG on average. */
#ifndef VESSEL_BACKUP_CDC_H
#define VESSEL_BACKUP_CDC_H

#include <stddef.h>
#include <stdint.h>

#define CDC_MIN (64u << 10)
#define CDC_AVG (256u << 10)
#define CDC_MAX (1u << 20)

/* The length of the next chunk of [p, p + n): a cut point, or
 * min(n, CDC_MAX) if none (n <= CDC_MIN: n). Deterministic. */
size_t cdc_cut(const uint8_t *p, size_t n);

#endif

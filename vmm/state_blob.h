/* KVM's state structs in a vmstate section: each one a blob, a u32 byte
 * length then the bytes as KVM gives them (x86 sections only: the layout
 * is KVM's little-endian ABI). The reader checks every length against
 * the struct it fills: the state file is untrusted. */
#ifndef VESSEL_STATE_BLOB_H
#define VESSEL_STATE_BLOB_H

#include <stddef.h>

#include "vmstate.h"

void blob_put(struct vmstate_writer *w, const void *p, size_t len);
/* Read a blob of exactly len bytes into p; another length is an input
 * error naming the section and `what`. */
int blob_get(struct vmstate_section *s, const char *what, void *p, size_t len,
	     struct error *err);
/* Read a blob of min..max bytes, a multiple of unit, into a malloc'd
 * buffer (*p, *len); the caller frees it. */
int blob_get_alloc(struct vmstate_section *s, const char *what, size_t min,
		   size_t max, size_t unit, void **p, size_t *len,
		   struct error *err);
/* No bytes may be left over at the end of a section of a known version. */
int blob_end(const struct vmstate_section *s, struct error *err);

#endif

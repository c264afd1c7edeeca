/* KVM's state structs as length-checked blobs in a vmstate section. */
#include "state_blob.h"

#include <stdint.h>
#include <stdlib.h>

void blob_put(struct vmstate_writer *w, const void *p, size_t len)
{
	if (len > UINT32_MAX) {
		w->failed = true;
		return;
	}
	vmstate_put_u32(w, (uint32_t)len);
	vmstate_put(w, p, len);
}

static int blob_len(struct vmstate_section *s, const char *what, uint32_t *len,
		    struct error *err)
{
	if (vmstate_get_u32(s, len, err) < 0)
		return -1;
	if (*len > s->len - s->pos)
		return err_input(err, "%.*s: %s: %u bytes, only %zu left in the "
				 "section", VMSTATE_ID_LEN, s->id, what, *len,
				 s->len - s->pos);
	return 0;
}

int blob_get(struct vmstate_section *s, const char *what, void *p, size_t len,
	     struct error *err)
{
	uint32_t n;

	if (blob_len(s, what, &n, err) < 0)
		return -1;
	if (n != len)
		return err_input(err, "%.*s: %s: %u bytes, want %zu", VMSTATE_ID_LEN,
				 s->id, what, n, len);
	return vmstate_get(s, p, len, err);
}

int blob_get_alloc(struct vmstate_section *s, const char *what, size_t min,
		   size_t max, size_t unit, void **p, size_t *len,
		   struct error *err)
{
	uint32_t n;

	*p = NULL;
	*len = 0;
	if (blob_len(s, what, &n, err) < 0)
		return -1;
	if (n < min || n > max)
		return err_input(err, "%.*s: %s: %u bytes, want %zu to %zu",
				 VMSTATE_ID_LEN, s->id, what, n, min, max);
	if (n % unit)
		return err_input(err, "%.*s: %s: %u bytes, not a multiple of %zu",
				 VMSTATE_ID_LEN, s->id, what, n, unit);
	*p = malloc(n ? n : 1);
	if (!*p)
		return err_set(err, "out of memory");
	if (vmstate_get(s, *p, n, err) < 0) {
		free(*p);
		*p = NULL;
		return -1;
	}
	*len = n;
	return 0;
}

int blob_end(const struct vmstate_section *s, struct error *err)
{
	if (s->pos != s->len)
		return err_input(err, "%.*s: %zu bytes left over at its end",
				 VMSTATE_ID_LEN, s->id, s->len - s->pos);
	return 0;
}

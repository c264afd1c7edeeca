/* A byte stream stored as content-defined chunks (cdc.h) and read back:
 * a container tree's archive goes into the store through stream_out and
 * comes back through stream_in. A byte_src is whatever the archive
 * reader reads from: a stored stream, or memory (tests, fuzzing). */
#ifndef VESSEL_BACKUP_STREAM_H
#define VESSEL_BACKUP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "store.h"

struct byte_src {
	/* Exactly n bytes into dst (dst NULL: skip them), or -1 with err
	 * (the end of the stream first: err_input). */
	int (*read)(struct byte_src *src, void *dst, size_t n, struct error *err);
};

struct stream_out {
	struct store *store;
	struct index *ix;
	uint8_t *buf;           /* 2 * CDC_MAX */
	size_t start, fill;
	void (*on_chunk)(void *opaque, size_t len);
	void *opaque;
};

int stream_out_init(struct stream_out *o, struct store *s, struct index *ix,
		    struct error *err);
int stream_write(struct stream_out *o, const void *data, size_t len,
		 struct error *err);
/* Store what is left; the index is then complete. */
int stream_finish(struct stream_out *o, struct error *err);
void stream_out_free(struct stream_out *o);

struct stream_in {
	struct byte_src src;
	struct store *store;
	const struct index *ix;
	size_t next;            /* the next index entry */
	uint8_t *chunk;         /* CHUNK_MAX */
	size_t len, pos;
};

int stream_in_init(struct stream_in *in, struct store *s,
		   const struct index *ix, struct error *err);
void stream_in_free(struct stream_in *in);

struct mem_src {
	struct byte_src src;
	const uint8_t *p;
	size_t len, pos;
};

void mem_src_init(struct mem_src *m, const void *p, size_t len);

#endif

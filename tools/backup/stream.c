/* Chunked streams (stream.h). */
#include "stream.h"
#include "cdc.h"
#include "chunk.h"

#include <stdlib.h>
#include <string.h>

int stream_out_init(struct stream_out *o, struct store *s, struct index *ix,
		    struct error *err)
{
	memset(o, 0, sizeof(*o));
	o->store = s;
	o->ix = ix;
	o->buf = malloc(2 * CDC_MAX);
	return o->buf ? 0 : err_set(err, "out of memory");
}

void stream_out_free(struct stream_out *o)
{
	free(o->buf);
	o->buf = NULL;
}

static int put_one(struct stream_out *o, size_t len, struct error *err)
{
	uint8_t digest[SHA256_LEN];

	if (store_put(o->store, o->buf + o->start, len, digest, err) < 0 ||
	    index_add(o->ix, digest, (uint32_t)len, 0, err) < 0)
		return -1;
	if (o->on_chunk)
		o->on_chunk(o->opaque, len);
	o->start += len;
	return 0;
}

int stream_write(struct stream_out *o, const void *data, size_t len,
		 struct error *err)
{
	const uint8_t *p = data;

	while (len) {
		size_t room, n;

		if (o->fill == 2 * CDC_MAX) {
			memmove(o->buf, o->buf + o->start, o->fill - o->start);
			o->fill -= o->start;
			o->start = 0;
		}
		room = 2 * CDC_MAX - o->fill;
		n = len < room ? len : room;
		memcpy(o->buf + o->fill, p, n);
		o->fill += n;
		p += n;
		len -= n;
		while (o->fill - o->start >= CDC_MAX)
			if (put_one(o, cdc_cut(o->buf + o->start, o->fill - o->start),
				    err) < 0)
				return -1;
	}
	return 0;
}

int stream_finish(struct stream_out *o, struct error *err)
{
	while (o->fill > o->start)
		if (put_one(o, cdc_cut(o->buf + o->start, o->fill - o->start),
			    err) < 0)
			return -1;
	o->start = o->fill = 0;
	return 0;
}

static int in_read(struct byte_src *src, void *dst, size_t n,
		   struct error *err)
{
	struct stream_in *in = (struct stream_in *)src;
	uint8_t *d = dst;

	while (n) {
		size_t k;

		if (in->pos == in->len) {
			const struct index_entry *e;
			size_t got;

			if (in->next == in->ix->n)
				return err_input(err, "archive stream ends early");
			e = &in->ix->e[in->next++];
			if (e->flags & INDEX_ZERO) {
				memset(in->chunk, 0, e->len);
				got = e->len;
			} else if (store_get(in->store, e->digest, in->chunk,
					     CHUNK_MAX, &got, err) < 0) {
				return -1;
			}
			if (got != e->len)
				return err_input(err, "a chunk's length differs "
						 "from its index entry");
			in->len = got;
			in->pos = 0;
		}
		k = in->len - in->pos < n ? in->len - in->pos : n;
		if (d) {
			memcpy(d, in->chunk + in->pos, k);
			d += k;
		}
		in->pos += k;
		n -= k;
	}
	return 0;
}

int stream_in_init(struct stream_in *in, struct store *s,
		   const struct index *ix, struct error *err)
{
	memset(in, 0, sizeof(*in));
	in->src.read = in_read;
	in->store = s;
	in->ix = ix;
	in->chunk = malloc(CHUNK_MAX);
	return in->chunk ? 0 : err_set(err, "out of memory");
}

void stream_in_free(struct stream_in *in)
{
	free(in->chunk);
	in->chunk = NULL;
}

static int mem_read(struct byte_src *src, void *dst, size_t n,
		    struct error *err)
{
	struct mem_src *m = (struct mem_src *)src;

	if (n > m->len - m->pos)
		return err_input(err, "archive stream ends early");
	if (dst)
		memcpy(dst, m->p + m->pos, n);
	m->pos += n;
	return 0;
}

void mem_src_init(struct mem_src *m, const void *p, size_t len)
{
	m->src.read = mem_read;
	m->p = p;
	m->len = len;
	m->pos = 0;
}

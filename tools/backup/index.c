/* The index file (index.h). */
#include "index.h"
#include "chunk.h"
#include "../base/le.h"

#include <stdlib.h>
#include <string.h>

void index_init(struct index *ix, enum index_kind kind, uint32_t chunk_size)
{
	memset(ix, 0, sizeof(*ix));
	ix->kind = kind;
	ix->chunk_size = chunk_size;
}

void index_free(struct index *ix)
{
	free(ix->e);
	ix->e = NULL;
	ix->n = ix->cap = 0;
}

int index_add(struct index *ix, const uint8_t digest[SHA256_LEN], uint32_t len,
	      uint32_t flags, struct error *err)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 256;
		struct index_entry *e;

		if (cap > INDEX_MAX_ENTRIES)
			return err_set(err, "more than %u chunks in one index",
				       INDEX_MAX_ENTRIES);
		e = realloc(ix->e, cap * sizeof(*e));
		if (!e)
			return err_set(err, "out of memory");
		ix->e = e;
		ix->cap = cap;
	}
	if (flags & INDEX_ZERO)
		memset(ix->e[ix->n].digest, 0, SHA256_LEN);
	else
		memcpy(ix->e[ix->n].digest, digest, SHA256_LEN);
	ix->e[ix->n].len = len;
	ix->e[ix->n].flags = flags;
	ix->n++;
	ix->size += len;
	return 0;
}

int index_encode(const struct index *ix, uint8_t **buf, size_t *len,
		 struct error *err)
{
	size_t n = INDEX_HDR + ix->n * INDEX_ENTRY + SHA256_LEN;
	uint8_t *p = calloc(1, n), *q;

	if (!p)
		return err_set(err, "out of memory");
	memcpy(p, INDEX_MAGIC, 4);
	p[4] = 1;
	p[5] = (uint8_t)ix->kind;
	le32(p + 8, ix->chunk_size);
	le64(p + 16, ix->size);
	le64(p + 24, ix->n);
	q = p + INDEX_HDR;
	for (size_t i = 0; i < ix->n; i++, q += INDEX_ENTRY) {
		memcpy(q, ix->e[i].digest, SHA256_LEN);
		le32(q + 32, ix->e[i].len);
		le32(q + 36, ix->e[i].flags);
	}
	sha256(p, n - SHA256_LEN, q);
	*buf = p;
	*len = n;
	return 0;
}

static int check_entry(const struct index *ix, const struct index_entry *e,
		       size_t i, size_t n, struct error *err)
{
	static const uint8_t zero[SHA256_LEN];

	if (e->flags & ~INDEX_ZERO)
		return err_input(err, "index entry %zu: unknown flags %#x", i,
				 e->flags);
	if (e->len == 0 || e->len > CHUNK_MAX)
		return err_input(err, "index entry %zu: length %u", i, e->len);
	if ((e->flags & INDEX_ZERO) && memcmp(e->digest, zero, SHA256_LEN))
		return err_input(err, "index entry %zu: zero chunk with a hash", i);
	if (ix->kind == INDEX_DISK &&
	    (e->len > ix->chunk_size || (i + 1 < n && e->len != ix->chunk_size)))
		return err_input(err, "index entry %zu: length %u, chunk size %u",
				 i, e->len, ix->chunk_size);
	return 0;
}

int index_parse(const uint8_t *buf, size_t len, struct index *ix,
		struct error *err)
{
	uint8_t sum[SHA256_LEN];
	uint64_t n, size, total = 0;
	const uint8_t *q;

	memset(ix, 0, sizeof(*ix));
	if (len < INDEX_HDR + SHA256_LEN || memcmp(buf, INDEX_MAGIC, 4))
		return err_input(err, "not an index (bad magic or too short)");
	if (buf[4] != 1)
		return err_input(err, "index format version %u (this vessel "
				 "reads 1)", buf[4]);
	if ((buf[5] != INDEX_DISK && buf[5] != INDEX_TREE) || rd16(buf + 6) ||
	    rd32(buf + 12))
		return err_input(err, "index header: bad kind or reserved field");
	sha256(buf, len - SHA256_LEN, sum);
	if (memcmp(sum, buf + len - SHA256_LEN, SHA256_LEN))
		return err_input(err, "index checksum mismatch");
	n = rd64(buf + 24);
	size = rd64(buf + 16);
	if (n > INDEX_MAX_ENTRIES ||
	    n != (len - INDEX_HDR - SHA256_LEN) / INDEX_ENTRY ||
	    (len - INDEX_HDR - SHA256_LEN) % INDEX_ENTRY)
		return err_input(err, "index: entry count %llu does not match "
				 "its size", (unsigned long long)n);
	index_init(ix, (enum index_kind)buf[5], rd32(buf + 8));
	if (ix->kind == INDEX_DISK ? ix->chunk_size == 0 ||
	    ix->chunk_size > CHUNK_MAX : ix->chunk_size != 0)
		return err_input(err, "index: chunk size %u", ix->chunk_size);
	ix->e = calloc(n ? n : 1, sizeof(*ix->e));
	if (!ix->e)
		return err_set(err, "out of memory");
	ix->n = ix->cap = n;
	q = buf + INDEX_HDR;
	for (size_t i = 0; i < n; i++, q += INDEX_ENTRY) {
		memcpy(ix->e[i].digest, q, SHA256_LEN);
		ix->e[i].len = rd32(q + 32);
		ix->e[i].flags = rd32(q + 36);
		if (check_entry(ix, &ix->e[i], i, n, err) < 0) {
			index_free(ix);
			return -1;
		}
		total += ix->e[i].len;
	}
	if (total != size) {
		index_free(ix);
		return err_input(err, "index: entries add up to %llu bytes, the "
				 "header says %llu", (unsigned long long)total,
				 (unsigned long long)size);
	}
	ix->size = size;
	return 0;
}

/* Chunk references (refs.h). */
#include "refs.h"

#include "../base/grow.h"

#include <stdlib.h>
#include <string.h>

static int add(struct refs *refs, const uint8_t *digest, uint32_t b,
	       struct error *err)
{
	if (grow_one(&refs->r, refs->n, &refs->cap, sizeof(*refs->r), 1024,
		     err) < 0)
		return -1;
	memcpy(refs->r[refs->n].digest, digest, SHA256_LEN);
	refs->r[refs->n].backup = b;
	refs->n++;
	return 0;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c = memcmp(x->digest, y->digest, SHA256_LEN);

	return c ? c : (x->backup > y->backup) - (x->backup < y->backup);
}

int refs_collect(struct repo *r, const struct catalog *c, long only,
		 struct refs *refs, struct error *err)
{
	memset(refs, 0, sizeof(*refs));
	for (size_t b = 0; b < c->n; b++) {
		if (only >= 0 && (size_t)only != b)
			continue;
		for (size_t i = 0; i < c->m[b].nitems; i++) {
			struct error e2 = { 0 };
			struct index ix;

			if (catalog_index(r, &c->m[b], i, &ix, &e2) < 0) {
				void *p = realloc(refs->bad, (refs->nbad + 1) *
						  sizeof(*refs->bad));

				if (!p)
					return err_set(err, "out of memory");
				refs->bad = p;
				refs->bad[refs->nbad].backup = (uint32_t)b;
				snprintf(refs->bad[refs->nbad].why,
					 sizeof(refs->bad[0].why), "%.199s", e2.msg);
				refs->nbad++;
				continue;
			}
			for (size_t k = 0; k < ix.n; k++)
				if (!(ix.e[k].flags & INDEX_ZERO) &&
				    add(refs, ix.e[k].digest, (uint32_t)b, err) < 0) {
					index_free(&ix);
					return -1;
				}
			index_free(&ix);
		}
	}
	if (refs->n)
		qsort(refs->r, refs->n, sizeof(*refs->r), cmp_ref);
	return 0;
}

void refs_free(struct refs *refs)
{
	free(refs->r);
	free(refs->bad);
	memset(refs, 0, sizeof(*refs));
}

static int cmp_digest(const void *key, const void *elem)
{
	return memcmp(key, ((const struct ref *)elem)->digest, SHA256_LEN);
}

bool refs_has(const struct refs *refs, const uint8_t digest[SHA256_LEN])
{
	return refs->n && bsearch(digest, refs->r, refs->n, sizeof(*refs->r),
				  cmp_digest);
}

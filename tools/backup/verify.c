/* Verifying a repository (verify.h). */
#include "verify.h"
#include "chunk.h"
#include "refs.h"
#include "store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vstate {
	struct store s;
	struct catalog c;
	struct refs refs;
	bool *broken;           /* per backup */
	uint8_t *raw;
	FILE *out;
	struct verify_result *res;
};

static void mark_users(struct vstate *v, const uint8_t *digest,
		       const char *why)
{
	char hex[2 * SHA256_LEN + 1];
	size_t i;
	bool first = true;

	sha256_hex(digest, hex);
	fprintf(v->out, "damaged: chunk %s: %s; used by:", hex, why);
	for (i = 0; i < v->refs.n; i++) {
		const struct ref *r = &v->refs.r[i];

		if (memcmp(r->digest, digest, SHA256_LEN) ||
		    (i && !memcmp(v->refs.r[i - 1].digest, digest, SHA256_LEN) &&
		     v->refs.r[i - 1].backup == r->backup))
			continue;
		fprintf(v->out, " %s", v->c.m[r->backup].id);
		v->broken[r->backup] = true;
		first = false;
	}
	fprintf(v->out, "%s\n", first ? " no backup" : "");
	v->res->damaged_chunks++;
}

static int check_chunk(struct vstate *v, const uint8_t *digest)
{
	struct error e = { 0 };
	size_t len;

	if (store_get(&v->s, digest, v->raw, CHUNK_MAX, &len, &e) < 0) {
		const char *why = strstr(e.msg, ": ");

		mark_users(v, digest, why ? why + 2 : e.msg);
		return 0;
	}
	v->res->chunks++;
	v->res->bytes += len;
	return 0;
}

/* store_each: a chunk file no backup uses. */
static int unreferenced(void *opaque, const uint8_t *digest, const char *name,
			int dirfd, const char *file)
{
	struct vstate *v = opaque;

	(void)name;
	(void)dirfd;
	(void)file;
	if (refs_has(&v->refs, digest))
		return 0;
	return check_chunk(v, digest);
}

int backup_verify(struct repo *r, const char *id, FILE *out,
		  struct verify_result *res, struct error *err)
{
	struct vstate v = { .out = out, .res = res };
	long only = -1;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (id) {
		char guest[BACKUP_NAME_MAX + 1];
		const char *slash = strchr(id, '/');
		struct manifest m;

		/* Checks the id and the manifest, with their own errors. */
		if (catalog_get(r, id, &m, err) < 0)
			return -1;
		manifest_free(&m);
		snprintf(guest, sizeof(guest), "%.*s", (int)(slash - id), id);
		if (catalog_load(r, guest, &v.c, err) < 0)
			return -1;
		for (size_t i = 0; i < v.c.n; i++)
			if (!strcmp(v.c.m[i].id, id))
				only = (long)i;
	} else if (catalog_load(r, NULL, &v.c, err) < 0) {
		return -1;
	}
	v.broken = calloc(v.c.n + 1, sizeof(*v.broken));
	v.raw = malloc(CHUNK_MAX);
	if (!v.broken || !v.raw || store_init(&v.s, r, err) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	if (refs_collect(r, &v.c, only, &v.refs, err) < 0)
		goto out;
	for (size_t i = 0; i < v.refs.nbad; i++) {
		fprintf(out, "damaged: backup %s: %s\n",
			v.c.m[v.refs.bad[i].backup].id, v.refs.bad[i].why);
		v.broken[v.refs.bad[i].backup] = true;
	}
	if (!id)
		for (size_t i = 0; i < v.c.ndamaged; i++) {
			fprintf(out, "damaged: backup %s\n", v.c.damaged[i]);
			res->damaged_backups++;
		}
	for (size_t i = 0; i < v.refs.n; i++)
		if (i == 0 || memcmp(v.refs.r[i].digest, v.refs.r[i - 1].digest,
				     SHA256_LEN))
			check_chunk(&v, v.refs.r[i].digest);
	if (!id && store_each(&v.s, false, unreferenced, &v, err) < 0)
		goto out;
	for (size_t i = 0; i < v.c.n; i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		res->backups++;
		res->damaged_backups += v.broken[i];
	}
	rc = 0;
out:
	store_free(&v.s);
	refs_free(&v.refs);
	catalog_free(&v.c);
	free(v.broken);
	free(v.raw);
	return rc;
}

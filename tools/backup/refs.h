/* Which backups use which chunks: (digest, backup) pairs from the
 * indexes of a catalog, sorted by digest. verify maps a damaged chunk to
 * the backups it breaks; prune keeps exactly the chunks some backup uses. */
#ifndef VESSEL_BACKUP_REFS_H
#define VESSEL_BACKUP_REFS_H

#include "catalog.h"

struct ref {
	uint8_t digest[SHA256_LEN];
	uint32_t backup;        /* index into the catalog */
};

struct refs {
	struct ref *r;
	size_t n, cap;
	/* Backups whose indexes could not be read: index into the catalog,
	 * with the reason. */
	struct {
		uint32_t backup;
		char why[200];
	} *bad;
	size_t nbad;
};

/* The chunks of c's backups (only c->m[only] if only >= 0). */
int refs_collect(struct repo *r, const struct catalog *c, long only,
		 struct refs *refs, struct error *err);
void refs_free(struct refs *refs);
/* Is digest used? */
bool refs_has(const struct refs *refs, const uint8_t digest[SHA256_LEN]);

#endif

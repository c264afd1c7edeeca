/* Checking a repository: every chunk a backup uses (or, for the whole
 * repository, every chunk file) is read and its CRC and SHA-256
 * recomputed; indexes are checked against their manifests. Damage is
 * printed with the backups it breaks. */
#ifndef VESSEL_BACKUP_VERIFY_H
#define VESSEL_BACKUP_VERIFY_H

#include <stdio.h>

#include "repo.h"

struct verify_result {
	uint64_t backups, chunks, bytes;        /* checked */
	uint64_t damaged_chunks, damaged_backups;
};

/* id NULL: the whole repository. Reports go to out. */
int backup_verify(struct repo *r, const char *id, FILE *out,
		  struct verify_result *res, struct error *err);

#endif

/* The backups in a repository: finding, listing and loading them by id
 * (NAME/STAMP). Only backups with a manifest exist; one whose manifest
 * does not parse is reported as damaged. */
#ifndef VESSEL_BACKUP_CATALOG_H
#define VESSEL_BACKUP_CATALOG_H

#include "index.h"
#include "manifest.h"
#include "repo.h"

struct catalog {
	struct manifest *m;     /* sorted: guest, then oldest first */
	size_t n;
	char (*damaged)[BACKUP_ID_MAX + 64];    /* ids whose manifest is bad */
	size_t ndamaged;
	char (*unfinished)[BACKUP_ID_MAX + 2];      /* directories without one */
	size_t nunfinished;
};

/* All backups (of guest, unless NULL). */
int catalog_load(struct repo *r, const char *guest, struct catalog *c,
		 struct error *err);
void catalog_free(struct catalog *c);
/* One backup by id: err_input if there is none or it is damaged. */
int catalog_get(struct repo *r, const char *id, struct manifest *m,
		struct error *err);
/* Item i's index, checked against the manifest's hash. */
int catalog_index(struct repo *r, const struct manifest *m, size_t i,
		  struct index *ix, struct error *err);
/* Remove the backup directory of id: its manifest first (from then on it
 * is unfinished), then the rest. */
int catalog_remove(struct repo *r, const char *id, struct error *err);
/* Is id of the form NAME/STAMP? */
bool backup_id_ok(const char *id);

#endif

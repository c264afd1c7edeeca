/* A backup repository: a plain directory (docs/backup-format.md).
 *   REPO/vessel-backup          marker: "vessel backup repository\nformat 1\n"
 *   REPO/lock                   flock()ed: shared by backup, verify and
 *                               restore; exclusive by prune (which deletes)
 *   REPO/chunks/XX/HEX          one chunk (chunk.h), XX = HEX's first two
 *   REPO/backups/NAME/STAMP/    one backup: its indexes (index.h) and,
 *                               written last, manifest.json (manifest.h)
 * A backup directory without manifest.json is unfinished (killed, failed):
 * no command reads it, prune removes it. Every file is written under a
 * name starting with ".tmp", fsynced, then renamed. */
#ifndef VESSEL_BACKUP_REPO_H
#define VESSEL_BACKUP_REPO_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include "../base/sha256.h"
#include "../base/error.h"

#define REPO_MARKER     "vessel-backup"
#define REPO_FORMAT     1
#define REPO_TMP_PREFIX ".tmp"

struct repo {
	char path[PATH_MAX];
	int dirfd;              /* REPO */
	int chunks;             /* REPO/chunks */
	int lockfd;             /* REPO/lock, -1 until repo_lock() */
};

enum repo_open { REPO_EXISTING, REPO_CREATE };

/* Open path as a repository; with REPO_CREATE a missing or empty
 * directory becomes one. Not a repository: err_input. */
int repo_open(struct repo *r, const char *path, enum repo_open how,
	      struct error *err);
void repo_close(struct repo *r);
/* flock REPO/lock, waiting: shared (backups, verify, restore) or
 * exclusive (prune). */
int repo_lock(struct repo *r, bool exclusive, struct error *err);

/* Write len bytes to dirfd/name through dirfd/.tmp-name-PID-N, fsync,
 * rename, fsync the directory. On failure nothing of it is left. */
int repo_write_atomic(int dirfd, const char *name, const void *buf,
		      size_t len, struct error *err);
/* Read all of dirfd/name (at most max bytes: a longer file is err_input). */
int repo_read_file(int dirfd, const char *name, size_t max, uint8_t **buf,
		   size_t *len, struct error *err);
/* A unique temporary name for name in buf. */
void repo_tmp_name(char *buf, size_t len, const char *name);

#endif

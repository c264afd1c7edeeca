/* Pruning a repository, under its exclusive lock (backups wait):
 * 1. per guest, newest first, keep the last keep_last backups, then the
 *    newest backup of each of the keep_daily most recent UTC days not
 *    already covered by a kept one (Proxmox's rules); remove the rest;
 * 2. collect: remove unfinished backup directories, leftover temporary
 *    files and every chunk no remaining backup uses. If any remaining
 *    backup's manifest or index cannot be read, nothing is collected. */
#ifndef VESSEL_BACKUP_PRUNE_H
#define VESSEL_BACKUP_PRUNE_H

#include <stdbool.h>
#include <stdio.h>

#include "repo.h"

struct prune_opts {
	unsigned keep_last, keep_daily;
	bool dry_run;
};

struct prune_result {
	uint64_t kept, removed;                 /* backups */
	uint64_t chunks_removed, bytes_freed, unfinished, tmp;
};

/* Each decision is printed to out ("keep ID" / "remove ID"). */
int backup_prune(struct repo *r, const struct prune_opts *o, FILE *out,
		 struct prune_result *res, struct error *err);

#endif

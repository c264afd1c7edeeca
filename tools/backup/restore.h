/* Restoring one backup into a directory: its definition as
 * DIR/definition.yaml, each disk image under its own file name, a
 * container's tree as DIR/rootfs. Each is written under a temporary name
 * and renamed when complete; a damaged or missing chunk stops the restore
 * and removes what it wrote. An existing file is never replaced unless
 * force. */
#ifndef VESSEL_BACKUP_RESTORE_H
#define VESSEL_BACKUP_RESTORE_H

#include <stdbool.h>

#include "manifest.h"
#include "repo.h"
#include "tree_restore.h"

#define RESTORE_DEFINITION "definition.yaml"

struct restore_result {
	uint64_t bytes;                 /* logical bytes restored */
	long long ms;
	struct tree_restore_stats tree;
};

int backup_restore(struct repo *r, const char *id, const char *to, bool force,
		   bool progress, struct restore_result *res, struct error *err);

#endif

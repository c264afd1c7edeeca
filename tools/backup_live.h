/* A backup of a running VM (`vessel backup NAME REPO` while NAME runs):
 * the VM's own supervisor takes it, asked with the control op "backup"
 * (docs/control-protocol.md), because only the process that runs the
 * disks can put copy-before-write in their path (devices/block/cbw.h).
 * The CLI keeps REPO open and locked shared meanwhile, prints the
 * progress lines the supervisor sends, and loads the finished backup's
 * manifest to report it as for a stopped guest.
 *
 * Consistency: the VM is held still for a moment (vCPUs parked, no disk
 * request in flight), copy-before-write starts on every writable disk,
 * the VM runs on; every disk is read as it was at that moment. A stop, a
 * crash or a reboot of the guest fails the backup (nothing is recorded). */
#ifndef VESSEL_BACKUP_LIVE_H
#define VESSEL_BACKUP_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "backup/manifest.h"
#include "backup/progress.h"
#include "backup/repo.h"
#include "base/error.h"

struct vm_control;
struct guest_config;

/* Copy-before-write's part in one backup, summed over the disks. */
struct live_stats {
	uint64_t copies;        /* chunks saved before the guest overwrote them */
	uint64_t copied;        /* their bytes */
	uint64_t waits;         /* guest writes that waited for a chunk's read */
};

/* What the supervisor is asked. */
struct live_backup {
	const char *repo;               /* absolute: an existing repository */
	const char *definition;         /* the guest's definition file */
	/* Progress, as the progress line would be drawn; or NULL. */
	void (*report)(void *opaque, const struct progress *pg);
	void *opaque;
	/* Out */
	char id[BACKUP_ID_MAX + 1];
	struct live_stats st;
};

/* In the supervisor: back up the VM run through vmc. */
int live_backup_run(struct vm_control *vmc, const struct guest_config *cfg,
		    struct live_backup *b, struct error *err);

/* In the CLI: ask NAME's supervisor to back it up into r (open, locked
 * shared), drawing the progress line when progress; *m is the finished
 * backup's manifest (manifest_free it). */
int live_backup_request(const char *name, struct repo *r, bool progress,
			struct manifest *m, struct live_stats *st,
			struct error *err);

#endif

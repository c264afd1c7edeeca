/* The source side of a live migration, for run.c (see migration.h). The
 * caller keeps the VM alive and not rebooting throughout (run.c's
 * migrating flag), and pauses it between mig_precopy and mig_complete. */
#ifndef VESSEL_MIGRATION_SEND_H
#define VESSEL_MIGRATION_SEND_H

#include "migration.h"
#include "../vm.h"

struct vm_snapshot_opts;
struct blk_dirty;

/* A disk the migration copies (--with-disks). */
struct mig_send_disk {
	int fd;                         /* the image, read-only */
	uint64_t size;
	struct blk_dirty *log;          /* the guest's writes; NULL: read-only */
	uint64_t *bm;                   /* blocks to send again */
};

struct mig_sender {
	struct vm *vm;
	const struct mig_opts *o;
	uint64_t *bm, *scratch;         /* pages to send; one slot's log */
	size_t words;
	uint64_t sent, round_bytes;
	long long t0, round_t0;
	unsigned round;
	bool stream_ok;                 /* an abort frame may still be sent */
	bool logging;                   /* KVM's dirty log is on */
	bool released;                  /* the disks were handed over */
	bool final;                     /* in the paused pass */
	long long paused_at;            /* the caller's, for mig_result */
	struct mig_send_disk disk[MIG_MAX_DISKS];
	unsigned ncopied;               /* disk[0..ncopied) are copied */
	uint8_t *dbuf;                  /* a disk chunk */
	uint64_t max_dt, timeout;       /* ms, defaults applied */
	struct mig_progress p;
};

/* The stream's opening (definition, RAM size) and the start of dirty
 * tracking. On -1, call mig_end all the same. */
int mig_begin(struct mig_sender *s, struct vm *vm, const struct mig_opts *o,
	      struct error *err);
/* The first pass and the rounds, until what is dirty fits the downtime.
 * -1: not converging, the guest stopping, or the stream breaking. */
int mig_precopy(struct mig_sender *s, struct error *err);
/* With the VM paused (s->paused_at: when the pause began) and quiesced:
 * the last pages, the state image, the
 * end, and the destination's answer (answer: its text). 0 only when the
 * destination runs the guest. */
int mig_complete(struct mig_sender *s, const struct vm_snapshot_opts *so,
		 struct mig_result *res, char *answer, size_t size,
		 struct error *err);
/* After a failed mig_complete, still paused: take the disks back if they
 * were handed over. -1: someone holds them (the destination may run the
 * guest after all): the VM must stay paused. */
int mig_take_back(struct mig_sender *s, struct error *err);
/* Tracking off and memory freed; with why, an abort frame first if the
 * stream is still open. */
void mig_end(struct mig_sender *s, const char *why);

#endif

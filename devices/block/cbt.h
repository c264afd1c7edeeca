/* Changed-block tracking for backups: while a VM runs, which 4 MiB chunks
 * of a writable disk changed since the last backup, kept across runs of
 * the VM and reboots of the host in IMAGE.vbitmap (bitmap_file.h).
 *
 * Open (the image locked, before the guest runs): load the file; if it is
 * not the truth about the image (unclean, changed outside vessel, ...),
 * start with nothing marked and record why history was lost; then write
 * it back as not clean, fsynced. From then on a SIGKILL or a host crash
 * leaves a file no backup trusts. Close (every write completed, the image
 * flushed, still locked): the marks of this run are OR'ed in and the file
 * is written clean with the image's identity. A disk handed over to a
 * migration's destination is forgotten: its file stays not clean.
 *
 * A live backup (the disk drained, at its point in time) takes the marks
 * out: every chunk changed since the generation it had, and the marks
 * restart empty under a new generation; the backup then settles: done,
 * the new generation stands (the file gets it at the clean stop); failed,
 * the marks it took merge back and the old generation returns, so that no
 * change is ever lost to the next backup. */
#ifndef VESSEL_BLOCK_CBT_H
#define VESSEL_BLOCK_CBT_H

#include <stdbool.h>

#include "bitmap_file.h"
#include "dirty.h"

struct blk_cbt {
	struct blk_dirty marks;         /* this run's writes */
	struct blk_bitmap file;         /* as loaded: earlier runs' marks */
	char *image;
	bool forgotten;
	/* Between blk_cbt_take and blk_cbt_settle: what goes back on a
	 * failure. */
	bool taken;
	uint64_t *held;                 /* the marks taken out */
	uint64_t held_gen;
	uint32_t held_lost;
};

/* Start tracking the image open (and locked) at fd. *out stays NULL
 * (and no error) when the file cannot even be written and there is no
 * stale one to distrust: tracking is off then. */
int blk_cbt_open(struct blk_cbt **out, const char *image, int fd,
		 struct error *err);
/* Bytes [off, off + len) may have changed. Any thread. */
void blk_cbt_mark(struct blk_cbt *c, uint64_t off, uint64_t len);
/* A live backup's point in time, with no write in flight (the disk
 * quiesced): out (blk_bitmap_free it) gets every chunk marked since the
 * generation out->generation, from earlier runs and this one, with
 * out->lost the reason those marks miss changes (0: none: the file was
 * trusted at open, or a backup since settled done); then the marks
 * restart empty, lost 0, under new_gen. One take at a time (an error
 * otherwise, or when out of memory: then nothing changed). Not
 * concurrently with blk_cbt_close. */
int blk_cbt_take(struct blk_cbt *c, uint64_t new_gen, struct blk_bitmap *out,
		 struct error *err);
/* The taken backup is committed (ok: new_gen stands) or failed (the marks
 * taken merge back into the current ones, and the old generation and lost
 * return). Nothing if none was taken. */
void blk_cbt_settle(struct blk_cbt *c, bool ok);
/* Never write the file clean again (the disk went to another process). */
void blk_cbt_forget(struct blk_cbt *c);
/* The clean stop: fd flushed here, then the file written clean (a take
 * not settled counts as failed). Frees c whatever happens; on an error
 * the file stays not clean. */
int blk_cbt_close(struct blk_cbt *c, int fd, struct error *err);

#endif

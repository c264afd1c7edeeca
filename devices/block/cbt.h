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
 * migration's destination is forgotten: its file stays not clean. */
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
};

/* Start tracking the image open (and locked) at fd. *out stays NULL
 * (and no error) when the file cannot even be written and there is no
 * stale one to distrust: tracking is off then. */
int blk_cbt_open(struct blk_cbt **out, const char *image, int fd,
		 struct error *err);
/* Bytes [off, off + len) may have changed. Any thread. */
void blk_cbt_mark(struct blk_cbt *c, uint64_t off, uint64_t len);
/* Never write the file clean again (the disk went to another process). */
void blk_cbt_forget(struct blk_cbt *c);
/* The clean stop: fd flushed here, then the file written clean. Frees c
 * whatever happens; on an error the file stays not clean. */
int blk_cbt_close(struct blk_cbt *c, int fd, struct error *err);

#endif

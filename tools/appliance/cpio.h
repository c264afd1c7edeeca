/* A writer of "newc" cpio archives (the Linux initramfs format), gzip
 * compressed, deterministic: inode numbers count up from 1, owner 0:0,
 * one mtime for every entry, and a gzip header without a timestamp; the
 * same calls give the same bytes. Names are relative ("bin/vessel"). */
#ifndef VESSEL_CPIO_H
#define VESSEL_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

#include "../base/error.h"

struct cpio_writer {
	int fd;                 /* the compressed archive goes here */
	z_stream z;
	uint32_t ino;           /* the last inode number given */
	uint32_t mtime;
	uint64_t in_bytes;      /* uncompressed bytes so far */
	uint64_t out_bytes;     /* compressed bytes written */
	int open;
	unsigned char buf[1 << 16];
};

/* Start an archive written to fd. */
int cpio_open(struct cpio_writer *w, int fd, uint32_t mtime, struct error *err);
/* One entry: mode is the whole st_mode (type and permissions). A regular
 * file's data is data/len; a symlink's is its target; rdev for device
 * nodes. */
int cpio_add(struct cpio_writer *w, const char *name, uint32_t mode,
	     const void *data, size_t len, dev_t rdev, struct error *err);
/* A regular file whose size bytes are read from fd (all of them, or an
 * error: the file changed under us). */
int cpio_add_fd(struct cpio_writer *w, const char *name, uint32_t mode, int fd,
		uint64_t size, struct error *err);
/* The trailer, then the end of the gzip stream. */
int cpio_finish(struct cpio_writer *w, struct error *err);
/* Drop an unfinished archive's state (after an error). */
void cpio_abort(struct cpio_writer *w);

#endif

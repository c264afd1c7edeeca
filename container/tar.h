/* Reading tar archives (plain or gzip, through zlib): ustar, with GNU
 * long names (L, K) and pax extended headers (path, linkpath, size, uid,
 * gid, mtime). Other extensions (sparse files, multi-volume) are
 * refused with an error. */
#ifndef VESSEL_TAR_H
#define VESSEL_TAR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

#include "../tools/base/error.h"

struct tar_entry {
	char type;		/* '0' file, '1' hard link, '2' symlink, '3'
				 * char dev, '4' block dev, '5' dir, '6' fifo */
	const char *path;	/* as in the archive; valid until tar_next */
	const char *link;
	mode_t mode;		/* permission bits (07777) */
	uid_t uid;
	gid_t gid;
	uint64_t size;
	int64_t mtime;
	unsigned major, minor;
};

struct tar_reader {
	gzFile gz;
	const char *archive;
	uint64_t left, pad;	/* unread data and padding of the entry */
	uint64_t offset;	/* of the next header, for messages */
	uint64_t consumed;	/* bytes read from the (uncompressed) archive */
	uint64_t limit;		/* refuse to read more than that; 0: no limit */
	char *path, *link;
};

/* Overrides from pax/GNU headers for the next entry. */
struct tar_pax {
	char *path, *link;	/* malloc'd, or NULL */
	bool has_size, has_uid, has_gid, has_mtime;
	uint64_t size;
	uint64_t uid, gid;
	int64_t mtime;
};

int tar_open(struct tar_reader *t, const char *archive, struct error *err);
/* 1 with e filled, 0 at the end of the archive, -1 on error. */
int tar_next(struct tar_reader *t, struct tar_entry *e, struct error *err);
/* Up to len bytes of the current entry's data; 0 at its end. */
ssize_t tar_read(struct tar_reader *t, void *buf, size_t len,
		 struct error *err);
void tar_close(struct tar_reader *t);
/* Parse the data of a pax extended header (size bytes at p, modified in
 * place) into nx; at is its offset in the archive, for messages. Every
 * malformed record is an error. Exposed for the unit tests and fuzzer. */
int tar_parse_pax(struct tar_reader *t, char *p, uint64_t size, uint64_t at,
		  struct tar_pax *nx, struct error *err);

#endif

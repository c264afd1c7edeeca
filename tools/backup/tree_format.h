/* The archive stream of a container tree (docs/backup-format.md): a
 * header "VBT1" + u32 version 1, then records, then an end record.
 * A record: u8 type, u16 path length, the path (relative, "." for the
 * top), u32 mode, u32 uid, u32 gid, i64 mtime seconds, u32 nanoseconds,
 * u16 xattr count, each xattr (u8 name length, name, u32 value length,
 * value), then by type:
 *   'f' a file: u64 size, the data     'd' a directory: nothing
 *   'l' a symlink: u16 length, target  'h' a hard link: u16 length, the
 *                                          path of an earlier 'f'
 *   'c'/'b' a device node: u32 major, u32 minor (recorded, never made)
 *   'p' a FIFO: nothing                'e' the end: no more fields
 * Everything little-endian. The reader treats the stream as hostile. */
#ifndef VESSEL_BACKUP_TREE_FORMAT_H
#define VESSEL_BACKUP_TREE_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"

#define TREE_MAGIC       "VBT1"
#define TREE_PATH_MAX    4095
#define TREE_XATTRS_MAX  64
#define TREE_XATTR_NAME  255
#define TREE_XATTR_VALUE 65536
#define TREE_XATTR_POOL  (256u << 10)   /* all values of one entry */

struct tree_xattr {
	char name[TREE_XATTR_NAME + 1];
	uint32_t off, len;      /* in the entry's pool */
};

struct tree_entry {
	char type;
	char path[TREE_PATH_MAX + 1];
	uint32_t mode, uid, gid;
	int64_t mtime;
	uint32_t mtime_ns;
	struct tree_xattr x[TREE_XATTRS_MAX];
	unsigned nx;
	uint8_t *pool;          /* TREE_XATTR_POOL bytes (tree_entry_init) */
	uint32_t pool_used;
	uint64_t size;          /* 'f': the data follows the record */
	char target[TREE_PATH_MAX + 1];  /* 'l', 'h' */
	uint32_t major, minor;  /* 'c', 'b' */
};

int tree_entry_init(struct tree_entry *e, struct error *err);
void tree_entry_free(struct tree_entry *e);
/* Add an xattr to e (checked against the limits). */
int tree_entry_xattr(struct tree_entry *e, const char *name, const void *val,
		     size_t len, struct error *err);

/* Writing: the header, a record (a file's data is written after it by
 * the caller: exactly e->size bytes), the end record. */
int tree_put_header(struct stream_out *o, struct error *err);
int tree_put_entry(struct stream_out *o, const struct tree_entry *e,
		   struct error *err);
int tree_put_end(struct stream_out *o, struct error *err);

/* Reading: the header, then records until type 'e'. After an 'f' the
 * caller reads or skips e->size bytes from src. */
int tree_get_header(struct byte_src *src, struct error *err);
int tree_get_entry(struct byte_src *src, struct tree_entry *e,
		   struct error *err);
/* A path as the archive may hold: relative, no empty, "." or ".."
 * component, except "." alone for the top. */
bool tree_path_ok(const char *p);

#endif

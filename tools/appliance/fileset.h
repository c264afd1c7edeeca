/* The files of an image's root filesystem, gathered in any order and
 * written out sorted (parents before children, every missing parent
 * directory added with mode 0755), owned by 0:0 with one mtime: the same
 * set gives the same archive. The same path added twice is fine when both
 * say the same thing, an error otherwise. */
#ifndef VESSEL_FILESET_H
#define VESSEL_FILESET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/error.h"

enum fs_kind { FSE_DIR, FSE_FILE, FSE_DATA, FSE_SYMLINK, FSE_NODE };

struct fs_entry {
	char *path;             /* in the image, relative: "bin/vessel" */
	enum fs_kind kind;
	uint32_t mode;          /* st_mode: type and permissions */
	char *source;           /* FSE_FILE: the host file; FSE_SYMLINK: target */
	char *data;             /* FSE_DATA: the contents */
	size_t len;
	dev_t rdev;             /* FSE_NODE */
};

struct fileset {
	struct fs_entry *e;
	size_t n, cap;
};

int fileset_add_dir(struct fileset *fs, const char *path, uint32_t perm,
		    struct error *err);
/* A copy of the host file source (read when written out). */
int fileset_add_file(struct fileset *fs, const char *path, const char *source,
		     uint32_t perm, struct error *err);
/* A file with the given contents. */
int fileset_add_data(struct fileset *fs, const char *path, const void *data,
		     size_t len, uint32_t perm, struct error *err);
int fileset_add_symlink(struct fileset *fs, const char *path,
			const char *target, struct error *err);
int fileset_add_node(struct fileset *fs, const char *path, uint32_t mode,
		     dev_t rdev, struct error *err);
/* The host directory tree at source, as path: directories, files,
 * symlinks, device nodes and fifos (sockets are skipped). */
int fileset_add_tree(struct fileset *fs, const char *path, const char *source,
		     struct error *err);
/* Sort, check, and write as a gzip'd newc cpio archive to fd; *bytes (if
 * not NULL) gets the uncompressed size. */
int fileset_write_cpio(struct fileset *fs, int fd, uint32_t mtime,
		       uint64_t *bytes, struct error *err);
void fileset_free(struct fileset *fs);

#endif

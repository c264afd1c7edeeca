/* A disk's backup bitmap file, IMAGE.vbitmap beside the image
 * (docs/backup-format.md, "Dirty bitmap file"): which 4 MiB chunks of the
 * image changed since the backup that made generation G of the bitmap.
 * Written by the VM (cbt.h) and by `vessel backup`; read by both as
 * hostile input. Tied to the image by an identity (size, inode, mtime,
 * ctime after the last flush), a clean flag (cleared while a VM runs on
 * the image) and a "lost" reason (the marks miss changes made before the
 * VM's last start: it found no bitmap, or one it could not trust). */
#ifndef VESSEL_BLOCK_BITMAP_FILE_H
#define VESSEL_BLOCK_BITMAP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../../tools/base/error.h"

#define BLK_BITMAP_MAGIC   "VBM1"
#define BLK_BITMAP_VERSION 1
#define BLK_BITMAP_SUFFIX  ".vbitmap"
#define BLK_BITMAP_SHIFT   22                   /* 4 MiB chunks */
#define BLK_BITMAP_CHUNK   (1ull << BLK_BITMAP_SHIFT)
#define BLK_BITMAP_HDR     64
#define BLK_BITMAP_CLEAN   1u                   /* flags bit 0 */
/* At most this many chunks (a 64 TiB image, as a backup index). */
#define BLK_BITMAP_MAX_CHUNKS (1ull << 24)

/* Why a bitmap is not trusted (0: it is). Kept in the file's "lost"
 * field too; never renumbered. */
enum blk_bitmap_why {
	BLK_BM_TRUSTED = 0,
	BLK_BM_MISSING = 1,     /* no bitmap file */
	BLK_BM_UNCLEAN = 2,     /* not stopped cleanly */
	BLK_BM_CHANGED = 3,     /* the image changed outside vessel */
	BLK_BM_BAD = 4,         /* the file does not parse */
	BLK_BM_RESIZED = 5,     /* the image's size differs */
	BLK_BM_WHY_MAX = 5,
};

struct blk_bitmap {
	bool clean;
	uint32_t lost;          /* enum blk_bitmap_why: history lost before */
	uint64_t size;          /* the image's bytes */
	uint64_t generation;    /* 0: never backed up with this bitmap */
	uint64_t ino;
	int64_t mtime_ns, ctime_ns;
	uint64_t chunks;        /* ceil(size / 4 MiB) */
	uint64_t *bm;           /* words; bits past chunks are zero */
};

/* 64-bit words of the bitmap of an image of size bytes. */
size_t blk_bitmap_words(uint64_t size);
/* Nothing marked, not clean, no identity, generation 0. */
int blk_bitmap_init(struct blk_bitmap *b, uint64_t size, struct error *err);
void blk_bitmap_free(struct blk_bitmap *b);
/* A new random generation: non-zero, < 2^63. */
int blk_bitmap_new_generation(uint64_t *gen, struct error *err);
bool blk_bitmap_test(const struct blk_bitmap *b, uint64_t chunk);
uint64_t blk_bitmap_count(const struct blk_bitmap *b);
/* The image's identity, from its fstat after the last flush. */
void blk_bitmap_identify(struct blk_bitmap *b, const struct stat *st);
/* Is b the truth about the image whose fstat is st? */
enum blk_bitmap_why blk_bitmap_trust(const struct blk_bitmap *b,
				     const struct stat *st);
const char *blk_bitmap_why_text(enum blk_bitmap_why why);

/* The file's bytes (malloc'd). */
int blk_bitmap_encode(const struct blk_bitmap *b, uint8_t **buf, size_t *len,
		      struct error *err);
/* Parse untrusted bytes: every field checked; err_input on any fault. */
int blk_bitmap_parse(const uint8_t *buf, size_t len, struct blk_bitmap *b,
		     struct error *err);

/* IMAGE.vbitmap; -1 if it does not fit. */
int blk_bitmap_path(const char *image, char *out, size_t n);
/* Load the bitmap of image: 0, or 1 if there is none, or -1 (a message
 * naming the file; err->input if it is bad rather than unreadable). */
int blk_bitmap_load(const char *image, struct blk_bitmap *b, struct error *err);
/* Replace it atomically: a temporary file, fsync, rename, fsync of the
 * directory. */
int blk_bitmap_save(const char *image, const struct blk_bitmap *b,
		    struct error *err);
/* Remove it (none is fine). */
int blk_bitmap_remove(const char *image, struct error *err);

#endif

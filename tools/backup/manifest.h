/* One backup's manifest: REPO/backups/NAME/STAMP/manifest.json, written
 * last (docs/backup-format.md). JSON: the format number, the id, the
 * guest, its kind and definition (text and path), when and how long,
 * what was read and stored, and one item per disk or tree with its index
 * file and that file's SHA-256. Parsed as untrusted input. */
#ifndef VESSEL_BACKUP_MANIFEST_H
#define VESSEL_BACKUP_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/sha256.h"
#include "../base/error.h"

#define MANIFEST_FILE     "manifest.json"
#define MANIFEST_FORMAT   1
#define MANIFEST_MAX      (16u << 20)   /* bytes of a manifest file */
#define MANIFEST_ITEMS    64
#define BACKUP_NAME_MAX   64            /* a guest name */
#define BACKUP_STAMP_MAX  32            /* 2026-12-03T10:00:00Z.NN */
#define BACKUP_ID_MAX     (BACKUP_NAME_MAX + 1 + BACKUP_STAMP_MAX + 1)

enum item_type { ITEM_DISK, ITEM_TREE };

struct manifest_item {
	enum item_type type;
	char name[32];          /* disk0, disk1, ..., rootfs */
	char file[256];         /* what restore names it in --to DIR */
	char index[40];         /* the index file in the backup directory */
	uint8_t index_sha[SHA256_LEN];
	char *source;           /* the image or directory backed up */
	uint64_t size;          /* logical bytes (the image, the stream) */
	/* Disks (each optional when parsed: older manifests lack them) */
	uint64_t bitmap_gen;    /* the image's dirty bitmap since this
				 * backup; 0: none */
	uint64_t bytes_read;    /* of the image */
	bool incremental;       /* only the bitmap's dirty chunks were read */
	char full_reason[256];  /* else why not ("": a tree, or unknown) */
};

struct manifest {
	char id[BACKUP_ID_MAX];         /* NAME/STAMP */
	char guest[BACKUP_NAME_MAX + 1];
	char kind[16];                  /* "vm", "container" */
	int64_t started;                /* unix seconds */
	int64_t duration_ms;
	int64_t freeze_ms;              /* -1: not frozen */
	char *definition;               /* the definition file's text */
	char *definition_path;
	uint64_t bytes_read, bytes_logical, bytes_new, chunks, chunks_new;
	struct manifest_item item[MANIFEST_ITEMS];
	size_t nitems;
	char notes[1024];               /* for the user, never stored */
};

void manifest_free(struct manifest *m);
/* JSON text (malloc'd). */
char *manifest_encode(const struct manifest *m, bool pretty);
int manifest_parse(const char *buf, size_t len, struct manifest *m,
		   struct error *err);
/* A guest name as backups use it: 1..64 of [A-Za-z0-9._-], not "." first. */
bool backup_name_ok(const char *s);
/* A backup's time stamp: 2026-12-03T10:00:00Z, maybe with ".N". */
bool backup_stamp_ok(const char *s);
/* A file name restore may create: no '/', not "." or "..", 1..255. */
bool backup_file_ok(const char *s);

#endif

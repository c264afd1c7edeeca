/* Taking a backup (backup.h). */
#include "backup.h"
#include "disk.h"
#include "disk_bitmap.h"
#include "store.h"
#include "tree_backup.h"
#include "../base/clock.h"
#include "catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFINITION_MAX (1u << 20)

/* backups/NAME/STAMP, made now; its fd and the stamp. */
static int make_dir(struct repo *r, const char *guest, time_t t, char *stamp,
		    int *fd, struct error *err)
{
	char base[32], path[BACKUP_ID_MAX + 16];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(path, sizeof(path), "backups/%s", guest);
	if (mkdirat(r->dirfd, path, 0700) < 0 && errno != EEXIST)
		return err_sys(err, "%s/%s", r->path, path);
	for (int i = 0; i < 100; i++) {
		char try[64];

		if (i)
			snprintf(try, sizeof(try), "%.24s.%d", base, i);
		else
			snprintf(try, sizeof(try), "%.24s", base);
		memcpy(stamp, try, strlen(try) + 1);    /* at most 27 bytes */
		snprintf(path, sizeof(path), "backups/%s/%s", guest, stamp);
		if (mkdirat(r->dirfd, path, 0700) == 0) {
			*fd = openat(r->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			return *fd < 0 ? err_sys(err, "%s", path) : 0;
		}
		if (errno != EEXIST)
			return err_sys(err, "%s/%s", r->path, path);
	}
	return err_set(err, "%s: too many backups of %s this second", r->path,
		       guest);
}

static int read_definition(const char *path, struct manifest *m,
			   struct error *err)
{
	uint8_t *buf;
	size_t len;

	if (repo_read_file(AT_FDCWD, path, DEFINITION_MAX, &buf, &len, err) < 0)
		return err_prefix(err, "the definition");
	m->definition = malloc(len + 1);
	if (!m->definition) {
		free(buf);
		return err_set(err, "out of memory");
	}
	memcpy(m->definition, buf, len);
	m->definition[len] = '\0';
	free(buf);
	m->definition_path = realpath(path, NULL);
	return m->definition_path ? 0 : err_sys(err, "%s", path);
}

/* The name restore gives item i: the image's file name (unique among
 * the items), or "rootfs". */
static void item_names(struct manifest *m, size_t i, const char *path)
{
	struct manifest_item *it = &m->item[i];
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (it->type == ITEM_TREE) {
		snprintf(it->name, sizeof(it->name), "rootfs");
		snprintf(it->file, sizeof(it->file), "rootfs");
	} else {
		snprintf(it->name, sizeof(it->name), "disk%zu", i);
		snprintf(it->file, sizeof(it->file), "%s", base);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->item[j].file, it->file) || !backup_file_ok(base)) {
				snprintf(it->file, sizeof(it->file), "disk%zu-%.200s",
					 i, base);
				break;
			}
		if (!backup_file_ok(it->file))
			snprintf(it->file, sizeof(it->file), "disk%zu.img", i);
	}
	snprintf(it->index, sizeof(it->index), "%s.idx", it->name);
}

static int write_index(int dirfd, struct manifest_item *it,
		       const struct index *ix, struct error *err)
{
	uint8_t *buf;
	size_t len;
	int r;

	if (index_encode(ix, &buf, &len, err) < 0)
		return -1;
	sha256(buf, len, it->index_sha);
	r = repo_write_atomic(dirfd, it->index, buf, len, err);
	free(buf);
	return r;
}

/* Each disk's plan (disk_bitmap.h), against the guest's last backup:
 * every image locked from here on. */
static int open_plans(struct repo *r, const struct backup_req *req,
		      struct disk_plan *plan, struct error *err)
{
	struct catalog c = { 0 };
	const struct manifest *prev = NULL;
	int rc = 0;

	for (size_t i = 0; i < req->nsrc; i++)
		plan[i].fd = -1;
	if (catalog_load(r, req->guest, &c, err) < 0)
		return -1;
	for (size_t i = c.n; i-- > 0 && !prev;)
		if (!strcmp(c.m[i].guest, req->guest))
			prev = &c.m[i];
	for (size_t i = 0; i < req->nsrc && rc == 0; i++) {
		char name[32];

		if (req->src[i].type != ITEM_DISK)
			continue;
		snprintf(name, sizeof(name), "disk%zu", i);
		rc = req->src[i].live ?
		     disk_plan_live(&plan[i], r, req->src[i].path, name, prev,
				    req->src[i].marks, req->src[i].marks_gen,
				    err) :
		     disk_plan_open(&plan[i], r, req->src[i].path, name, prev, err);
	}
	catalog_free(&c);
	return rc;
}

/* The backup is committed: each disk's bitmap starts again from it. A
 * failure here costs the next backup a full read, nothing more. */
static void commit_plans(const struct backup_req *req, struct disk_plan *plan,
			 struct manifest *m)
{
	for (size_t i = 0; i < req->nsrc; i++) {
		struct error e = { 0 };
		size_t n = strlen(m->notes);

		if (req->src[i].type == ITEM_DISK &&
		    disk_plan_commit(&plan[i], &e) < 0)
			snprintf(m->notes + n, sizeof(m->notes) - n,
				 "%s: its dirty bitmap is not renewed (the next "
				 "backup reads it all): %s\n", plan[i].path, e.msg);
	}
}

static int read_sources(struct repo *r, const struct backup_req *req,
			struct store *s, struct progress *pg, int bfd,
			struct disk_plan *plan, struct manifest *m,
			struct error *err)
{
	for (size_t i = 0; i < req->nsrc; i++) {
		struct manifest_item *it = &m->item[i];
		struct tree_stats ts;
		struct index ix;
		uint64_t read0 = pg->read;
		int rc;

		it->type = req->src[i].type;
		item_names(m, i, req->src[i].path);
		it->source = strdup(req->src[i].path);
		m->nitems++;
		if (!it->source)
			return err_set(err, "out of memory");
		if (it->type == ITEM_DISK) {
			if (pg->on && plan[i].incremental)
				fprintf(stderr, "\r%s %s: incremental, %llu of %llu "
					"chunks marked\n", it->name, it->source,
					(unsigned long long)blk_bitmap_count(&plan[i].bm),
					(unsigned long long)plan[i].bm.chunks);
			else if (pg->on)
				fprintf(stderr, "\r%s %s: full read: %s\n", it->name,
					it->source, plan[i].reason);
			rc = disk_backup(s, &plan[i], req->src[i].view, &ix, pg, err);
			it->bytes_read = pg->read - read0;
			it->incremental = plan[i].incremental;
			snprintf(it->full_reason, sizeof(it->full_reason), "%s",
				 plan[i].reason);
			it->bitmap_gen = plan[i].regular ? plan[i].new_gen : 0;
		} else {
			rc = tree_backup(s, it->source, &ix, pg, &ts, err);
		}
		if (rc == 0) {
			it->size = ix.size;
			rc = write_index(bfd, it, &ix, err);
		}
		index_free(&ix);
		if (rc < 0)
			return -1;
	}
	(void)r;
	return 0;
}

int backup_take(struct repo *r, const struct backup_req *req,
		struct manifest *m, struct error *err)
{
	char stamp[BACKUP_STAMP_MAX + 1];
	struct disk_plan *plan = NULL;
	long long t0 = now_ms(), tf = 0;
	struct progress pg;
	struct store s;
	uint64_t total = 0;
	bool frozen = false;
	char *text = NULL;
	int bfd = -1, rc = -1;

	memset(m, 0, sizeof(*m));
	m->freeze_ms = -1;
	if (req->nsrc > MANIFEST_ITEMS)
		return err_input(err, "%zu disks (at most %d)", req->nsrc,
				 MANIFEST_ITEMS);
	if (!backup_name_ok(req->guest))
		return err_input(err, "'%s' cannot name a backup", req->guest);
	for (size_t i = 0; i < req->nsrc; i++) {
		struct stat st;

		if (stat(req->src[i].path, &st) < 0)
			return err_sys(err, "%s", req->src[i].path);
		if (req->src[i].type == ITEM_DISK)
			total += S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		else if (!S_ISDIR(st.st_mode))
			return err_input(err, "%s: a container's rootfs must be a "
					 "directory to be backed up",
					 req->src[i].path);
	}
	plan = calloc(req->nsrc ? req->nsrc : 1, sizeof(*plan));
	if (!plan)
		return err_set(err, "out of memory");
	for (size_t i = 0; i < req->nsrc; i++)
		plan[i].fd = -1;
	if (read_definition(req->definition_path, m, err) < 0 ||
	    store_init(&s, r, err) < 0) {
		free(plan);
		return -1;
	}
	if (open_plans(r, req, plan, err) < 0)
		goto out;
	snprintf(m->guest, sizeof(m->guest), "%s", req->guest);
	snprintf(m->kind, sizeof(m->kind), "%s", req->kind);
	m->started = time(NULL);
	if (make_dir(r, req->guest, (time_t)m->started, stamp, &bfd, err) < 0)
		goto out;
	snprintf(m->id, sizeof(m->id), "%s/%s", req->guest, stamp);
	progress_start(&pg, req->progress, total);
	pg.report = req->report;
	pg.report_opaque = req->opaque;
	if (req->freeze) {
		if (req->freeze(req->opaque, err) < 0)
			goto out;
		frozen = true;
		tf = now_ms();
	}
	rc = read_sources(r, req, &s, &pg, bfd, plan, m, err);
	if (frozen) {
		struct error e2 = { 0 };

		m->freeze_ms = now_ms() - tf;
		if (req->thaw(req->opaque, &e2) < 0 && rc == 0) {
			*err = e2;
			rc = -1;
		}
	}
	if (rc < 0)
		goto out;
	rc = -1;
	progress_show(&pg, true);
	m->bytes_read = pg.read;
	m->bytes_new = s.st.bytes_new;
	m->chunks = s.st.chunks;
	m->chunks_new = s.st.chunks_new;
	for (size_t i = 0; i < m->nitems; i++)
		m->bytes_logical += m->item[i].size;
	m->duration_ms = now_ms() - t0;
	/* Everything the manifest refers to is durable before it is. */
	if (syncfs(r->dirfd) < 0) {
		err_sys(err, "syncfs %s", r->path);
		goto out;
	}
	text = manifest_encode(m, true);
	if (!text) {
		err_set(err, "out of memory");
		goto out;
	}
	rc = repo_write_atomic(bfd, MANIFEST_FILE, text, strlen(text), err);
	if (rc == 0)
		commit_plans(req, plan, m);
out:
	for (size_t i = 0; i < req->nsrc; i++)
		if (req->src[i].type == ITEM_DISK)
			disk_plan_close(&plan[i]);
	free(plan);
	free(text);
	store_free(&s);
	if (bfd >= 0)
		close(bfd);
	if (rc < 0 && m->id[0])
		catalog_remove(r, m->id, &(struct error){ 0 });
	return rc;
}

/* A backup of a running VM (backup_live.h): the supervisor's side, then
 * the CLI's. */
#include "backup_live.h"
#include "config.h"
#include "control.h"
#include "manage.h"
#include "backup/backup.h"
#include "backup/catalog.h"
#include "backup/disk.h"
#include "../devices/block/cbw.h"
#include "../vmm/machine/machine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

/* The longest the CLI waits for the next line: a progress line comes at
 * least every chunk, and the start holds the VM for at most 5 s. */
#define LIVE_LINE_TIMEOUT_MS (600 * 1000)

/* ---- in the supervisor ---- */

struct live_ctx {
	const struct guest_config *cfg;
	struct live_backup *b;
	struct repo *r;
};

/* vm_control_backup's fn: the disks, through their copy-before-write,
 * with the marks taken at the point in time. */
static int read_disks(void *opaque, const struct vm_backup_disk *d, size_t n,
		      struct error *err)
{
	struct live_ctx *x = opaque;
	struct backup_source src[MANIFEST_ITEMS];
	struct disk_view view[MANIFEST_ITEMS];
	struct backup_req req = {
		.guest = x->cfg->name, .kind = "vm",
		.definition_path = x->b->definition, .src = src, .nsrc = n,
		.report = x->b->report, .opaque = x->b->opaque,
	};
	struct manifest m;
	int rc;

	if (n == 0 || n > MANIFEST_ITEMS || n != x->cfg->vm.ndisks)
		return err_input(err, "%s has %zu disks: nothing to back up (or "
				 "more than %d)", x->cfg->name, n, MANIFEST_ITEMS);
	for (size_t i = 0; i < n; i++) {
		view[i] = (struct disk_view){ blk_cbw_claim, blk_cbw_release,
					      d[i].cbw };
		src[i] = (struct backup_source){
			.type = ITEM_DISK, .path = x->cfg->vm.disks[i].path,
			.view = d[i].cbw ? &view[i] : NULL, .live = true,
			.marks = d[i].tracked ? &d[i].marks : NULL,
			.marks_gen = d[i].new_gen,
		};
	}
	rc = backup_take(x->r, &req, &m, err);
	if (rc == 0)
		snprintf(x->b->id, sizeof(x->b->id), "%s", m.id);
	manifest_free(&m);
	for (size_t i = 0; i < n; i++) {
		struct blk_cbw_stats st;

		if (!d[i].cbw)
			continue;
		blk_cbw_get_stats(d[i].cbw, &st);
		x->b->st.copies += st.copies;
		x->b->st.copied += st.copied;
		x->b->st.waits += st.waits;
	}
	return rc;
}

int live_backup_run(struct vm_control *vmc, const struct guest_config *cfg,
		    struct live_backup *b, struct error *err)
{
	struct live_ctx x = { cfg, b, NULL };
	struct repo r;
	int rc;

	b->id[0] = '\0';
	memset(&b->st, 0, sizeof(b->st));
	if (repo_open(&r, b->repo, REPO_EXISTING, err) < 0 ||
	    repo_lock(&r, false, err) < 0) {
		repo_close(&r);
		return -1;
	}
	x.r = &r;
	/* The copies wait in the repository's file system, unnamed: the
	 * space a backup needs anyway, gone with the process. */
	rc = vm_control_backup(vmc, r.path, DISK_CHUNK, read_disks, &x, err);
	repo_close(&r);
	return rc;
}

/* ---- in the CLI ---- */

static void take_progress(struct progress *pg, struct json_object *msg)
{
	struct json_object *p = NULL;

	json_object_object_get_ex(msg, "progress", &p);
	pg->total = (uint64_t)control_num(p, "total", 0);
	pg->done = (uint64_t)control_num(p, "done", 0);
	pg->read = (uint64_t)control_num(p, "read", 0);
	pg->stored = (uint64_t)control_num(p, "stored", 0);
	progress_show(pg, false);
}

/* The supervisor's reply: the id of the backup it made. */
static int take_reply(struct repo *r, struct json_object *msg,
		      struct manifest *m, struct live_stats *st,
		      struct error *err)
{
	const char *id = control_str(msg, "id");

	if (!control_bool(msg, "ok", false))
		return err_set(err, "%s", control_str(msg, "error") ?:
			       "the backup failed");
	if (!id || !backup_id_ok(id))
		return err_set(err, "the supervisor named no backup");
	st->copies = (uint64_t)control_num(msg, "cbw_chunks", 0);
	st->copied = (uint64_t)control_num(msg, "cbw_bytes", 0);
	st->waits = (uint64_t)control_num(msg, "cbw_waits", 0);
	return catalog_get(r, id, m, err);
}

int live_backup_request(const char *name, struct repo *r, bool progress,
			struct manifest *m, struct live_stats *st,
			struct error *err)
{
	struct json_object *req, *msg = NULL;
	struct progress pg;
	char abs[PATH_MAX];
	int fd, rc = -1;

	memset(m, 0, sizeof(*m));
	memset(st, 0, sizeof(*st));
	if (!realpath(r->path, abs))
		return err_sys(err, "%s", r->path);
	fd = guest_connect(name, err);
	if (fd < 0)
		return -1;
	req = control_request("backup");
	json_object_object_add(req, "repo", json_object_new_string(abs));
	rc = control_send(fd, req, err);
	json_object_put(req);
	progress_start(&pg, progress, 0);
	while (rc == 0) {
		if (control_read(fd, &msg, LIVE_LINE_TIMEOUT_MS, err) < 0) {
			err_prefix(err, "%s's supervisor", name);
			rc = -1;
			break;
		}
		if (json_object_object_get_ex(msg, "progress", NULL)) {
			take_progress(&pg, msg);
			json_object_put(msg);
			continue;
		}
		rc = take_reply(r, msg, m, st, err);
		json_object_put(msg);
		break;
	}
	if (rc == 0)
		progress_show(&pg, true);
	close(fd);
	return rc;
}

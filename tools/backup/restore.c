/* Restoring a backup (restore.h). */
#include "restore.h"
#include "catalog.h"
#include "disk.h"
#include "stream.h"
#include "../base/clock.h"
#include "../../container/rmtree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_free(int dirfd, const char *to, const char *name, bool force,
		      struct error *err)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_sys(err, "%s/%s", to, name);
	if (!force)
		return err_input(err, "%s/%s exists (--force replaces it)", to, name);
	return 0;
}

static int restore_tree(struct repo *r, struct store *s, const struct index *ix,
			int dirfd, const char *tmp, struct progress *pg,
			struct restore_result *res, struct error *err)
{
	struct stream_in in;
	int fd, rc;

	if (mkdirat(dirfd, tmp, 0700) < 0)
		return err_sys(err, "%s", tmp);
	fd = openat(dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "%s", tmp);
	rc = stream_in_init(&in, s, ix, err);
	if (rc == 0)
		rc = tree_restore(&in.src, fd, pg, &res->tree, err);
	stream_in_free(&in);
	close(fd);
	(void)r;
	return rc;
}

/* Rename tmp over name (removing an old one first: force). */
static int put_in_place(int dirfd, const char *tmp, const char *name,
			struct error *err)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) && rmtree_at(dirfd, name, err) < 0)
		return -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		return err_sys(err, "renaming into %s", name);
	return 0;
}

int backup_restore(struct repo *r, const char *id, const char *to, bool force,
		   bool progress, struct restore_result *res, struct error *err)
{
	long long t0 = now_ms();
	struct manifest m;
	struct progress pg;
	struct store s;
	size_t i;
	int dirfd, rc = -1;

	memset(res, 0, sizeof(*res));
	if (catalog_get(r, id, &m, err) < 0)
		return -1;
	if (mkdir(to, 0700) < 0 && errno != EEXIST) {
		manifest_free(&m);
		return err_sys(err, "%s", to);
	}
	dirfd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		manifest_free(&m);
		return err_sys(err, "%s", to);
	}
	if (store_init(&s, r, err) < 0)
		goto out_fd;
	if (check_free(dirfd, to, RESTORE_DEFINITION, force, err) < 0)
		goto out;
	for (i = 0; i < m.nitems; i++) {
		if (check_free(dirfd, to, m.item[i].file, force, err) < 0)
			goto out;
		res->bytes += m.item[i].size;
	}
	progress_start(&pg, progress, res->bytes);
	for (i = 0; i < m.nitems; i++) {
		char tmp[128];
		struct index ix;
		int r2;

		repo_tmp_name(tmp, sizeof(tmp), m.item[i].file);
		if (catalog_index(r, &m, i, &ix, err) < 0)
			goto out;
		if (m.item[i].type == ITEM_DISK) {
			r2 = disk_restore(&s, &ix, dirfd, tmp, &pg, err);
		} else {
			r2 = restore_tree(r, &s, &ix, dirfd, tmp, &pg, res, err);
			if (r2 < 0)
				rmtree_at(dirfd, tmp, &(struct error){ 0 });
		}
		index_free(&ix);
		if (r2 < 0 || put_in_place(dirfd, tmp, m.item[i].file, err) < 0) {
			err_prefix(err, "restoring %s", m.item[i].file);
			rmtree_at(dirfd, tmp, &(struct error){ 0 });
			goto out;
		}
	}
	if (repo_write_atomic(dirfd, RESTORE_DEFINITION, m.definition,
			      strlen(m.definition), err) < 0)
		goto out;
	progress_show(&pg, true);
	res->ms = now_ms() - t0;
	rc = 0;
out:
	store_free(&s);
out_fd:
	close(dirfd);
	manifest_free(&m);
	return rc;
}

/* The backups of a repository (catalog.h). */
#include "catalog.h"
#include "../../container/rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool backup_id_ok(const char *id)
{
	const char *slash = strchr(id, '/');
	char name[BACKUP_NAME_MAX + 1];
	size_t n;

	if (!slash || (size_t)(slash - id) > BACKUP_NAME_MAX ||
	    strlen(slash + 1) > BACKUP_STAMP_MAX || !slash[1])
		return false;
	n = (size_t)(slash - id);
	memcpy(name, id, n);
	name[n] = '\0';
	return backup_name_ok(name) && backup_stamp_ok(slash + 1);
}

static int load_manifest(int dirfd, const char *path, struct manifest *m,
			 struct error *err)
{
	uint8_t *buf;
	size_t len;
	int r;

	if (repo_read_file(dirfd, path, MANIFEST_MAX, &buf, &len, err) < 0)
		return -1;
	r = manifest_parse((const char *)buf, len, m, err);
	free(buf);
	return r;
}

int catalog_get(struct repo *r, const char *id, struct manifest *m,
		struct error *err)
{
	char path[BACKUP_ID_MAX + 32];

	memset(m, 0, sizeof(*m));
	if (!backup_id_ok(id))
		return err_input(err, "'%s' is not a backup id (NAME/STAMP, see "
				 "`vessel backup list`)", id);
	snprintf(path, sizeof(path), "backups/%s/%s", id, MANIFEST_FILE);
	if (faccessat(r->dirfd, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return err_input(err, "%s: no backup %s", r->path, id);
	if (load_manifest(r->dirfd, path, m, err) < 0)
		return err_prefix(err, "backup %s", id);
	if (strcmp(m->id, id)) {
		err_input(err, "backup %s: its manifest says it is %s", id, m->id);
		manifest_free(m);
		return -1;
	}
	return 0;
}

int catalog_index(struct repo *r, const struct manifest *m, size_t i,
		  struct index *ix, struct error *err)
{
	char path[BACKUP_ID_MAX + 64];
	uint8_t *buf, sum[SHA256_LEN];
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "backups/%s/%s", m->id, m->item[i].index);
	if (repo_read_file(r->dirfd, path, 64 + (size_t)INDEX_MAX_ENTRIES *
			   INDEX_ENTRY, &buf, &len, err) < 0)
		return err_prefix(err, "backup %s", m->id);
	sha256(buf, len, sum);
	if (memcmp(sum, m->item[i].index_sha, SHA256_LEN)) {
		free(buf);
		return err_input(err, "backup %s: index %s is damaged (its hash "
				 "differs from the manifest's)", m->id,
				 m->item[i].index);
	}
	rc = index_parse(buf, len, ix, err);
	free(buf);
	if (rc < 0)
		return err_prefix(err, "backup %s: %s", m->id, m->item[i].index);
	if ((ix->kind == INDEX_DISK) != (m->item[i].type == ITEM_DISK) ||
	    ix->size != m->item[i].size) {
		index_free(ix);
		return err_input(err, "backup %s: index %s does not match its "
				 "item", m->id, m->item[i].index);
	}
	return 0;
}

static int cmp_manifest(const void *a, const void *b)
{
	const struct manifest *x = a, *y = b;
	int c = strcmp(x->guest, y->guest);

	if (c)
		return c;
	if (x->started != y->started)
		return x->started < y->started ? -1 : 1;
	return strcmp(x->id, y->id);
}

static void *grow(void *p, size_t n, size_t size)
{
	/* Powers of two: grow when n is one. */
	if (n && (n & (n - 1)))
		return p;
	return realloc(p, (n ? 2 * n : 1) * size);
}

static int one_guest(struct repo *r, struct catalog *c, const char *guest,
		     struct error *err)
{
	char path[BACKUP_ID_MAX + 32];
	struct dirent *e;
	DIR *d;
	int fd;

	snprintf(path, sizeof(path), "backups/%s", guest);
	fd = openat(r->dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d))) {
		char id[BACKUP_ID_MAX + 1];
		struct error e2 = { 0 };
		void *p;

		if (e->d_name[0] == '.' || strlen(e->d_name) > BACKUP_STAMP_MAX)
			continue;
		snprintf(id, sizeof(id), "%.64s/%.32s", guest, e->d_name);
		snprintf(path, sizeof(path), "backups/%s/%s", id, MANIFEST_FILE);
		if (faccessat(r->dirfd, path, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
			if (!(p = grow(c->unfinished, c->nunfinished,
				       sizeof(*c->unfinished))))
				goto oom;
			c->unfinished = p;
			snprintf(c->unfinished[c->nunfinished++],
				 sizeof(*c->unfinished), "%s", id);
			continue;
		}
		if (!(p = grow(c->m, c->n, sizeof(*c->m))))
			goto oom;
		c->m = p;
		if (catalog_get(r, id, &c->m[c->n], &e2) == 0) {
			c->n++;
			continue;
		}
		if (!(p = grow(c->damaged, c->ndamaged, sizeof(*c->damaged))))
			goto oom;
		c->damaged = p;
		snprintf(c->damaged[c->ndamaged++], sizeof(*c->damaged),
			 "%s (%.60s)", id, e2.msg);
	}
	closedir(d);
	return 0;
oom:
	closedir(d);
	return err_set(err, "out of memory");
}

int catalog_load(struct repo *r, const char *guest, struct catalog *c,
		 struct error *err)
{
	struct dirent *e;
	DIR *d;
	int fd;

	memset(c, 0, sizeof(*c));
	if (guest)
		return one_guest(r, c, guest, err) < 0 ? -1 :
		       (c->n ? qsort(c->m, c->n, sizeof(*c->m), cmp_manifest) : (void)0, 0);
	fd = openat(r->dirfd, "backups", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_sys(err, "%s/backups", r->path);
	}
	while ((e = readdir(d)))
		if (backup_name_ok(e->d_name) && one_guest(r, c, e->d_name, err) < 0) {
			closedir(d);
			catalog_free(c);
			return -1;
		}
	closedir(d);
	if (c->n)
		qsort(c->m, c->n, sizeof(*c->m), cmp_manifest);
	return 0;
}

void catalog_free(struct catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		manifest_free(&c->m[i]);
	free(c->m);
	free(c->damaged);
	free(c->unfinished);
	memset(c, 0, sizeof(*c));
}

int catalog_remove(struct repo *r, const char *id, struct error *err)
{
	char path[BACKUP_ID_MAX + 32];
	const char *slash = strchr(id, '/');
	int fd, rc;

	if (!backup_id_ok(id))
		return err_input(err, "'%s' is not a backup id", id);
	snprintf(path, sizeof(path), "backups/%s/%s", id, MANIFEST_FILE);
	if (unlinkat(r->dirfd, path, 0) < 0 && errno != ENOENT)
		return err_sys(err, "removing %s", path);
	snprintf(path, sizeof(path), "backups/%.*s", (int)(slash - id), id);
	fd = openat(r->dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_sys(err, "%s", path);
	rc = rmtree_at(fd, slash + 1, err);
	close(fd);
	return rc;
}

/* Pruning and collecting (prune.h). */
#include "prune.h"
#include "refs.h"
#include "store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Mark keep[] for one guest's backups c->m[lo..hi) (oldest first). */
static void select_guest(const struct catalog *c, size_t lo, size_t hi,
			 const struct prune_opts *o, bool *keep)
{
	int64_t days[4096];
	size_t ndays = 0, kept = 0, i;

	for (i = hi; i-- > lo && kept < o->keep_last;) {
		keep[i] = true;
		kept++;
	}
	/* Days that kept backups already cover count for nothing. */
	for (i = lo; i < hi; i++)
		if (keep[i] && ndays < 4096)
			days[ndays++] = c->m[i].started / 86400;
	kept = 0;
	for (i = hi; i-- > lo && kept < o->keep_daily;) {
		int64_t day = c->m[i].started / 86400;
		bool seen = false;

		for (size_t k = 0; k < ndays; k++)
			seen |= days[k] == day;
		if (seen || keep[i])
			continue;
		keep[i] = true;
		kept++;
		if (ndays < 4096)
			days[ndays++] = day;
	}
}

struct gc {
	struct repo *r;
	struct refs *refs;
	struct prune_result *res;
	bool dry;
	struct error *err;
};

static int collect(void *opaque, const uint8_t *digest, const char *name,
		   int dirfd, const char *file)
{
	struct gc *g = opaque;
	struct stat st;

	(void)name;
	if (digest && refs_has(g->refs, digest))
		return 0;
	if (fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (digest) {
		g->res->chunks_removed++;
		g->res->bytes_freed += (uint64_t)st.st_size;
	} else {
		g->res->tmp++;
	}
	if (!g->dry && unlinkat(dirfd, file, 0) < 0)
		return err_sys(g->err, "removing chunk %s", name);
	return 0;
}

int backup_prune(struct repo *r, const struct prune_opts *o, FILE *out,
		 struct prune_result *res, struct error *err)
{
	struct catalog c;
	struct refs refs = { 0 };
	struct store s = { 0 };
	bool *keep = NULL;
	size_t lo, hi, i;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (o->keep_last == 0 && o->keep_daily == 0)
		return err_input(err, "prune needs --keep-last or --keep-daily "
				 "(it would remove every backup)");
	if (repo_lock(r, true, err) < 0 || catalog_load(r, NULL, &c, err) < 0)
		return -1;
	keep = calloc(c.n + 1, sizeof(*keep));
	if (!keep || store_init(&s, r, err) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	for (lo = 0; lo < c.n; lo = hi) {
		for (hi = lo; hi < c.n && !strcmp(c.m[hi].guest, c.m[lo].guest); hi++)
			;
		select_guest(&c, lo, hi, o, keep);
	}
	for (i = 0; i < c.n; i++) {
		fprintf(out, "%s %s\n", keep[i] ? "keep" : "remove", c.m[i].id);
		if (keep[i]) {
			res->kept++;
			continue;
		}
		res->removed++;
		if (!o->dry_run && catalog_remove(r, c.m[i].id, err) < 0)
			goto out;
	}
	/* Collect, from what is left. */
	if (c.ndamaged) {
		rc = err_input(err, "backup %s: manifest unreadable: no chunk "
			       "collected (remove that backup's directory, or "
			       "repair it)", c.damaged[0]);
		goto out;
	}
	for (i = 0; i < c.nunfinished; i++) {
		res->unfinished++;
		if (!o->dry_run && catalog_remove(r, c.unfinished[i], err) < 0)
			goto out;
	}
	{
		struct catalog left = c;
		size_t n = 0;

		/* The kept ones only: a removed backup's chunks may go. */
		left.m = calloc(c.n + 1, sizeof(*left.m));
		if (!left.m) {
			err_set(err, "out of memory");
			goto out;
		}
		for (i = 0; i < c.n; i++)
			if (keep[i])
				left.m[n++] = c.m[i];
		left.n = n;
		rc = refs_collect(r, &left, -1, &refs, err);
		free(left.m);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	if (refs.nbad) {
		rc = err_input(err, "%s: no chunk collected", refs.bad[0].why);
		goto out;
	}
	{
		struct gc g = { r, &refs, res, o->dry_run, err };

		if (store_each(&s, true, collect, &g, err) < 0)
			goto out;
	}
	rc = 0;
out:
	refs_free(&refs);
	store_free(&s);
	free(keep);
	catalog_free(&c);
	return rc;
}

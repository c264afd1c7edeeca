#include "rmtree.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>

static int failed;

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DNR || type == FTW_NS) {
		failed = failed ? failed : EACCES;
		return 0;
	}
	if (remove(path) < 0 && errno != ENOENT && !failed)
		failed = errno;
	return 0;
}

int rmtree(const char *path, struct error *err)
{
	failed = 0;
	if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 &&
	    errno != ENOENT)
		return err_sys(err, "removing %s", path);
	if (failed) {
		errno = failed;
		return err_sys(err, "removing %s", path);
	}
	return 0;
}

#include "masks.h"
#include "mounts.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int mask(const char *path, struct error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(err, "masking %s", path);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID |
			  MS_NODEV | MS_NOEXEC, "size=0,mode=555") < 0)
			return err_sys(err, "masking %s with a tmpfs", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		return err_sys(err, "masking %s with /dev/null", path);
	}
	return 0;
}

static int make_ro(const char *path, struct error *err)
{
	if (access(path, F_OK) < 0)
		return 0;
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys(err, "bind-mounting %s", path);
	return remount_ro(path, err);
}

int masks_apply(const struct ct_spec *s, struct error *err)
{
	size_t i;

	for (i = 0; i < s->nreadonly; i++)
		if (make_ro(s->readonly[i], err) < 0)
			return -1;
	for (i = 0; i < s->nmasked; i++)
		if (mask(s->masked[i], err) < 0)
			return -1;
	return 0;
}

#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

int mount_in(int rootfd, const char *target, enum mkpath how,
	     const char *src, const char *fstype, unsigned long flags,
	     const char *data, struct error *err)
{
	char fdpath[64];
	int fd, ret = 0;

	fd = path_open_in_root(rootfd, target, how, err);
	if (fd < 0)
		return -1;
	if (mount(src, path_fd(fd, fdpath, sizeof(fdpath)), fstype, flags,
		  data) < 0)
		ret = err_sys(err, "mounting %s on %s", fstype ? fstype : src,
			      target);
	close(fd);
	return ret;
}

int remount_ro(const char *path, struct error *err)
{
	static const struct { unsigned long st, ms; } keep[] = {
		{ ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC }, { ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
	};
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
	struct statvfs sv;
	size_t i;

	if (statvfs(path, &sv) < 0)
		return err_sys(err, "statvfs %s", path);
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (sv.f_flag & keep[i].st)
			flags |= keep[i].ms;
	if (mount(NULL, path, NULL, flags, NULL) < 0)
		return err_sys(err, "making %s read-only", path);
	return 0;
}

int mount_attr_set(int fd, bool recursive, uint64_t attrs, const char *what,
		   struct error *err)
{
	struct mount_attr attr = { .attr_set = attrs };

	if (mount_setattr(fd, "", AT_EMPTY_PATH |
			  (recursive ? AT_RECURSIVE : 0), &attr,
			  sizeof(attr)) == 0)
		return 0;
	if (errno == ENOSYS)
		return err_set(err, "%s: this kernel has no mount_setattr(2), "
			       "which vessel needs to make mounts nodev, "
			       "nosuid and (recursively) read-only; Linux "
			       "5.12 or later is needed", what);
	return err_sys(err, "%s: mount_setattr", what);
}

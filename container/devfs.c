#include "devfs.h"
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char *const devices[] = {
	"null", "zero", "full", "random", "urandom", "tty",
};

static const struct { const char *name, *target; } links[] = {
	{ "ptmx", "pts/ptmx" },
	{ "fd", "/proc/self/fd" },
	{ "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" },
	{ "stderr", "/proc/self/fd/2" },
};

/* Bind the host's src onto an empty file dev/name. */
static int bind_node(int devfd, const char *name, const char *src,
		     struct error *err)
{
	char target[96];
	int fd;

	fd = openat(devfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0666);
	if (fd < 0)
		return err_sys(err, "creating /dev/%s", name);
	close(fd);
	snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", devfd, name);
	if (mount(src, target, NULL, MS_BIND, NULL) < 0)
		return err_sys(err, "bind-mounting %s on /dev/%s", src, name);
	return 0;
}

static int submount(int devfd, const char *name, const char *fstype,
		    unsigned long flags, const char *data, struct error *err)
{
	char target[96];

	if (mkdirat(devfd, name, 0755) < 0 && errno != EEXIST)
		return err_sys(err, "creating /dev/%s", name);
	snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", devfd, name);
	if (mount(fstype, target, fstype, flags, data) < 0)
		return err_sys(err, "mounting %s on /dev/%s", fstype, name);
	return 0;
}

/* A node of its own for the host's src: the same device number, mode
 * 0666. 1 if made, 0 if this process may not make device nodes (in a user
 * namespace: the caller binds instead), -1 on error. */
static int make_node(int devfd, const char *name, const char *src,
		     struct error *err)
{
	struct stat st;

	if (stat(src, &st) < 0)
		return err_sys(err, "%s", src);
	if (!S_ISCHR(st.st_mode))
		return err_set(err, "%s is not a character device", src);
	if (mknodat(devfd, name, S_IFCHR | 0666, st.st_rdev) < 0)
		return errno == EPERM ? 0 : err_sys(err, "creating /dev/%s", name);
	/* The umask took bits off. */
	if (fchmodat(devfd, name, 0666, 0) < 0)
		return err_sys(err, "chmod /dev/%s", name);
	return 1;
}

int devfs_nodes(int devfd, const char *console, struct error *err)
{
	char src[64];
	struct statvfs vfs;
	bool mknod_ok;
	size_t i;

	/* Nodes of their own where allowed (a mount each would cost the
	 * container's start more, and its teardown: issue #15); binds of
	 * the host's nodes in a user namespace, where mknod is refused, and
	 * on a /dev mounted nodev (an OCI spec's), where nodes would not open. */
	mknod_ok = fstatvfs(devfd, &vfs) == 0 && !(vfs.f_flag & ST_NODEV);
	for (i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		int made = 0;

		snprintf(src, sizeof(src), "/dev/%s", devices[i]);
		if (mknod_ok) {
			made = make_node(devfd, devices[i], src, err);
			if (made < 0)
				return -1;
			mknod_ok = made;
		}
		if (!made && bind_node(devfd, devices[i], src, err) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i].target, devfd, links[i].name) < 0)
			return err_sys(err, "creating /dev/%s", links[i].name);
	if (console && bind_node(devfd, "console", console, err) < 0)
		return -1;
	return 0;
}

static int fill(int devfd, const char *console, struct error *err)
{
	const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (devfs_nodes(devfd, console, err) < 0 ||
	    submount(devfd, "pts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0 ||
	    submount(devfd, "shm", "tmpfs", nse, "mode=1777,size=65536k",
		     err) < 0 ||
	    submount(devfd, "mqueue", "mqueue", nse, NULL, err) < 0)
		return -1;
	return 0;
}

int devfs_setup(int rootfd, const char *console, struct error *err)
{
	int devfd, ret;

	if (mount_in(rootfd, "dev", MKPATH_DIR, "tmpfs", "tmpfs",
		     MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
		     err) < 0)
		return -1;
	/* Opened again, now that the tmpfs is on top. */
	devfd = path_open_in_root(rootfd, "dev", MKPATH_NONE, err);
	if (devfd < 0)
		return -1;
	ret = fill(devfd, console, err);
	close(devfd);
	if (ret < 0)
		return err_prefix(err, "/dev");
	return 0;
}

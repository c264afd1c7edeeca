/* The API filesystems PID 1 mounts before anything else. */
#include "init.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *source, *target, *type;
	unsigned long flags;
	const char *data;
	mode_t mode;
} mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755 },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	  "gid=5,mode=0620,ptmxmode=0666", 0755 },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755 },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2",
	  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
};

int init_root_bind(struct error *err)
{
	/* The initramfs is rootfs, the one mount without a parent, and
	 * pivot_root(2) refuses to move that aside: containers could not
	 * start. A bind mount of it, moved over / and chrooted into, is an
	 * ordinary mount on top of rootfs (what switch_root does with a
	 * real root). */
	if (mkdir("/.root", 0700) < 0 && errno != EEXIST)
		return err_sys(err, "mkdir /.root");
	if (mount("/", "/.root", NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys(err, "bind-mounting / on /.root");
	if (chdir("/.root") < 0)
		return err_sys(err, "chdir /.root");
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return err_sys(err, "moving /.root to /");
	if (chroot(".") < 0 || chdir("/") < 0)
		return err_sys(err, "chroot into the bind mount");
	return 0;
}

int init_mount_all(struct error *err)
{
	char done[256] = "";

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		if (mkdir(mounts[i].target, mounts[i].mode) < 0 &&
		    errno != EEXIST)
			return err_sys(err, "mkdir %s", mounts[i].target);
		/* The kernel may have mounted devtmpfs already
		 * (CONFIG_DEVTMPFS_MOUNT does not apply to an initramfs,
		 * but a second init run would find them all). */
		if (mount(mounts[i].source, mounts[i].target, mounts[i].type,
			  mounts[i].flags, mounts[i].data) < 0 && errno != EBUSY)
			return err_sys(err, "mount %s on %s", mounts[i].type,
				       mounts[i].target);
		strncat(done, " ", sizeof(done) - strlen(done) - 1);
		strncat(done, mounts[i].target, sizeof(done) - strlen(done) - 1);
	}
	/* /dev/fd and friends, as a usual /dev has them. */
	symlink("/proc/self/fd", "/dev/fd");
	symlink("/proc/self/fd/0", "/dev/stdin");
	symlink("/proc/self/fd/1", "/dev/stdout");
	symlink("/proc/self/fd/2", "/dev/stderr");
	init_log("mounted%s", done);
	return 0;
}

int init_umount(const char *path, struct error *err)
{
	for (int i = 0; i < 10; i++) {
		if (umount(path) == 0)
			return 0;
		if (errno != EBUSY)
			return err_sys(err, "umount %s", path);
		usleep(200 * 1000);
	}
	/* Still busy: at least remount it read-only so it is clean. */
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0)
		return err_set(err, "umount %s: busy (remounted read-only)",
			       path);
	return err_sys(err, "umount %s", path);
}

#include "rootfs.h"
#include "devfs.h"
#include "masks.h"
#include "mounts.h"
#include "oci_mounts.h"
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NSE (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static int kernel_fs(int rootfd, const struct rootfs_spec *s,
		     struct error *err)
{
	if (mount_in(rootfd, "proc", MKPATH_DIR, "proc", "proc", NSE, NULL,
		     err) < 0 ||
	    mount_in(rootfd, "sys", MKPATH_DIR, "sysfs", "sysfs",
		     NSE | MS_RDONLY, NULL, err) < 0)
		return -1;
	if (s->cgroup2 && mount_in(rootfd, "sys/fs/cgroup", MKPATH_NONE,
				   "cgroup", "cgroup2",
				   NSE | (s->cgroup_rw ? 0 : MS_RDONLY), NULL,
				   err) < 0)
		return -1;
	if (mount_in(rootfd, "run", MKPATH_DIR, "tmpfs", "tmpfs",
		     MS_NOSUID | MS_NODEV, "mode=755,size=65536k", err) < 0 ||
	    mount_in(rootfd, "run/lock", MKPATH_DIR, "tmpfs", "tmpfs", NSE,
		     "mode=1777,size=5120k", err) < 0)
		return -1;
	return 0;
}

/* Mount points the child mounts on later, made now: with readonly: true
 * the root is read-only by then. */
static const char *const mount_points[] = { "proc", "sys", "dev", "run" };

/* The configured bind mounts, each recursive, nodev and nosuid, and
 * with readonly: true read-only down to its last submount. Each is made
 * as a detached tree (open_tree), given its flags there, then moved onto
 * the target resolved inside the rootfs: nothing is resolved twice. */
static int binds(int rootfd, const struct container_config *c,
		 struct error *err)
{
	struct stat st;
	int tree, fd, r;
	size_t i;

	for (i = 0; i < c->nmounts; i++) {
		const struct ct_mount *m = &c->mounts[i];

		tree = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE |
				 OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (tree < 0)
			return err_sys(err, "bind mount source '%s'",
				       m->source);
		r = fstat(tree, &st) < 0 ?
		    err_sys(err, "bind mount source '%s'", m->source) :
		    mount_attr_set(tree, true, MOUNT_ATTR_NODEV |
				   MOUNT_ATTR_NOSUID | (m->readonly ?
				   MOUNT_ATTR_RDONLY : 0), m->target, err);
		fd = r < 0 ? -1 : path_open_in_root(rootfd, m->target,
						    S_ISDIR(st.st_mode) ?
						    MKPATH_DIR : MKPATH_FILE,
						    err);
		if (fd >= 0 && move_mount(tree, "", fd, "",
					  MOVE_MOUNT_F_EMPTY_PATH |
					  MOVE_MOUNT_T_EMPTY_PATH) < 0)
			r = err_sys(err, "bind-mounting %s on %s", m->source,
				    m->target);
		if (fd < 0)
			r = -1;
		else
			close(fd);
		close(tree);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Private propagation, the rootfs bind-mounted onto itself; an O_PATH fd
 * of the bind, or -1. */
static int bind_rootfs(const struct rootfs_spec *s, struct error *err)
{
	int fd;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_sys(err, "making mount propagation private");
	if (mount(s->rootfs, s->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys(err, "bind-mounting the rootfs %s", s->rootfs);
	fd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "opening the rootfs %s", s->rootfs);
	return fd;
}

int rootfs_prepare(const struct rootfs_spec *s, struct error *err)
{
	int rootfd, fd, ret;
	size_t i;

	rootfd = bind_rootfs(s, err);
	if (rootfd < 0)
		return -1;
	/* Device nodes and setuid files in the rootfs (an image's, or
	 * ones its root makes) are inert. */
	ret = mount_attr_set(rootfd, true, MOUNT_ATTR_NODEV |
			     MOUNT_ATTR_NOSUID, "the rootfs", err);
	for (i = 0; !ret && i < sizeof(mount_points) /
	     sizeof(mount_points[0]); i++) {
		fd = path_open_in_root(rootfd, mount_points[i], MKPATH_DIR,
				       err);
		if (fd < 0)
			ret = -1;
		else
			close(fd);
	}
	if (!ret)
		ret = binds(rootfd, s->c, err);
	/* The root mount only: binds have their own readonly. */
	if (!ret && s->c->readonly)
		ret = mount_attr_set(rootfd, false, MOUNT_ATTR_RDONLY,
				     "readonly: true", err);
	close(rootfd);
	return ret;
}

static int pivot(int rootfd, const struct rootfs_spec *s, struct error *err)
{
	if (s->before_pivot && s->before_pivot(s->arg, err) < 0)
		return -1;
	if (fchdir(rootfd) < 0)
		return err_sys(err, "entering the rootfs");
	/* Stack the old root under the new one, then detach it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return err_sys(err, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return err_sys(err, "detaching the old root");
	if (chdir("/") < 0)
		return err_sys(err, "chdir /");
	return 0;
}

static int oci_setup(int rootfd, const struct rootfs_spec *s,
		     struct error *err)
{
	if (oci_mounts_apply(rootfd, s->spec, s->console, err) < 0 ||
	    pivot(rootfd, s, err) < 0 || oci_sysctl_apply(s->spec, err) < 0 ||
	    masks_apply(s->spec, err) < 0)
		return -1;
	if (s->c->readonly && remount_ro("/", err) < 0)
		return err_prefix(err, "root.readonly");
	return 0;
}

int rootfs_setup(const struct rootfs_spec *s, struct error *err)
{
	int rootfd, ret;

	/* Again, in this namespace: a mount copied from a more privileged
	 * namespace is locked in place and cannot be pivoted into; a new
	 * bind of it can, and keeps the locked flags. With an OCI spec
	 * this is the only bind (the child's own namespace: nothing was
	 * prepared before the clone). */
	rootfd = bind_rootfs(s, err);
	if (rootfd < 0)
		return -1;
	if (s->spec->oci) {
		/* An image's setuid programs keep working (no_new_privs is
		 * the spec's choice); device nodes stay inert. */
		ret = mount_attr_set(rootfd, true, MOUNT_ATTR_NODEV,
				     "the rootfs", err);
		if (!ret)
			ret = oci_setup(rootfd, s, err);
		close(rootfd);
		return ret;
	}
	ret = kernel_fs(rootfd, s, err);
	if (!ret)
		ret = devfs_setup(rootfd, s->console, err);
	if (!ret)
		ret = pivot(rootfd, s, err);
	close(rootfd);
	if (ret < 0)
		return -1;
	return masks_apply(s->spec, err);
}

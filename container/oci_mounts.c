#include "oci_mounts.h"
#include "devfs.h"
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const struct opt {
	const char *name;
	unsigned long set, clear;
} flag_opts[] = {
	{ "ro", MS_RDONLY, 0 }, { "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 }, { "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 }, { "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 }, { "exec", 0, MS_NOEXEC },
	{ "sync", MS_SYNCHRONOUS, 0 }, { "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },
	{ "noatime", MS_NOATIME, 0 }, { "atime", 0, MS_NOATIME },
	{ "nodiratime", MS_NODIRATIME, 0 }, { "diratime", 0, MS_NODIRATIME },
	{ "relatime", MS_RELATIME, 0 }, { "norelatime", 0, MS_RELATIME },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "nostrictatime", 0, MS_STRICTATIME },
	{ "mand", MS_MANDLOCK, 0 }, { "nomand", 0, MS_MANDLOCK },
}, prop_opts[] = {
	{ "private", MS_PRIVATE, 0 }, { "rprivate", MS_PRIVATE | MS_REC, 0 },
	{ "shared", MS_SHARED, 0 }, { "rshared", MS_SHARED | MS_REC, 0 },
	{ "slave", MS_SLAVE, 0 }, { "rslave", MS_SLAVE | MS_REC, 0 },
	{ "unbindable", MS_UNBINDABLE, 0 },
	{ "runbindable", MS_UNBINDABLE | MS_REC, 0 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct opt *find(const struct opt *t, size_t n, const char *o)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, o))
			return &t[i];
	return NULL;
}

int oci_mount_options(char **opts, size_t n, struct ct_fsmount *m,
		      const char *where, struct error *err)
{
	const struct opt *o;
	size_t i, len = 0;
	char *data;

	data = calloc(1, 1);
	if (!data)
		return err_set(err, "out of memory");
	for (i = 0; i < n; i++) {
		if ((o = find(flag_opts, N(flag_opts), opts[i]))) {
			m->flags = (m->flags | o->set) & ~o->clear;
		} else if ((o = find(prop_opts, N(prop_opts), opts[i]))) {
			m->propagation = o->set;
		} else if (!strcmp(opts[i], "bind")) {
			m->bind = true;
		} else if (!strcmp(opts[i], "rbind")) {
			m->bind = m->rec = true;
		} else if (!strcmp(opts[i], "remount") ||
			   !strcmp(opts[i], "idmap") ||
			   !strcmp(opts[i], "ridmap") ||
			   !strcmp(opts[i], "tmpcopyup") ||
			   !strncmp(opts[i], "x-", 2)) {
			free(data);
			return err_input(err, "%s.options[%zu]: '%s' is not "
					 "supported by vessel", where, i,
					 opts[i]);
		} else {
			size_t l = strlen(opts[i]);
			char *nd = realloc(data, len + l + 2);

			if (!nd) {
				free(data);
				return err_set(err, "out of memory");
			}
			data = nd;
			if (len)
				data[len++] = ',';
			memcpy(data + len, opts[i], l + 1);
			len += l;
		}
	}
	m->data = data;
	return 0;
}

static uint64_t attrs_of(unsigned long flags)
{
	uint64_t a = 0;

	if (flags & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (flags & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (flags & MS_NOATIME)
		a |= MOUNT_ATTR_NOATIME;
	if (flags & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	return a;
}

static int bind(int rootfd, const struct ct_fsmount *m, struct error *err)
{
	struct stat st;
	int tree, fd = -1, r;

	tree = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE |
			 OPEN_TREE_CLOEXEC | (m->rec ? AT_RECURSIVE : 0));
	if (tree < 0)
		return err_sys(err, "bind mount source '%s'", m->source);
	r = fstat(tree, &st) < 0 ? err_sys(err, "bind mount source '%s'",
					   m->source) : 0;
	if (!r && attrs_of(m->flags))
		r = mount_attr_set(tree, m->rec, attrs_of(m->flags), m->target,
				   err);
	if (!r) {
		fd = path_open_in_root(rootfd, m->target, S_ISDIR(st.st_mode) ?
				       MKPATH_DIR : MKPATH_FILE, err);
		r = fd < 0 ? -1 : 0;
	}
	if (!r && move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH |
			     MOVE_MOUNT_T_EMPTY_PATH) < 0)
		r = err_sys(err, "bind-mounting %s on %s", m->source,
			    m->target);
	if (fd >= 0)
		close(fd);
	close(tree);
	return r;
}

static bool host_cgroup2(void)
{
	struct statfs sf;

	return statfs("/sys/fs/cgroup", &sf) == 0 &&
	       sf.f_type == CGROUP2_SUPER_MAGIC;
}

static int other(int rootfd, const struct ct_fsmount *m, struct error *err)
{
	const char *type = m->type, *src = m->source ? m->source : m->type;
	const char *data = m->data && *m->data ? m->data : NULL;
	unsigned long flags = m->flags;
	char fdpath[64];
	int fd, r = 0;

	if (!strcmp(type, "cgroup") && !host_cgroup2()) {
		/* cgroup v1: an empty read-only directory. */
		type = src = "tmpfs";
		data = "size=0,mode=555";
		flags |= MS_RDONLY;
	} else if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2")) {
		type = "cgroup2";
	}
	fd = path_open_in_root(rootfd, m->target, MKPATH_DIR, err);
	if (fd < 0)
		return -1;
	if (mount(src, path_fd(fd, fdpath, sizeof(fdpath)), type, flags,
		  data) < 0)
		r = err_sys(err, "mounting %s on %s", type, m->target);
	close(fd);
	return r;
}

static int propagate(int rootfd, const struct ct_fsmount *m,
		     struct error *err)
{
	char fdpath[64];
	int fd, r = 0;

	fd = path_open_in_root(rootfd, m->target, MKPATH_NONE, err);
	if (fd < 0)
		return -1;
	if (mount(NULL, path_fd(fd, fdpath, sizeof(fdpath)), NULL,
		  m->propagation, NULL) < 0)
		r = err_sys(err, "setting the propagation of %s", m->target);
	close(fd);
	return r;
}

int oci_mounts_apply(int rootfd, const struct ct_spec *s, const char *console,
		     struct error *err)
{
	bool devtmpfs = false;
	size_t i;
	int r, devfd;

	for (i = 0; i < s->nmounts; i++) {
		const struct ct_fsmount *m = &s->mounts[i];

		r = m->bind ? bind(rootfd, m, err) : other(rootfd, m, err);
		if (!r && m->propagation)
			r = propagate(rootfd, m, err);
		if (r < 0)
			return err_prefix(err, "mounts[%zu]", i);
		if (!strcmp(m->target, "/dev"))
			devtmpfs = !m->bind && !strcmp(m->type, "tmpfs");
	}
	if (!devtmpfs)
		return 0;
	devfd = path_open_in_root(rootfd, "dev", MKPATH_NONE, err);
	if (devfd < 0)
		return -1;
	r = devfs_nodes(devfd, console, err);
	close(devfd);
	return r < 0 ? err_prefix(err, "/dev") : 0;
}

#include "idmap.h"

#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_map(pid_t pid, const char *file, struct error *err)
{
	char path[64], map[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	snprintf(map, sizeof(map), "0 %u %u\n", IDMAP_HOST_BASE, IDMAP_SIZE);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "opening %s", path);
	n = write(fd, map, strlen(map));
	close(fd);
	if (n != (ssize_t)strlen(map))
		return err_sys(err, "writing '0 %u %u' to %s", IDMAP_HOST_BASE,
			       IDMAP_SIZE, path);
	return 0;
}

static int write_maps(pid_t pid, const char *file,
		      const struct ct_idmap *m, size_t n, struct error *err)
{
	char path[64], buf[1024];
	size_t i, len = 0;
	ssize_t w;
	int fd;

	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%u %u %u\n", m[i].inside,
					m[i].outside, m[i].count);
		if (len >= sizeof(buf))
			return err_set(err, "%s: too many entries", file);
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "opening %s", path);
	w = write(fd, buf, len);
	close(fd);
	if (w != (ssize_t)len)
		return err_sys(err, "writing %s", path);
	return 0;
}

int idmap_write_spec(pid_t pid, const struct ct_spec *s, struct error *err)
{
	if (write_maps(pid, "uid_map", s->uidmap, s->nuidmap, err) < 0 ||
	    write_maps(pid, "gid_map", s->gidmap, s->ngidmap, err) < 0)
		return err_prefix(err, "user namespace id map");
	return 0;
}

int idmap_write(pid_t pid, struct error *err)
{
	if (write_map(pid, "uid_map", err) < 0 ||
	    write_map(pid, "gid_map", err) < 0)
		return err_prefix(err, "user namespace id map");
	return 0;
}

static bool mapped(unsigned id)
{
	return id >= IDMAP_HOST_BASE && id - IDMAP_HOST_BASE < IDMAP_SIZE;
}

int idmap_check_reachable(const char *rootfs, struct error *err)
{
	char path[4096], *slash;
	struct stat st;

	if (!realpath(rootfs, path))
		return err_sys(err, "rootfs '%s'", rootfs);
	while ((slash = strrchr(path, '/')) && slash != path) {
		*slash = '\0';
		if (stat(path, &st) < 0)
			return err_sys(err, "%s", path);
		if (!(st.st_mode & S_IXOTH) && !mapped(st.st_uid) &&
		    !(mapped(st.st_gid) && (st.st_mode & S_IXGRP)))
			return err_set(err, "userns: true: the container's "
				       "root (host uid %u) cannot reach the "
				       "rootfs, because %s is mode %04o; "
				       "chmod o+x %s", IDMAP_HOST_BASE, path,
				       (unsigned)(st.st_mode & 07777), path);
	}
	return 0;
}

int idmap_check_rootfs(const char *rootfs, struct error *err)
{
	struct stat st;

	if (stat(rootfs, &st) < 0)
		return err_sys(err, "rootfs '%s'", rootfs);
	if (idmap_check_reachable(rootfs, err) < 0)
		return -1;
	if (!mapped(st.st_uid) || !mapped(st.st_gid))
		return err_set(err, "userns: true maps container ids 0-%u to "
			       "host ids %u-%u, but rootfs '%s' is owned by "
			       "%u:%u; chown it into that range (e.g. chown -R "
			       "%u:%u %s) or set userns: false", IDMAP_SIZE - 1,
			       IDMAP_HOST_BASE,
			       IDMAP_HOST_BASE + IDMAP_SIZE - 1, rootfs,
			       (unsigned)st.st_uid, (unsigned)st.st_gid,
			       IDMAP_HOST_BASE, IDMAP_HOST_BASE, rootfs);
	return 0;
}

int idmap_become_root(struct error *err)
{
	if (setresgid(0, 0, 0) < 0)
		return err_sys(err, "setresgid(0) in the user namespace");
	if (setresuid(0, 0, 0) < 0)
		return err_sys(err, "setresuid(0) in the user namespace");
	if (setgroups(0, NULL) < 0)
		return err_sys(err, "setgroups in the user namespace");
	return 0;
}

#include "pathres.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_in(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	if (!*path)
		path = ".";
	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Create the last component of the (clean) prefix in its parent. */
static int create_last(int rootfd, char *prefix, bool file, struct error *err)
{
	char *slash = strrchr(prefix, '/');
	const char *name = slash ? slash + 1 : prefix;
	int pfd, fd, ret = 0;

	if (slash)
		*slash = '\0';
	pfd = open_in(rootfd, slash ? prefix : "");
	if (slash)
		*slash = '/';
	if (pfd < 0)
		return err_sys(err, "resolving the parent of /%s", prefix);
	if (file) {
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST)
			ret = err_sys(err, "creating /%s", prefix);
	} else if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
		ret = err_sys(err, "creating directory /%s", prefix);
	}
	close(pfd);
	return ret;
}

int path_open_in_root(int rootfd, const char *path, enum mkpath how,
		      struct error *err)
{
	char clean[4096];
	size_t i, n;
	int fd;

	while (*path == '/')
		path++;
	snprintf(clean, sizeof(clean), "%s", path);
	n = strlen(clean);
	while (n && clean[n - 1] == '/')
		clean[--n] = '\0';
	fd = open_in(rootfd, clean);
	if (fd >= 0 || errno != ENOENT || how == MKPATH_NONE) {
		if (fd < 0)
			err_sys(err, "resolving /%s in the rootfs", clean);
		return fd;
	}
	/* Create what is missing, one component at a time, each resolved
	 * again from the root so symlinks keep pointing inside. */
	for (i = 0; i <= n; i++) {
		if (clean[i] != '/' && clean[i] != '\0')
			continue;
		clean[i] = '\0';
		fd = open_in(rootfd, clean);
		if (fd < 0 && errno == ENOENT &&
		    create_last(rootfd, clean, i == n && how == MKPATH_FILE,
				err) < 0)
			return -1;
		if (fd >= 0)
			close(fd);
		if (i < n)
			clean[i] = '/';
	}
	fd = open_in(rootfd, clean);
	if (fd < 0)
		err_sys(err, "resolving /%s in the rootfs", clean);
	return fd;
}

const char *path_fd(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

/* Opening, creating and locking a backup repository (repo.h). */
#include "repo.h"
#include "../base/fdio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char marker_text[] = "vessel backup repository\nformat 1\n";

static bool dir_fresh(int fd, bool leftovers);

/* Is entry name of directory dirfd what create() leaves when it is cut
 * short: chunks/ or backups/ (empty), the lock file, the marker's
 * temporary file? */
static bool creation_leftover(int dirfd, const char *name)
{
	static const char marker_tmp[] = REPO_TMP_PREFIX "-" REPO_MARKER "-";
	struct stat st;
	int fd;
	bool empty;

	if (!strncmp(name, marker_tmp, sizeof(marker_tmp) - 1))
		return true;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (!strcmp(name, "lock"))
		return S_ISREG(st.st_mode);
	if ((strcmp(name, "chunks") && strcmp(name, "backups")) ||
	    !S_ISDIR(st.st_mode))
		return false;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	empty = dir_fresh(fd, false);
	close(fd);
	return empty;
}

/* An empty directory or, with leftovers, one that holds only what a
 * creation cut short (a SIGKILL between mkdir and the marker) left. */
static bool dir_fresh(int fd, bool leftovers)
{
	int dup_fd = dup(fd);
	struct dirent *e;
	bool fresh = true;
	DIR *d;

	if (dup_fd < 0)
		return false;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return false;
	}
	while (fresh && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			fresh = leftovers && creation_leftover(fd, e->d_name);
	closedir(d);
	return fresh;
}

static int check_marker(struct repo *r, struct error *err)
{
	char buf[128], *p;
	unsigned long fmt;
	ssize_t n;
	int fd = openat(r->dirfd, REPO_MARKER, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return err_input(err, "%s is not a backup repository (no %s "
					 "file)", r->path, REPO_MARKER);
		return err_sys(err, "%s/%s", r->path, REPO_MARKER);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return err_sys(err, "%s/%s", r->path, REPO_MARKER);
	buf[n] = '\0';
	if (strncmp(buf, "vessel backup repository\nformat ", 32))
		return err_input(err, "%s is not a backup repository (bad %s)",
				 r->path, REPO_MARKER);
	fmt = strtoul(buf + 32, &p, 10);
	if (p == buf + 32 || *p != '\n')
		return err_input(err, "%s/%s: bad format line", r->path, REPO_MARKER);
	if (fmt != REPO_FORMAT)
		return err_input(err, "%s: repository format %lu (this vessel "
				 "reads %d)", r->path, fmt, REPO_FORMAT);
	return 0;
}

static int create(struct repo *r, struct error *err)
{
	if (mkdirat(r->dirfd, "chunks", 0700) < 0 && errno != EEXIST)
		return err_sys(err, "%s/chunks", r->path);
	if (mkdirat(r->dirfd, "backups", 0700) < 0 && errno != EEXIST)
		return err_sys(err, "%s/backups", r->path);
	/* The marker last: a repository half made is still "empty". */
	return repo_write_atomic(r->dirfd, REPO_MARKER, marker_text,
				 sizeof(marker_text) - 1, err);
}

int repo_open(struct repo *r, const char *path, enum repo_open how,
	      struct error *err)
{
	memset(r, 0, sizeof(*r));
	r->dirfd = r->chunks = r->lockfd = -1;
	if (strlen(path) >= sizeof(r->path))
		return err_input(err, "repository path too long");
	snprintf(r->path, sizeof(r->path), "%s", path);
	if (how == REPO_CREATE && mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_sys(err, "creating %s", path);
	r->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return err_input(err, "%s is not a backup repository (%s)",
					 path, strerror(errno));
		return err_sys(err, "%s", path);
	}
	if (how == REPO_CREATE && faccessat(r->dirfd, REPO_MARKER, F_OK, 0) < 0) {
		if (!dir_fresh(r->dirfd, true))
			return err_input(err, "%s is not a backup repository and "
					 "not empty: refusing to make it one", path);
		if (create(r, err) < 0)
			return -1;
	}
	/* A creation cut short before its marker (both folders made, both
	 * empty) is an empty repository to the commands that read. */
	if (check_marker(r, err) < 0 &&
	    (faccessat(r->dirfd, REPO_MARKER, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	     faccessat(r->dirfd, "backups", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ||
	     !dir_fresh(r->dirfd, true)))
		return -1;
	r->chunks = openat(r->dirfd, "chunks", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->chunks < 0)
		return err_input(err, "%s: repository without chunks/ (%s)", path,
				 strerror(errno));
	return 0;
}

void repo_close(struct repo *r)
{
	if (r->chunks >= 0)
		close(r->chunks);
	if (r->lockfd >= 0)
		close(r->lockfd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = r->chunks = r->lockfd = -1;
}

int repo_lock(struct repo *r, bool exclusive, struct error *err)
{
	if (r->lockfd < 0) {
		r->lockfd = openat(r->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC,
				   0600);
		if (r->lockfd < 0)
			return err_sys(err, "%s/lock", r->path);
	}
	while (flock(r->lockfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return err_sys(err, "locking %s/lock", r->path);
	return 0;
}

void repo_tmp_name(char *buf, size_t len, const char *name)
{
	static atomic_uint seq;

	snprintf(buf, len, "%s-%.80s-%d-%u", REPO_TMP_PREFIX, name, (int)getpid(),
		 atomic_fetch_add(&seq, 1));
}

int repo_write_atomic(int dirfd, const char *name, const void *buf,
		      size_t len, struct error *err)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	char tmp[128];

	repo_tmp_name(tmp, sizeof(tmp), name);
	return write_file_atomic(dirfd, name, tmp, &iov, 1, 0600, err);
}

int repo_read_file(int dirfd, const char *name, size_t max, uint8_t **buf,
		   size_t *len, struct error *err)
{
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return err_sys(err, "%s", name);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_input(err, "%s: not a regular file", name);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_input(err, "%s: %lld bytes, more than %zu", name,
				 (long long)st.st_size, max);
	}
	p = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!p) {
		close(fd);
		return err_set(err, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(p);
			close(fd);
			return n < 0 ? err_sys(err, "reading %s", name) :
				       err_input(err, "%s: shrank while read", name);
		}
		got += (size_t)n;
	}
	close(fd);
	*buf = p;
	*len = got;
	return 0;
}

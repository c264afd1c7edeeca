/* Small file-descriptor helpers (fdio.h). */
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "error.h"

/* Write all of buf: at off with pwrite, or (off < 0) with write. */
static int put_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

/* Read len bytes or up to end-of-file: at off with pread, or (off < 0)
 * with read. */
static ssize_t get_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = off < 0 ? read(fd, (char *)buf + got, len - got) :
			pread(fd, (char *)buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int write_all(int fd, const void *buf, size_t len)
{
	return put_all(fd, buf, len, -1);
}

int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return off < 0 ? (errno = EINVAL, -1) : put_all(fd, buf, len, off);
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	return get_full(fd, buf, len, -1);
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	return off < 0 ? (errno = EINVAL, -1) : get_full(fd, buf, len, off);
}

int copy_file(const char *from, const char *to, bool excl, struct error *err)
{
	char buf[65536];
	int in, out, ret = -1;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_sys(err, "opening %s", from);
	out = open(to, O_WRONLY | O_CREAT | O_CLOEXEC |
		       (excl ? O_EXCL : O_TRUNC), 0600);
	if (out < 0) {
		err_sys(err, "creating %s", to);
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, (size_t)n) < 0)
			break;
	if (n == 0 && fsync(out) == 0)
		ret = 0;
	else
		err_sys(err, "copying %s to %s", from, to);
	close(in);
	close(out);
	return ret;
}

int write_file_atomic(int dirfd, const char *name, const char *tmp,
		      const struct iovec *iov, int n, mode_t mode,
		      struct error *err)
{
	int fd, e, i;

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			O_CLOEXEC, mode);
	if (fd < 0)
		return err_sys(err, "creating %s", tmp);
	for (i = 0; i < n; i++)
		if (write_all(fd, iov[i].iov_base, iov[i].iov_len) < 0)
			break;
	e = i < n || fsync(fd) < 0 ? errno : 0;
	if (close(fd) < 0 && !e)
		e = errno;
	if (e) {
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return err_sys(err, "writing %s", tmp);
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		e = errno;
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return err_sys(err, "renaming %s to %s", tmp, name);
	}
	if (fsync(dirfd) < 0)
		return err_sys(err, "fsync of the directory of %s", name);
	return 0;
}

/* A bounded console log with one rotation. */
#include "console_log.h"
#include "base/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

int console_log_open(struct console_log *l, const char *path, struct error *err)
{
	memset(l, 0, sizeof(*l));
	if (strlen(path) >= sizeof(l->path))
		return err_set(err, "%s: path too long", path);
	strcpy(l->path, path);
	snprintf(l->old, sizeof(l->old), "%s.1", path);
	l->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		     0600);
	if (l->fd < 0)
		return err_sys(err, "creating %s", path);
	return 0;
}

static void rotate(struct console_log *l)
{
	int fd;

	if (rename(l->path, l->old) < 0)
		return;
	fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return;         /* keep appending to the renamed file */
	close(l->fd);
	l->fd = fd;
	l->size = 0;
}

void console_log_write(struct console_log *l, const void *buf, size_t len)
{
	if (l->fd < 0)
		return;
	if (l->size + len > CONSOLE_LOG_MAX && l->size > 0)
		rotate(l);
	if (write_all(l->fd, buf, len) == 0)
		l->size += len;
}

/* Append the whole of path (if it exists) to *buf. */
static int slurp(const char *path, char **buf, size_t *len, struct error *err)
{
	struct stat st;
	char *nb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : err_sys(err, "opening %s", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_sys(err, "%s", path);
	}
	nb = realloc(*buf, *len + st.st_size + 1);
	if (!nb) {
		close(fd);
		return err_set(err, "out of memory");
	}
	*buf = nb;
	while (st.st_size > 0) {
		n = read(fd, *buf + *len, st.st_size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += n;
		st.st_size -= n;
	}
	close(fd);
	return 0;
}

int console_log_read(struct console_log *l, char **buf, size_t *len,
		     struct error *err)
{
	*buf = NULL;
	*len = 0;
	if (slurp(l->old, buf, len, err) < 0 || slurp(l->path, buf, len, err) < 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

void console_log_close(struct console_log *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* bzImage release string (kernel_release_x86.h): "HdrS" at 0x202, the
 * version string's offset at 0x20e (relative to 0x200), a NUL-terminated
 * string starting with the release. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "kernel_release_x86.h"

int kernel_release_x86(const char *path, char *out, size_t size,
		       struct error *err)
{
	unsigned char buf[0x8000];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t off, len = 0;

	if (fd < 0) {
		err_sys(err, "kernel %s", path);
		err->input = 1;
		return -1;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0x210 || memcmp(buf + 0x202, "HdrS", 4))
		return err_input(err, "kernel %s: not a bzImage", path);
	off = 0x200u + (buf[0x20e] | (size_t)buf[0x20f] << 8);
	if (off >= (size_t)n)
		return err_input(err, "kernel %s: no version string", path);
	while (off + len < (size_t)n && buf[off + len] > ' ' && buf[off + len] < 0x7f)
		len++;
	if (len == 0 || len >= size || off + len >= (size_t)n)
		return err_input(err, "kernel %s: bad version string", path);
	memcpy(out, buf + off, len);
	out[len] = '\0';
	return 0;
}

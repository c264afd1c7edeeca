/* Hole-preserving copies (sparse_copy.h): SEEK_DATA/SEEK_HOLE walk the
 * data extents; a file system without them reports one extent. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sparse_copy.h"
#include "../base/fdio.h"

int sparse_copy_fd(int in, int out, uint64_t out_off, uint64_t len,
		   struct error *err)
{
	enum { CHUNK = 1 << 20 };
	char *buf = malloc(CHUNK);
	uint64_t pos = 0;
	int r = 0;

	if (!buf)
		return err_set(err, "out of memory");
	while (pos < len && r == 0) {
		off_t data = lseek(in, (off_t)pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;          /* only a hole is left */
		if (data < 0) {
			r = err_sys(err, "lseek");
			break;
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0) {
			r = err_sys(err, "lseek");
			break;
		}
		if ((uint64_t)hole > len)
			hole = (off_t)len;
		for (pos = (uint64_t)data; pos < (uint64_t)hole && r == 0; ) {
			size_t want = (uint64_t)hole - pos < CHUNK ? (size_t)((uint64_t)hole - pos) : CHUNK;
			ssize_t n = pread(in, buf, want, (off_t)pos);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? err_sys(err, "read") :
					    err_set(err, "file shrank while copied");
				break;
			}
			/* All-zero blocks stay holes too. */
			size_t z = 0;

			while (z < (size_t)n && buf[z] == 0)
				z++;
			if (z < (size_t)n) {
				size_t done = 0;

				while (done < (size_t)n) {
					ssize_t w = pwrite(out, buf + done, (size_t)n - done,
							   (off_t)(out_off + pos + done));

					if (w < 0 && errno == EINTR)
						continue;
					if (w <= 0) {
						r = err_sys(err, "write");
						break;
					}
					done += (size_t)w;
				}
			}
			pos += (uint64_t)n;
		}
	}
	free(buf);
	return r;
}

int sparse_copy_file(const char *from, const char *to, struct error *err)
{
	struct stat st;
	int in = open(from, O_RDONLY | O_CLOEXEC), out, r;

	if (in < 0 || fstat(in, &st) < 0) {
		err_sys(err, "%s", from);
		err->input = 1;
		if (in >= 0)
			close(in);
		return -1;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return err_sys(err, "%s", to);
	}
	r = ftruncate(out, st.st_size) < 0 ? err_sys(err, "%s", to) :
	    sparse_copy_fd(in, out, 0, (uint64_t)st.st_size, err);
	if (close(out) < 0 && r == 0)
		r = err_sys(err, "%s", to);
	close(in);
	return r;
}

/* Place the initrd as high as it fits, page-aligned, below a limit. */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../vmm/timeline.h"

int initrd_load(struct gmem *m, const char *path, uint64_t min_addr,
		uint64_t max_end, uint64_t *addr, uint64_t *size,
		struct error *err)
{
	struct stat st;
	uint64_t at, done = 0;
	uint8_t *dst;
	int fd;

	*addr = *size = 0;
	if (!path) {
		timeline_mark_detail(MS_INITRD_LOADED, "none");
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "initrd %s", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_sys(err, "initrd %s", path);
	}
	if ((uint64_t)st.st_size > max_end ||
	    ((max_end - st.st_size) & ~0xfffULL) < min_addr) {
		close(fd);
		return err_set(err, "initrd %s (%lld bytes) does not fit in guest "
			       "memory below 0x%llx next to the kernel: raise memory",
			       path, (long long)st.st_size,
			       (unsigned long long)max_end);
	}
	if (st.st_size == 0) {          /* an empty initrd is no initrd */
		close(fd);
		timeline_mark_detail(MS_INITRD_LOADED, "empty");
		return 0;
	}
	at = (max_end - st.st_size) & ~0xfffULL;
	dst = gmem_ptr(m, at, st.st_size);
	if (!dst) {
		close(fd);
		return err_set(err, "initrd %s does not fit in guest RAM", path);
	}
	while (done < (uint64_t)st.st_size) {
		ssize_t n = read(fd, dst + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return n < 0 ? err_sys(err, "reading initrd %s", path)
				     : err_set(err, "initrd %s shrank while reading", path);
		}
		done += n;
	}
	close(fd);
	*addr = at;
	*size = st.st_size;
	timeline_mark_detail(MS_INITRD_LOADED, "%lld bytes", (long long)st.st_size);
	return 0;
}

/* The compiled seccomp profile cache (seccomp_cache.h). */
#include "seccomp_cache.h"
#include "../tools/base/fdio.h"
#include "../tools/base/sha256.h"
#include "oci_seccomp.h"
#include "seccomp_prog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#define CACHE_DIR ".seccomp"

static void key(const struct oci_seccomp *p, char hex[2 * SHA256_LEN + 1])
{
	const struct scmp_version *v = seccomp_version();
	uint8_t d[SHA256_LEN];
	struct utsname u;
	struct sha256 h;
	char buf[64];

	sha256_init(&h);
	sha256_update(&h, "vessel-seccomp-1", sizeof("vessel-seccomp-1"));
	snprintf(buf, sizeof(buf), "%u.%u.%u", v ? v->major : 0,
		 v ? v->minor : 0, v ? v->micro : 0);
	sha256_update(&h, buf, strlen(buf) + 1);
	if (uname(&u) == 0) {
		sha256_update(&h, u.release, strlen(u.release) + 1);
		sha256_update(&h, u.machine, strlen(u.machine) + 1);
	}
	oci_seccomp_digest(p, &h);
	sha256_final(&h, d);
	sha256_hex(d, hex);
}

/* 1: out holds the cached program; 0: none (or not a valid one). */
static int cache_read(int dirfd, const char *name, struct seccomp_prog *out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;
	struct error ignored;
	unsigned char *buf;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 1 ||
	    st.st_size > (off_t)SECCOMP_PROG_FILE_MAX) {
		close(fd);
		return 0;
	}
	buf = malloc((size_t)st.st_size);
	n = buf ? pread_full(fd, buf, (size_t)st.st_size, 0) : -1;
	if (n == st.st_size &&
	    seccomp_prog_parse(buf, (size_t)n, out, &ignored) == 0)
		r = 1;
	free(buf);
	close(fd);
	return r;
}

/* Remove what writers that died left: ".HEX.PID.tmp" whose PID is gone
 * (a create killed between its write and its rename). A live PID's file
 * is left alone, even when the PID was reused: it is never read. */
static void sweep_tmp(int dirfd)
{
	int fd = dup(dirfd);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		const char *n = e->d_name, *pid = n + 1 + 2 * SHA256_LEN + 1;
		char *end;
		long v;

		if (n[0] != '.' || strlen(n) <= 2 + 2 * SHA256_LEN + 4 ||
		    strspn(n + 1, "0123456789abcdef") != 2 * SHA256_LEN ||
		    pid[-1] != '.')
			continue;
		errno = 0;
		v = strtol(pid, &end, 10);
		if (errno || v <= 0 || v > INT32_MAX || strcmp(end, ".tmp") ||
		    v == getpid())
			continue;
		if (kill((pid_t)v, 0) < 0 && errno == ESRCH)
			unlinkat(dirfd, n, 0);
	}
	closedir(d);
}

static void cache_write(int dirfd, const char *name,
			const struct seccomp_prog *p)
{
	uint32_t flags = p->flags;
	struct iovec iov[2] = {
		{ p->insns, p->len * sizeof(*p->insns) },
		{ &flags, sizeof(flags) },
	};
	struct error ignored;
	char tmp[2 * SHA256_LEN + 32];

	sweep_tmp(dirfd);
	snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", name, (int)getpid());
	write_file_atomic(dirfd, name, tmp, iov, 2, 0600, &ignored);
}

int seccomp_cache_get(const char *root, const struct oci_seccomp *p,
		      struct seccomp_prog *out, struct error *err)
{
	char hex[2 * SHA256_LEN + 1], dir[4096];
	int dirfd;

	key(p, hex);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", root, CACHE_DIR) >=
	    sizeof(dir))
		return oci_seccomp_compile(p, out, err);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return oci_seccomp_compile(p, out, err);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0)
		return oci_seccomp_compile(p, out, err);
	if (cache_read(dirfd, hex, out) == 1) {
		close(dirfd);
		return 0;
	}
	if (oci_seccomp_compile(p, out, err) < 0) {
		close(dirfd);
		return -1;
	}
	cache_write(dirfd, hex, out);
	close(dirfd);
	return 0;
}

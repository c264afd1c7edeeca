/* The chunk store (store.h). */
#include "store.h"
#include "chunk.h"
#include "../base/fdio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_init(struct store *s, struct repo *r, struct error *err)
{
	memset(s, 0, sizeof(*s));
	s->repo = r;
	s->buf = malloc(CHUNK_ENC_MAX);
	if (!s->buf)
		return err_set(err, "out of memory");
	return 0;
}

void store_free(struct store *s)
{
	free(s->buf);
	s->buf = NULL;
}

void store_chunk_name(const uint8_t digest[SHA256_LEN], char *buf)
{
	char hex[2 * SHA256_LEN + 1];

	sha256_hex(digest, hex);
	snprintf(buf, 68, "%.2s/%s", hex, hex);
}

int hex_digest(const char *hex, uint8_t digest[SHA256_LEN])
{
	for (int i = 0; i < 2 * SHA256_LEN; i++) {
		char c = hex[i];
		int v = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -1;
		if (i % 2)
			digest[i / 2] = (uint8_t)(digest[i / 2] << 4 | v);
		else
			digest[i / 2] = (uint8_t)v;
	}
	return hex[2 * SHA256_LEN] ? -1 : 0;
}

static int write_chunk(struct store *s, const char *name,
		       const uint8_t hdr[CHUNK_HDR], const uint8_t *payload,
		       size_t len, struct error *err)
{
	char sub[3] = { name[0], name[1], 0 }, tmp[160];
	int dfd, fd, e;

	if (mkdirat(s->repo->chunks, sub, 0700) < 0 && errno != EEXIST)
		return err_sys(err, "%s/chunks/%s", s->repo->path, sub);
	dfd = openat(s->repo->chunks, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(err, "%s/chunks/%s", s->repo->path, sub);
	repo_tmp_name(tmp, sizeof(tmp), name + 3);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(err, "%s/chunks/%s/%s", s->repo->path, sub, tmp);
		close(dfd);
		return -1;
	}
	if (write_all(fd, hdr, CHUNK_HDR) < 0 ||
	    write_all(fd, payload, len) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		close(dfd);
		errno = e;
		return err_sys(err, "writing chunk %s into %s", name + 3,
			       s->repo->path);
	}
	close(fd);
	if (renameat(dfd, tmp, dfd, name + 3) < 0) {
		e = errno;
		unlinkat(dfd, tmp, 0);
		close(dfd);
		errno = e;
		return err_sys(err, "renaming chunk %s", name + 3);
	}
	close(dfd);
	return 0;
}

int store_put(struct store *s, const void *data, size_t len,
	      uint8_t digest[SHA256_LEN], struct error *err)
{
	uint8_t hdr[CHUNK_HDR];
	const uint8_t *payload;
	char name[68];
	size_t n;

	if (len == 0 || len > CHUNK_MAX)
		return err_set(err, "chunk of %zu bytes", len);
	sha256(data, len, digest);
	store_chunk_name(digest, name);
	s->st.chunks++;
	s->st.bytes += len;
	if (faccessat(s->repo->chunks, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (chunk_encode_parts(data, len, hdr, s->buf, &payload, &n, err) < 0 ||
	    write_chunk(s, name, hdr, payload, n, err) < 0)
		return -1;
	s->st.chunks_new++;
	s->st.bytes_new += CHUNK_HDR + n;
	return 0;
}

int store_get(struct store *s, const uint8_t digest[SHA256_LEN], uint8_t *raw,
	      size_t cap, size_t *len, struct error *err)
{
	char name[68];
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	store_chunk_name(digest, name);
	fd = openat(s->repo->chunks, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_input(err, "chunk %s is missing", name + 3);
		return err_sys(err, "chunk %s", name + 3);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > CHUNK_ENC_MAX) {
		close(fd);
		return err_input(err, "chunk %s is damaged (not a chunk file)",
				 name + 3);
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, s->buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return n < 0 ? err_sys(err, "reading chunk %s", name + 3) :
				       err_input(err, "chunk %s: short", name + 3);
		}
		got += (size_t)n;
	}
	close(fd);
	if (chunk_decode(s->buf, got, raw, cap, len, digest, err) < 0)
		return err_prefix(err, "chunk %s is damaged", name + 3);
	return 0;
}

static bool is_hex2(const char *n)
{
	return strlen(n) == 2 && strspn(n, "0123456789abcdef") == 2;
}

int store_each(struct store *s, bool tmp,
	       int (*fn)(void *opaque, const uint8_t *digest, const char *name,
			 int dirfd, const char *file),
	       void *opaque, struct error *err)
{
	int top = dup(s->repo->chunks), r = 0;
	struct dirent *e, *f;
	DIR *d, *sd;

	if (top < 0 || !(d = fdopendir(top))) {
		if (top >= 0)
			close(top);
		return err_sys(err, "%s/chunks", s->repo->path);
	}
	while (r == 0 && (e = readdir(d))) {
		int dfd;

		if (!is_hex2(e->d_name))
			continue;
		dfd = openat(s->repo->chunks, e->d_name,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || !(sd = fdopendir(dfd))) {
			if (dfd >= 0)
				close(dfd);
			continue;
		}
		while (r == 0 && (f = readdir(sd))) {
			uint8_t digest[SHA256_LEN];
			char name[68];

			snprintf(name, sizeof(name), "%.2s/%.64s", e->d_name, f->d_name);
			if (!strncmp(f->d_name, REPO_TMP_PREFIX, strlen(REPO_TMP_PREFIX))) {
				if (tmp)
					r = fn(opaque, NULL, name, dirfd(sd), f->d_name);
				continue;
			}
			if (hex_digest(f->d_name, digest) == 0 &&
			    !strncmp(f->d_name, e->d_name, 2))
				r = fn(opaque, digest, name, dirfd(sd), f->d_name);
		}
		closedir(sd);
	}
	closedir(d);
	return r < 0 ? -1 : 0;
}

#include "tar.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512

struct header {
	char name[100], mode[8], uid[8], gid[8], size[12], mtime[12];
	char chksum[8], type, linkname[100], magic[6], version[2];
	char uname[32], gname[32], devmajor[8], devminor[8], prefix[155];
	char pad[12];
};

/* Overrides from pax/GNU headers for the next entry. */
struct next {
	char *path, *link;
	bool has_size, has_uid, has_gid, has_mtime;
	uint64_t size;
	uint64_t uid, gid;
	int64_t mtime;
};

int tar_open(struct tar_reader *t, const char *archive, struct error *err)
{
	memset(t, 0, sizeof(*t));
	t->archive = archive;
	t->gz = gzopen(archive, "rb");
	if (!t->gz)
		return err_sys(err, "opening %s", archive);
	gzbuffer(t->gz, 128 * 1024);
	return 0;
}

void tar_close(struct tar_reader *t)
{
	if (t->gz)
		gzclose(t->gz);
	free(t->path);
	free(t->link);
	memset(t, 0, sizeof(*t));
}

static int read_exact(struct tar_reader *t, void *buf, size_t len,
		      struct error *err)
{
	int errnum;
	int n = gzread(t->gz, buf, len);

	if (n < 0)
		return err_set(err, "%s: %s", t->archive,
			       gzerror(t->gz, &errnum));
	if ((size_t)n != len)
		return err_set(err, "%s: truncated archive", t->archive);
	return 0;
}

static int skip(struct tar_reader *t, uint64_t n, struct error *err)
{
	char buf[BLOCK * 8];

	while (n) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		if (read_exact(t, buf, k, err) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

/* Octal, or GNU base-256 when the top bit of the first byte is set. */
static uint64_t number(const char *f, size_t len)
{
	uint64_t v = 0;
	size_t i = 0;

	if ((unsigned char)f[0] & 0x80) {
		v = (unsigned char)f[0] & 0x7f;
		for (i = 1; i < len; i++)
			v = v << 8 | (unsigned char)f[i];
		return v;
	}
	while (i < len && (f[i] == ' ' || f[i] == '\0'))
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (f[i] - '0');
	return v;
}

static bool checksum_ok(const struct header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : p[i];
	return sum == number(h->chksum, sizeof(h->chksum));
}

static char *field(const char *f, size_t len)
{
	return strndup(f, len);
}

/* The data of a GNU L/K or pax header, NUL-terminated. */
static char *read_data(struct tar_reader *t, uint64_t size,
		       struct error *err)
{
	char *buf;

	if (size > 1024 * 1024) {
		err_set(err, "%s: extended header too large", t->archive);
		return NULL;
	}
	buf = malloc(size + 1);
	if (!buf) {
		err_set(err, "out of memory");
		return NULL;
	}
	if (read_exact(t, buf, size, err) < 0 ||
	    skip(t, (BLOCK - size % BLOCK) % BLOCK, err) < 0) {
		free(buf);
		return NULL;
	}
	buf[size] = '\0';
	return buf;
}

static void replace(char **dst, char *val)
{
	free(*dst);
	*dst = val;
}

/* Records "LEN key=value\n". */
static int parse_pax(struct tar_reader *t, char *p, uint64_t size,
		     struct next *nx, struct error *err)
{
	char *end = p + size, *rec, *key, *val, *stop;
	unsigned long len;

	while (p < end) {
		rec = p;
		len = strtoul(p, &key, 10);
		if (!len || key == p || *key != ' ' || len > (size_t)(end - rec))
			return err_set(err, "%s: bad pax header", t->archive);
		p = rec + len;
		key++;
		val = memchr(key, '=', p - key);
		if (!val || p[-1] != '\n')
			return err_set(err, "%s: bad pax header", t->archive);
		*val++ = '\0';
		p[-1] = '\0';
		if (!strcmp(key, "path")) {
			replace(&nx->path, strdup(val));
		} else if (!strcmp(key, "linkpath")) {
			replace(&nx->link, strdup(val));
		} else if (!strcmp(key, "size")) {
			nx->size = strtoull(val, &stop, 10);
			nx->has_size = true;
		} else if (!strcmp(key, "uid")) {
			nx->uid = strtoull(val, &stop, 10);
			nx->has_uid = true;
		} else if (!strcmp(key, "gid")) {
			nx->gid = strtoull(val, &stop, 10);
			nx->has_gid = true;
		} else if (!strcmp(key, "mtime")) {
			nx->mtime = strtoll(val, &stop, 10);
			nx->has_mtime = true;
		}
	}
	return 0;
}

static void fill(struct tar_reader *t, const struct header *h,
		 struct next *nx, struct tar_entry *e)
{
	char *path;

	if (nx->path) {
		path = nx->path;
		nx->path = NULL;
	} else if (!memcmp(h->magic, "ustar", 5) && h->prefix[0]) {
		path = malloc(sizeof(h->prefix) + sizeof(h->name) + 2);
		if (path)
			sprintf(path, "%.*s/%.*s", (int)sizeof(h->prefix),
				h->prefix, (int)sizeof(h->name), h->name);
	} else {
		path = field(h->name, sizeof(h->name));
	}
	replace(&t->path, path);
	replace(&t->link, nx->link ? nx->link :
		field(h->linkname, sizeof(h->linkname)));
	nx->link = NULL;
	e->type = h->type ? h->type : '0';
	if (e->type == '7')
		e->type = '0';	/* contiguous file */
	e->path = t->path;
	e->link = t->link;
	e->mode = number(h->mode, sizeof(h->mode)) & 07777;
	e->uid = nx->has_uid ? nx->uid : number(h->uid, sizeof(h->uid));
	e->gid = nx->has_gid ? nx->gid : number(h->gid, sizeof(h->gid));
	e->size = nx->has_size ? nx->size : number(h->size, sizeof(h->size));
	e->mtime = nx->has_mtime ? nx->mtime :
		   (int64_t)number(h->mtime, sizeof(h->mtime));
	e->major = number(h->devmajor, sizeof(h->devmajor));
	e->minor = number(h->devminor, sizeof(h->devminor));
	/* Only regular files have data blocks (POSIX: none for links,
	 * devices, fifos and directories, whatever size says). */
	if (e->type != '0')
		e->size = 0;
}

static bool zero_block(const struct header *h)
{
	const char *p = (const char *)h;
	size_t i;

	for (i = 0; i < BLOCK; i++)
		if (p[i])
			return false;
	return true;
}

int tar_next(struct tar_reader *t, struct tar_entry *e, struct error *err)
{
	struct next nx = { 0 };
	struct header h;
	uint64_t size;
	char *data;
	int ret = -1;

	if (t->left + t->pad && skip(t, t->left + t->pad, err) < 0)
		return -1;
	t->offset += t->left + t->pad;
	t->left = t->pad = 0;
	for (;;) {
		int errnum, n = gzread(t->gz, &h, BLOCK);

		if (n == 0) {
			ret = 0;	/* no end-of-archive blocks: accept */
			break;
		}
		if (n != BLOCK) {
			err_set(err, "%s: %s", t->archive, n < 0 ?
				gzerror(t->gz, &errnum) : "truncated archive");
			break;
		}
		if (zero_block(&h)) {
			ret = 0;
			break;
		}
		if (!checksum_ok(&h)) {
			err_set(err, "%s: not a tar archive (bad header "
				"checksum at offset %llu)", t->archive,
				(unsigned long long)t->offset);
			break;
		}
		t->offset += BLOCK;
		size = number(h.size, sizeof(h.size));
		if (h.type == 'L' || h.type == 'K' || h.type == 'x' ||
		    h.type == 'g') {
			data = read_data(t, size, err);
			if (!data)
				break;
			t->offset += (size + BLOCK - 1) / BLOCK * BLOCK;
			if (h.type == 'L')
				replace(&nx.path, data);
			else if (h.type == 'K')
				replace(&nx.link, data);
			else if (h.type == 'x' &&
				 parse_pax(t, data, size, &nx, err) < 0) {
				free(data);
				break;
			}
			if (h.type == 'x' || h.type == 'g')
				free(data);
			continue;
		}
		if (!strchr("01234567", h.type ? h.type : '0')) {
			err_set(err, "%s: unsupported tar entry type '%c' for "
				"%.100s", t->archive, h.type, h.name);
			break;
		}
		fill(t, &h, &nx, e);
		t->left = e->size;
		t->pad = (BLOCK - e->size % BLOCK) % BLOCK;
		ret = 1;
		break;
	}
	free(nx.path);
	free(nx.link);
	if (ret == 1 && (!t->path || !t->link))
		ret = err_set(err, "out of memory");
	return ret;
}

ssize_t tar_read(struct tar_reader *t, void *buf, size_t len,
		 struct error *err)
{
	if (len > t->left)
		len = t->left;
	if (!len)
		return 0;
	if (read_exact(t, buf, len, err) < 0)
		return -1;
	t->left -= len;
	t->offset += len;
	return len;
}

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

/* Count len more bytes read; an error past the limit. */
static int consume(struct tar_reader *t, size_t len, struct error *err)
{
	t->consumed += len;
	if (t->limit && t->consumed > t->limit)
		return err_set(err, "%s: larger than %llu bytes uncompressed "
			       "(the limit)", t->archive,
			       (unsigned long long)t->limit);
	return 0;
}

static int read_exact(struct tar_reader *t, void *buf, size_t len,
		      struct error *err)
{
	int errnum, n;

	if (consume(t, len, err) < 0)
		return -1;
	n = gzread(t->gz, buf, len);

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

/* A numeric header field: octal (leading spaces, digits, then spaces or
 * NULs only), or GNU base-256 when the top bit of the first byte is set
 * (positive values that fit in 64 bits only). False if malformed. */
static bool number(const char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if ((unsigned char)f[0] & 0x80) {
		if ((unsigned char)f[0] != 0x80)
			return false;	/* negative, or too wide */
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return false;
			v = v << 8 | (unsigned char)f[i];
		}
		*out = v;
		return true;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 61)
			return false;
		v = v * 8 + (f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return false;
	*out = v;
	return true;
}

/* A field that may be garbage in some writers' output: 0 then. */
static uint64_t number_or_0(const char *f, size_t len)
{
	uint64_t v;

	return number(f, len, &v) ? v : 0;
}

static bool checksum_ok(const struct header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	uint64_t sum = 0, want;
	size_t i;

	for (i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : p[i];

	return number(h->chksum, sizeof(h->chksum), &want) && sum == want;
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

static int bad_pax(struct tar_reader *t, uint64_t at, const char *why,
		   struct error *err)
{
	return err_set(err, "%s: bad pax header record at offset %llu: %s",
		       t->archive, (unsigned long long)at, why);
}

/* Decimal digits only, no sign, no overflow past max. */
static bool decimal(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

/* pax mtime: [-]seconds[.fraction]; the fraction is dropped. */
static bool pax_time(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	char whole[24];
	size_t n = strcspn(s + neg, ".");
	uint64_t v;

	if (n >= sizeof(whole))
		return false;
	memcpy(whole, s + neg, n);
	whole[n] = '\0';
	if (!decimal(whole, INT64_MAX, &v))
		return false;
	if (s[neg + n] == '.') {
		const char *f = s + neg + n + 1;

		if (!*f || f[strspn(f, "0123456789")])
			return false;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* Records "LEN key=value\n", LEN counting the whole record in decimal.
 * Every malformed shape is an error: a length that is missing, zero, not
 * decimal, too big or past the end, no room for a key, no '=', an empty
 * key, no final newline, a NUL inside a path, a bad number. at: the
 * archive offset of p, for messages. */
int tar_parse_pax(struct tar_reader *t, char *p, uint64_t size, uint64_t at,
		  struct tar_pax *nx, struct error *err)
{
	char *start = p, *end = p + size, *rec, *q, *key, *eq, *val, *stop;
	uint64_t len, v, roff;

	while (p < end) {
		rec = p;
		roff = at + (uint64_t)(rec - start);
		len = 0;
		for (q = p; q < end && *q >= '0' && *q <= '9'; q++) {
			len = len * 10 + (*q - '0');
			if (len > size)
				return bad_pax(t, roff,
					       "length past the header", err);
		}
		if (q == p)
			return bad_pax(t, roff,
				       "no decimal length", err);
		if (q == end || *q != ' ')
			return bad_pax(t, roff,
				       "no space after the length", err);
		if (len == 0 || len > (uint64_t)(end - rec))
			return bad_pax(t, roff,
				       "length past the header", err);
		stop = rec + len;
		key = q + 1;
		if (key >= stop)
			return bad_pax(t, roff,
				       "length too short for a record", err);
		if (stop[-1] != '\n')
			return bad_pax(t, roff,
				       "no newline at the end", err);
		eq = memchr(key, '=', stop - 1 - key);
		if (!eq || eq == key)
			return bad_pax(t, roff,
				       eq ? "empty key" : "no '=' in the record",
				       err);
		val = eq + 1;
		*eq = '\0';
		stop[-1] = '\0';
		p = stop;
		if (!strcmp(key, "path") || !strcmp(key, "linkpath")) {
			char **dst = key[0] == 'p' ? &nx->path : &nx->link;

			if ((size_t)(stop - 1 - val) != strlen(val))
				return bad_pax(t, roff,
					       "NUL byte in a path", err);
			free(*dst);
			*dst = NULL;
			if (*val && !(*dst = strdup(val)))
				return err_set(err, "out of memory");
		} else if (!strcmp(key, "size")) {
			if (!decimal(val, INT64_MAX, &nx->size))
				return bad_pax(t, roff,
					       "bad size", err);
			nx->has_size = true;
		} else if (!strcmp(key, "uid") || !strcmp(key, "gid")) {
			if (!decimal(val, UINT32_MAX - 1, &v))
				return bad_pax(t, roff,
					       "bad uid or gid", err);
			if (key[0] == 'u') {
				nx->uid = v;
				nx->has_uid = true;
			} else {
				nx->gid = v;
				nx->has_gid = true;
			}
		} else if (!strcmp(key, "mtime")) {
			if (!pax_time(val, &nx->mtime))
				return bad_pax(t, roff,
					       "bad mtime", err);
			nx->has_mtime = true;
		} else if (!strncmp(key, "GNU.sparse.", 11)) {
			return err_set(err, "%s: sparse files are not supported",
				       t->archive);
		}
	}
	return 0;
}

static int bad_field(struct tar_reader *t, const char *what,
		     struct error *err)
{
	return err_set(err, "%s: bad %s field in the header at offset %llu",
		       t->archive, what, (unsigned long long)(t->offset - BLOCK));
}

static int fill(struct tar_reader *t, const struct header *h,
		struct tar_pax *nx, struct tar_entry *e, struct error *err)
{
	uint64_t mode, uid, gid, size;
	char *path;

	if (!number(h->mode, sizeof(h->mode), &mode))
		return bad_field(t, "mode", err);
	if (!nx->has_uid && (!number(h->uid, sizeof(h->uid), &uid) ||
			     uid >= UINT32_MAX))
		return bad_field(t, "uid", err);
	if (!nx->has_gid && (!number(h->gid, sizeof(h->gid), &gid) ||
			     gid >= UINT32_MAX))
		return bad_field(t, "gid", err);
	if (!nx->has_size && (!number(h->size, sizeof(h->size), &size) ||
			      size > INT64_MAX))
		return bad_field(t, "size", err);
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
	e->mode = mode & 07777;
	e->uid = nx->has_uid ? nx->uid : uid;
	e->gid = nx->has_gid ? nx->gid : gid;
	e->size = nx->has_size ? nx->size : size;
	e->mtime = nx->has_mtime ? nx->mtime :
		   (int64_t)number_or_0(h->mtime, sizeof(h->mtime));
	e->major = number_or_0(h->devmajor, sizeof(h->devmajor));
	e->minor = number_or_0(h->devminor, sizeof(h->devminor));
	/* Only regular files have data blocks (POSIX: none for links,
	 * devices, fifos and directories, whatever size says). */
	if (e->type != '0')
		e->size = 0;
	return 0;
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
	struct tar_pax nx = { 0 };
	struct header h;
	uint64_t size;
	char *data;
	int ret = -1;

	if (t->left + t->pad && skip(t, t->left + t->pad, err) < 0)
		return -1;
	t->offset += t->left + t->pad;
	t->left = t->pad = 0;
	for (;;) {
		int errnum, n;

		if (consume(t, BLOCK, err) < 0)
			break;
		n = gzread(t->gz, &h, BLOCK);

		if (n == 0) {
			ret = 0;	/* no end-of-archive blocks: accept */
			break;
		}
		if (n != BLOCK) {
			err_set(err, "%s: %s (header at offset %llu)",
				t->archive, n < 0 ? gzerror(t->gz, &errnum) :
				"truncated archive",
				(unsigned long long)t->offset);
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
		if (!number(h.size, sizeof(h.size), &size) ||
		    size > INT64_MAX) {
			bad_field(t, "size", err);
			break;
		}
		if (h.type == 'L' || h.type == 'K' || h.type == 'x' ||
		    h.type == 'g') {
			uint64_t at = t->offset;

			data = read_data(t, size, err);
			if (!data)
				break;
			t->offset += (size + BLOCK - 1) / BLOCK * BLOCK;
			if (h.type == 'L')
				replace(&nx.path, data);
			else if (h.type == 'K')
				replace(&nx.link, data);
			else if (h.type == 'x' &&
				 tar_parse_pax(t, data, size, at, &nx, err) < 0) {
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
		if (fill(t, &h, &nx, e, err) < 0)
			break;
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

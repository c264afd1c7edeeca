/* The container tree's archive stream (tree_format.h). */
#include "tree_format.h"
#include "../base/le.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tree_entry_init(struct tree_entry *e, struct error *err)
{
	memset(e, 0, sizeof(*e));
	e->pool = malloc(TREE_XATTR_POOL);
	return e->pool ? 0 : err_set(err, "out of memory");
}

void tree_entry_free(struct tree_entry *e)
{
	free(e->pool);
	e->pool = NULL;
}

int tree_entry_xattr(struct tree_entry *e, const char *name, const void *val,
		     size_t len, struct error *err)
{
	size_t n = strlen(name);

	if (e->nx == TREE_XATTRS_MAX || n == 0 || n > TREE_XATTR_NAME ||
	    len > TREE_XATTR_VALUE || len > TREE_XATTR_POOL - e->pool_used)
		return err_input(err, "%s: too many or too large xattrs (%s)",
				 e->path, name);
	memcpy(e->x[e->nx].name, name, n + 1);
	e->x[e->nx].off = e->pool_used;
	e->x[e->nx].len = (uint32_t)len;
	memcpy(e->pool + e->pool_used, val, len);
	e->pool_used += (uint32_t)len;
	e->nx++;
	return 0;
}

bool tree_path_ok(const char *p)
{
	size_t n = strlen(p);
	const char *c = p;

	if (!strcmp(p, "."))
		return true;
	if (n == 0 || n > TREE_PATH_MAX || p[0] == '/' || p[n - 1] == '/')
		return false;
	while (*c) {
		size_t k = strcspn(c, "/");

		if (k == 0 || (k == 1 && c[0] == '.') ||
		    (k == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += k;
		if (*c)
			c++;
	}
	return true;
}

static const char types[] = "fdlhcbp";

static mode_t type_bits(char t)
{
	switch (t) {
	case 'f': case 'h': return S_IFREG;
	case 'd': return S_IFDIR;
	case 'l': return S_IFLNK;
	case 'c': return S_IFCHR;
	case 'b': return S_IFBLK;
	default: return S_IFIFO;
	}
}

int tree_put_header(struct stream_out *o, struct error *err)
{
	uint8_t h[8];

	memcpy(h, TREE_MAGIC, 4);
	le32(h + 4, 1);
	return stream_write(o, h, sizeof(h), err);
}

int tree_put_end(struct stream_out *o, struct error *err)
{
	return stream_write(o, "e", 1, err);
}

int tree_put_entry(struct stream_out *o, const struct tree_entry *e,
		   struct error *err)
{
	size_t plen = strlen(e->path);
	uint8_t h[3 + TREE_PATH_MAX + 32 + 8 + 4], *q = h;

	if (!strchr(types, e->type) || !e->type || !tree_path_ok(e->path))
		return err_set(err, "%s: cannot archive this entry", e->path);
	*q++ = (uint8_t)e->type;
	le16(q, (uint16_t)plen);
	memcpy(q + 2, e->path, plen);
	q += 2 + plen;
	le32(q, e->mode);
	le32(q + 4, e->uid);
	le32(q + 8, e->gid);
	le64(q + 12, (uint64_t)e->mtime);
	le32(q + 20, e->mtime_ns);
	le16(q + 24, (uint16_t)e->nx);
	q += 26;
	if (stream_write(o, h, (size_t)(q - h), err) < 0)
		return -1;
	for (unsigned i = 0; i < e->nx; i++) {
		uint8_t xh[1 + TREE_XATTR_NAME + 4];
		size_t n = strlen(e->x[i].name);

		xh[0] = (uint8_t)n;
		memcpy(xh + 1, e->x[i].name, n);
		le32(xh + 1 + n, e->x[i].len);
		if (stream_write(o, xh, n + 5, err) < 0 ||
		    stream_write(o, e->pool + e->x[i].off, e->x[i].len, err) < 0)
			return -1;
	}
	q = h;
	if (e->type == 'f') {
		le64(q, e->size);
		q += 8;
	} else if (e->type == 'l' || e->type == 'h') {
		size_t n = strlen(e->target);

		le16(q, (uint16_t)n);
		memcpy(q + 2, e->target, n);
		q += 2 + n;
	} else if (e->type == 'c' || e->type == 'b') {
		le32(q, e->major);
		le32(q + 4, e->minor);
		q += 8;
	}
	return stream_write(o, h, (size_t)(q - h), err);
}

int tree_get_header(struct byte_src *src, struct error *err)
{
	uint8_t h[8];

	if (src->read(src, h, sizeof(h), err) < 0)
		return -1;
	if (memcmp(h, TREE_MAGIC, 4))
		return err_input(err, "not a tree archive (bad magic)");
	if (rd32(h + 4) != 1)
		return err_input(err, "tree archive version %u (this vessel "
				 "reads 1)", rd32(h + 4));
	return 0;
}

/* A u16-length string of 1..TREE_PATH_MAX bytes without NUL into buf. */
static int get_string(struct byte_src *src, char *buf, const char *what,
		      struct error *err)
{
	uint8_t l[2];
	uint16_t n;

	if (src->read(src, l, 2, err) < 0)
		return -1;
	n = rd16(l);
	if (n == 0 || n > TREE_PATH_MAX)
		return err_input(err, "tree archive: %s of %u bytes", what, n);
	if (src->read(src, buf, n, err) < 0)
		return -1;
	buf[n] = '\0';
	if (strlen(buf) != n)
		return err_input(err, "tree archive: %s with a NUL", what);
	return 0;
}

static int get_xattrs(struct byte_src *src, struct tree_entry *e,
		      unsigned nx, struct error *err)
{
	for (unsigned i = 0; i < nx; i++) {
		struct tree_xattr *x = &e->x[i];
		uint8_t b[4];

		if (src->read(src, b, 1, err) < 0)
			return -1;
		if (b[0] == 0 || src->read(src, x->name, b[0], err) < 0)
			return b[0] ? -1 : err_input(err, "tree archive: empty "
						     "xattr name");
		x->name[b[0]] = '\0';
		if (strlen(x->name) != b[0])
			return err_input(err, "tree archive: xattr name with a NUL");
		if (src->read(src, b, 4, err) < 0)
			return -1;
		x->len = rd32(b);
		if (x->len > TREE_XATTR_VALUE ||
		    x->len > TREE_XATTR_POOL - e->pool_used)
			return err_input(err, "tree archive: %s: xattr %s too large",
					 e->path, x->name);
		x->off = e->pool_used;
		if (src->read(src, e->pool + x->off, x->len, err) < 0)
			return -1;
		e->pool_used += x->len;
		e->nx++;
	}
	return 0;
}

int tree_get_entry(struct byte_src *src, struct tree_entry *e,
		   struct error *err)
{
	uint8_t t, h[26];
	unsigned nx;

	if (src->read(src, &t, 1, err) < 0)
		return -1;
	e->type = (char)t;
	e->nx = 0;
	e->pool_used = 0;
	e->size = 0;
	e->path[0] = e->target[0] = '\0';
	if (t == 'e')
		return 0;
	if (!t || !strchr(types, t))
		return err_input(err, "tree archive: record type %#x", t);
	if (get_string(src, e->path, "path", err) < 0)
		return -1;
	if (!tree_path_ok(e->path) || (!strcmp(e->path, ".") && t != 'd'))
		return err_input(err, "tree archive: bad path \"%.200s\"", e->path);
	if (src->read(src, h, sizeof(h), err) < 0)
		return -1;
	e->mode = rd32(h);
	e->uid = rd32(h + 4);
	e->gid = rd32(h + 8);
	e->mtime = (int64_t)rd64(h + 12);
	e->mtime_ns = rd32(h + 20);
	nx = rd16(h + 24);
	if ((e->mode & S_IFMT) != type_bits(e->type) || e->mtime_ns >= 1000000000u)
		return err_input(err, "tree archive: %.200s: mode or time does "
				 "not fit its type", e->path);
	if (nx > TREE_XATTRS_MAX)
		return err_input(err, "tree archive: %.200s: %u xattrs", e->path, nx);
	if (get_xattrs(src, e, nx, err) < 0)
		return -1;
	if (t == 'f') {
		if (src->read(src, h, 8, err) < 0)
			return -1;
		e->size = rd64(h);
		if (e->size > (1ULL << 50))
			return err_input(err, "tree archive: %.200s: size %llu",
					 e->path, (unsigned long long)e->size);
	} else if (t == 'l' || t == 'h') {
		if (get_string(src, e->target, "link target", err) < 0)
			return -1;
		if (t == 'h' && (!tree_path_ok(e->target) || !strcmp(e->target, ".")))
			return err_input(err, "tree archive: bad hard link target");
	} else if (t == 'c' || t == 'b') {
		if (src->read(src, h, 8, err) < 0)
			return -1;
		e->major = rd32(h);
		e->minor = rd32(h + 4);
	}
	return 0;
}

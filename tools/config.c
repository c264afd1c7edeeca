/* config_load(): read a guest file with libyaml's document API and fill a
 * struct guest_config, driven entirely by the key tables in schema.c.
 *
 * Every error is reported as "file:line:col: key: message" (1-based), with
 * the mark of the offending key or value node. On error the partially
 * filled config is freed with the same table-driven config_free(). */

/* For strchrnul() and asprintf() even if CFLAGS lacks -D_GNU_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config.h"
#include "schema.h"

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define KEY_NAME_LEN 160
#define DESC_MAX 40		/* scalar text quoted in "got ..." */
#define DESC_LEN (DESC_MAX + 8)

/* A value of a key with .unique, as given in the file. */
struct taken {
	const char *group;
	int64_t value;
	char name[KEY_NAME_LEN];	/* "disks[0].slot" */
	size_t line;			/* 1-based */
};

struct loader {
	const char *file;		/* the path as given, for messages */
	const char *what;		/* "guest file", "host file" */
	const char *dir;		/* relative paths resolve against it */
	bool no_column;			/* messages say file:line, not :col */
	yaml_document_t *doc;
	struct guest_config *cfg;	/* NULL for another file's table */
	const struct key_table *table;	/* with cfg NULL: the keys, */
	void *base;			/* and the struct they fill */
	struct error *err;
	struct taken *taken;		/* every .unique value so far */
	size_t ntaken;
};

/* The keys valid in one YAML mapping, and the struct their values fill. */
struct scope {
	const struct key_table *tables[2];
	size_t ntables;
	void *base;
	const char *prefix;		/* "" or "mounts[0]." in items */
	bool top;			/* other kinds' keys get a hint */
};

/* Per-mapping bookkeeping: which keys were seen (for duplicates) and set
 * (for defaults and required keys). */
struct map_state {
	const struct key *keys[SCHEMA_MAX_KEYS];
	const yaml_node_t *seen[SCHEMA_MAX_KEYS];
	bool set[SCHEMA_MAX_KEYS];
	size_t n;
};

static int parse_map(struct loader *ld, const struct scope *sc,
		     yaml_node_t *map);

/* ---- errors ---- */

static int fail(struct loader *ld, yaml_mark_t m, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "file:line:col: key" (1-based; no ": key" without one), or "file:line"
 * when the loader says so. */
static void where(const struct loader *ld, yaml_mark_t m, const char *key,
		  char *buf, size_t len)
{
	if (ld->no_column)
		snprintf(buf, len, "%s:%zu%s%s", ld->file, m.line + 1,
			 key ? ": " : "", key ? key : "");
	else
		snprintf(buf, len, "%s:%zu:%zu%s%s", ld->file, m.line + 1,
			 m.column + 1, key ? ": " : "", key ? key : "");
}

static int fail(struct loader *ld, yaml_mark_t m, const char *key,
		const char *fmt, ...)
{
	char msg[sizeof(ld->err->msg)], at[sizeof(ld->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where(ld, m, key, at, sizeof(at));
	return err_set(ld->err, "%s: %s", at, msg);
}

static int oom(struct loader *ld)
{
	return err_set(ld->err, "%s: out of memory", ld->file);
}

/* ---- YAML node helpers ---- */

static yaml_node_t *node_at(struct loader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* An unquoted empty, ~ or null value: treated as if the key were absent. */
static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = text(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* What a node is, for "got ..." in messages; long scalars are cut. */
static void node_desc(const yaml_node_t *n, char *buf, size_t len)
{
	if (n->type == YAML_SEQUENCE_NODE)
		snprintf(buf, len, "a list");
	else if (n->type == YAML_MAPPING_NODE)
		snprintf(buf, len, "a map");
	else if (strlen(text(n)) > DESC_MAX)
		snprintf(buf, len, "'%.*s...'", DESC_MAX, text(n));
	else
		snprintf(buf, len, "'%s'", text(n));
}

/* "expected <what the key takes>, got <what the node is>". */
static int expected(struct loader *ld, const struct key *k, const char *name,
		    const yaml_node_t *n)
{
	char want[160], got[DESC_LEN];

	schema_describe(k, want, sizeof(want));
	node_desc(n, got, sizeof(got));
	return fail(ld, n->start_mark, name, "expected %s, got %s", want, got);
}

static int bad_value(struct loader *ld, const struct key *k, const char *name,
		     const char *s, yaml_mark_t m)
{
	char want[160];

	schema_describe(k, want, sizeof(want));
	return fail(ld, m, name, "expected %s, got '%s'", want, s);
}

/* The scalar's text, or NULL (with err set) if it is not a clean string. */
static const char *scalar_text(struct loader *ld, const yaml_node_t *n,
			       const char *name)
{
	if (n->type != YAML_SCALAR_NODE) {
		char got[DESC_LEN];

		node_desc(n, got, sizeof(got));
		fail(ld, n->start_mark, name, "expected a string, got %s", got);
		return NULL;
	}
	if (strlen(text(n)) != n->data.scalar.length) {
		fail(ld, n->start_mark, name, "contains a NUL character");
		return NULL;
	}
	return text(n);
}

static void key_name(char *buf, const char *prefix, const char *name)
{
	snprintf(buf, KEY_NAME_LEN, "%s%s", prefix, name);
}

/* ---- storing values at a key's offsets ---- */

static void *field_at(void *base, size_t off)
{
	return (char *)base + off;
}

/* Integers and enums: the value was range-checked, so its low bytes are
 * the right bits for a signed or unsigned field of that width. */
static void store_int(void *field, size_t size, int64_t v)
{
	uint8_t u8 = v;
	uint16_t u16 = v;
	uint32_t u32 = v;
	uint64_t u64 = v;

	switch (size) {
	case 1: memcpy(field, &u8, 1); break;
	case 2: memcpy(field, &u16, 2); break;
	case 4: memcpy(field, &u32, 4); break;
	case 8: memcpy(field, &u64, 8); break;
	}
}

/* Array pointers of any element type, read and written bytewise. */
static void *get_ptr(void *base, size_t off)
{
	void *p;

	memcpy(&p, field_at(base, off), sizeof(p));
	return p;
}

static void set_ptr(void *base, size_t off, void *p)
{
	memcpy(field_at(base, off), &p, sizeof(p));
}

static int store_string(struct loader *ld, char **field, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return oom(ld);
	free(*field);
	*field = copy;
	return 0;
}

/* Allocate a zeroed array of n items for a list key and record its count
 * right away, so that config_free() can release a partly filled list. */
static void *alloc_array(struct loader *ld, const struct key *k, void *base,
			 size_t n, size_t item_size)
{
	void *arr = calloc(n ? n : 1, item_size);

	if (!arr) {
		oom(ld);
		return NULL;
	}
	set_ptr(base, k->off, arr);
	*(size_t *)field_at(base, k->off2) = n;
	return arr;
}

/* ---- paths ---- */

/* Lexically clean an absolute path in place: drop "." and empty
 * components, apply "..". The output never outgrows the input. */
static void normalize(char *path)
{
	const char *in = path;
	size_t len = 0;

	while (*in) {
		const char *end;
		size_t n;

		while (*in == '/')
			in++;
		if (!*in)
			break;
		end = strchrnul(in, '/');
		n = end - in;
		if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (len > 0 && path[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
		} else if (!(n == 1 && in[0] == '.')) {
			path[len++] = '/';
			memmove(path + len, in, n);
			len += n;
		}
		in = end;
	}
	if (len == 0)
		path[len++] = '/';
	path[len] = '\0';
}

/* p relative to the config file's directory, as a clean absolute path. */
static char *resolve(const char *dir, const char *p)
{
	char *out;

	if (asprintf(&out, "%s/%s", p[0] == '/' ? "" : dir, p) < 0)
		return NULL;
	normalize(out);
	return out;
}

static int path_error(struct loader *ld, const char *name, const char *s,
		      const char *path, yaml_mark_t m)
{
	int e = errno;

	if (e == ENOENT || e == ENOTDIR)
		return fail(ld, m, name, "no such file '%s' (resolved to %s)",
			    s, path);
	return fail(ld, m, name, "cannot access '%s' (resolved to %s): %s", s,
		    path, strerror(e));
}

static int set_path(struct loader *ld, const struct key *k, void *base,
		    const char *name, const char *s, yaml_mark_t m)
{
	char buf[512];
	const char *msg;
	struct stat st;
	char *path;
	int rc;

	if (!*s)
		return bad_value(ld, k, name, s, m);
	path = resolve(ld->dir, s);
	if (!path)
		return oom(ld);
	if (k->flags & KF_ABSENT_OK)
		rc = 0;
	else if (stat(path, &st) < 0)
		rc = path_error(ld, name, s, path, m);
	else if (k->check && (msg = k->check(path, buf, sizeof(buf))))
		rc = fail(ld, m, name, "%s", msg);
	else
		rc = 0;
	if (rc < 0) {
		free(path);
		return -1;
	}
	free(*(char **)field_at(base, k->off));
	*(char **)field_at(base, k->off) = path;
	return 0;
}

/* ---- scalars ---- */

static int set_string(struct loader *ld, const struct key *k, void *base,
		      const char *name, const char *s, yaml_mark_t m)
{
	char buf[512];
	const char *msg;

	if (k->check && (msg = k->check(s, buf, sizeof(buf))))
		return fail(ld, m, name, "%s", msg);
	return store_string(ld, field_at(base, k->off), s);
}

/* v for k's group, unless another key has it already. */
static int claim(struct loader *ld, const struct key *k, const char *name,
		 int64_t v, yaml_mark_t m)
{
	struct taken *t;

	for (size_t i = 0; i < ld->ntaken; i++) {
		t = &ld->taken[i];
		if (!strcmp(t->group, k->unique) && t->value == v)
			return fail(ld, m, name, "%s %lld is taken already by "
				    "%s (line %zu)", k->unique, (long long)v,
				    t->name, t->line);
	}
	t = realloc(ld->taken, (ld->ntaken + 1) * sizeof(*t));
	if (!t)
		return oom(ld);
	ld->taken = t;
	t = &ld->taken[ld->ntaken++];
	t->group = k->unique;
	t->value = v;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->line = m.line + 1;
	return 0;
}

static int set_int(struct loader *ld, const struct key *k, void *base,
		   const char *name, const char *s, yaml_mark_t m, bool user)
{
	int64_t v;

	if (schema_parse_int(s, &v) < 0 ||
	    (user && (v < k->imin || v > k->imax)))
		return bad_value(ld, k, name, s, m);
	if (user && k->unique && claim(ld, k, name, v, m) < 0)
		return -1;
	store_int(field_at(base, k->off), k->size, v);
	return 0;
}

static int set_number(struct loader *ld, const struct key *k, void *base,
		      const char *name, const char *s, yaml_mark_t m,
		      bool user)
{
	bool low;
	double v;

	if ((k->flags & KF_SECONDS ? schema_parse_seconds(s, &v) :
	     schema_parse_number(s, &v)) < 0)
		return bad_value(ld, k, name, s, m);
	low = k->flags & KF_MIN_EXCL ? v <= k->dmin : v < k->dmin;
	if (user && (low || v > k->dmax))
		return bad_value(ld, k, name, s, m);
	*(double *)field_at(base, k->off) = v;
	return 0;
}

static int set_size(struct loader *ld, const struct key *k, void *base,
		    const char *name, const char *s, yaml_mark_t m, bool user)
{
	uint64_t v;

	if (schema_parse_size(s, &v) < 0)
		return fail(ld, m, name, "bad size '%s' (use a number with an "
			    "optional K, M or G suffix)", s);
	if (user && (v < (uint64_t)k->imin || v > (uint64_t)k->imax))
		return bad_value(ld, k, name, s, m);
	*(uint64_t *)field_at(base, k->off) = v;
	return 0;
}

static int set_bool(struct loader *ld, const struct key *k, void *base,
		    const char *name, const char *s, yaml_mark_t m)
{
	bool v;

	if (schema_parse_bool(s, &v) < 0)
		return bad_value(ld, k, name, s, m);
	*(bool *)field_at(base, k->off) = v;
	return 0;
}

static int set_enum(struct loader *ld, const struct key *k, void *base,
		    const char *name, const char *s, yaml_mark_t m)
{
	for (const struct choice *c = k->choices; c->name; c++) {
		if (strcmp(c->name, s) == 0) {
			store_int(field_at(base, k->off), k->size, c->value);
			return 0;
		}
	}
	return bad_value(ld, k, name, s, m);
}

static int set_user(struct loader *ld, const struct key *k, void *base,
		    const char *name, const char *s, yaml_mark_t m)
{
	uid_t uid;
	gid_t gid;

	if (schema_parse_user(s, &uid, &gid) < 0)
		return bad_value(ld, k, name, s, m);
	store_int(field_at(base, k->off), k->size, uid);
	store_int(field_at(base, k->off2), k->size, gid);
	return 0;
}

/* Parse scalar text s for key k into base. user: the text came from the
 * file (range-checked) rather than from the table's default. */
static int set_scalar(struct loader *ld, const struct key *k, void *base,
		      const char *name, const char *s, yaml_mark_t m,
		      bool user)
{
	if (user && (k->flags & KF_WHERE))
		where(ld, m, name, field_at(base, k->off2), SCHEMA_WHERE_LEN);
	switch (k->type) {
	case KT_STRING: return set_string(ld, k, base, name, s, m);
	case KT_PATH: return set_path(ld, k, base, name, s, m);
	case KT_INT: return set_int(ld, k, base, name, s, m, user);
	case KT_NUMBER: return set_number(ld, k, base, name, s, m, user);
	case KT_SIZE: return set_size(ld, k, base, name, s, m, user);
	case KT_BOOL: return set_bool(ld, k, base, name, s, m);
	case KT_ENUM: return set_enum(ld, k, base, name, s, m);
	case KT_USER: return set_user(ld, k, base, name, s, m);
	default: break;
	}
	return fail(ld, m, name, "internal error: key is not a scalar");
}

/* ---- lists and maps ---- */

/* A list's items pass the key's check one by one. */
static int check_item(struct loader *ld, const struct key *k,
		      const char *name, const char *s, yaml_mark_t m)
{
	char buf[512];
	const char *msg;

	if (k->check && (msg = k->check(s, buf, sizeof(buf))))
		return fail(ld, m, name, "%s", msg);
	return 0;
}

static int list_of_one(struct loader *ld, const struct key *k, void *base,
		       const char *s)
{
	char **arr = alloc_array(ld, k, base, 1, sizeof(char *));

	if (!arr)
		return -1;
	return store_string(ld, &arr[0], s);
}

static size_t seq_len(const yaml_node_t *n)
{
	return n->data.sequence.items.top - n->data.sequence.items.start;
}

static int parse_str_list(struct loader *ld, const struct key *k, void *base,
			  const char *name, yaml_node_t *v)
{
	char item[KEY_NAME_LEN];
	size_t n;
	char **arr;

	if (v->type == YAML_SCALAR_NODE) {
		const char *s = scalar_text(ld, v, name);

		if (!s || check_item(ld, k, name, s, v->start_mark) < 0)
			return -1;
		return list_of_one(ld, k, base, s);
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return expected(ld, k, name, v);
	n = seq_len(v);
	if (n == 0 && (k->flags & KF_NONEMPTY))
		return fail(ld, v->start_mark, name,
			    "expected a non-empty list of strings");
	arr = alloc_array(ld, k, base, n, sizeof(char *));
	if (!arr)
		return -1;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = node_at(ld, v->data.sequence.items.start[i]);
		const char *s;

		snprintf(item, sizeof(item), "%s[%zu]", name, i);
		s = scalar_text(ld, it, item);
		if (!s || check_item(ld, k, item, s, it->start_mark) < 0 ||
		    store_string(ld, &arr[i], s) < 0)
			return -1;
	}
	return 0;
}

/* One "KEY=VALUE" entry of a list-form string map. */
static int map_entry_from_list(struct loader *ld, const char *name,
			       yaml_node_t *it, char **out)
{
	const char *s = scalar_text(ld, it, name);

	if (!s)
		return -1;
	if (s[0] == '=' || !strchr(s, '='))
		return fail(ld, it->start_mark, name,
			    "expected KEY=VALUE, got '%s'", s);
	return store_string(ld, out, s);
}

static int str_map_from_list(struct loader *ld, const struct key *k,
			     void *base, const char *name, yaml_node_t *v)
{
	char item[KEY_NAME_LEN];
	size_t n = seq_len(v);
	char **arr = alloc_array(ld, k, base, n, sizeof(char *));

	if (!arr)
		return -1;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = node_at(ld, v->data.sequence.items.start[i]);

		snprintf(item, sizeof(item), "%s[%zu]", name, i);
		if (map_entry_from_list(ld, item, it, &arr[i]) < 0)
			return -1;
	}
	return 0;
}

/* One "KEY: value" pair of a string map, as "KEY=VALUE" in *out. The
 * first i pairs were accepted already; a repeated KEY is an error. */
static int map_entry(struct loader *ld, const char *name, yaml_node_t *map,
		     size_t i, char **out)
{
	yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
	yaml_node_t *kn = node_at(ld, p->key), *vn = node_at(ld, p->value);
	char item[KEY_NAME_LEN];
	const char *ks, *vs;

	if (!(ks = scalar_text(ld, kn, name)))
		return -1;
	snprintf(item, sizeof(item), "%s.%s", name, ks);
	if (!*ks || strchr(ks, '='))
		return fail(ld, kn->start_mark, item,
			    "names must be non-empty and contain no '='");
	for (size_t j = 0; j < i; j++) {
		yaml_node_pair_t *q = &map->data.mapping.pairs.start[j];
		yaml_node_t *prev = node_at(ld, q->key);

		if (strcmp(text(prev), ks) == 0)
			return fail(ld, kn->start_mark, item,
				    "duplicate key (first set at line %zu)",
				    prev->start_mark.line + 1);
	}
	vs = is_null(vn) ? "" : scalar_text(ld, vn, item);
	if (!vs)
		return -1;
	if (asprintf(out, "%s=%s", ks, vs) < 0) {
		*out = NULL;
		return oom(ld);
	}
	return 0;
}

static int parse_str_map(struct loader *ld, const struct key *k, void *base,
			 const char *name, yaml_node_t *v)
{
	size_t n;
	char **arr;

	if (v->type == YAML_SEQUENCE_NODE)
		return str_map_from_list(ld, k, base, name, v);
	if (v->type != YAML_MAPPING_NODE)
		return expected(ld, k, name, v);
	n = v->data.mapping.pairs.top - v->data.mapping.pairs.start;
	arr = alloc_array(ld, k, base, n, sizeof(char *));
	if (!arr)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (map_entry(ld, name, v, i, &arr[i]) < 0)
			return -1;
	return 0;
}

static int parse_map_list(struct loader *ld, const struct key *k, void *base,
			  const char *name, yaml_node_t *v)
{
	char prefix[KEY_NAME_LEN];
	struct scope sc = { .tables = { k->sub }, .ntables = 1 };
	size_t n;
	char *arr;

	if (v->type != YAML_SEQUENCE_NODE)
		return expected(ld, k, name, v);
	n = seq_len(v);
	arr = alloc_array(ld, k, base, n, k->item_size);
	if (!arr)
		return -1;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = node_at(ld, v->data.sequence.items.start[i]);
		char got[DESC_LEN];

		snprintf(prefix, sizeof(prefix), "%s[%zu]", name, i);
		if (it->type != YAML_MAPPING_NODE) {
			node_desc(it, got, sizeof(got));
			return fail(ld, it->start_mark, prefix,
				    "expected a map, got %s", got);
		}
		strncat(prefix, ".", sizeof(prefix) - strlen(prefix) - 1);
		sc.base = arr + i * k->item_size;
		sc.prefix = prefix;
		if (parse_map(ld, &sc, it) < 0)
			return -1;
	}
	return 0;
}

/* One nested map: its keys fill the struct at .off. */
static int parse_sub_map(struct loader *ld, const struct key *k, void *base,
			 const char *name, yaml_node_t *v)
{
	char prefix[KEY_NAME_LEN];
	struct scope sc = { .tables = { k->sub }, .ntables = 1,
			    .base = field_at(base, k->off), .prefix = prefix };

	if (v->type != YAML_MAPPING_NODE)
		return expected(ld, k, name, v);
	snprintf(prefix, sizeof(prefix), "%s.", name);
	return parse_map(ld, &sc, v);
}

static int parse_value(struct loader *ld, const struct key *k, void *base,
		       const char *name, yaml_node_t *v)
{
	switch (k->type) {
	case KT_STR_LIST: return parse_str_list(ld, k, base, name, v);
	case KT_STR_MAP: return parse_str_map(ld, k, base, name, v);
	case KT_MAP_LIST: return parse_map_list(ld, k, base, name, v);
	case KT_MAP: return parse_sub_map(ld, k, base, name, v);
	default: break;
	}
	if (v->type != YAML_SCALAR_NODE)
		return expected(ld, k, name, v);
	if (!scalar_text(ld, v, name))
		return -1;
	return set_scalar(ld, k, base, name, text(v), v->start_mark, true);
}

static int apply_default(struct loader *ld, const struct key *k, void *base,
			 const char *name, yaml_mark_t m)
{
	char buf[256];
	const char *s = k->def;

	if (k->def_fn && ld->cfg && k->def_fn(ld->cfg, buf, sizeof(buf)) == 0)
		s = buf;
	if (!s)
		return 0;
	if (k->type == KT_STR_LIST)
		return list_of_one(ld, k, base, s);
	return set_scalar(ld, k, base, name, s, m, false);
}

/* ---- mappings ---- */

/* Optimal string alignment distance: edits, counting a swap of two
 * neighbouring characters as one ("memroy" is 1 away from "memory"). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The closest of keys[] to s if it is close enough to be a likely typo. */
static const char *closest(const struct key *const *keys, size_t n,
			   const char *s)
{
	size_t len = strlen(s), limit = len < 4 ? 1 : len < 8 ? 2 : 3;
	size_t best = SIZE_MAX;
	const char *name = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = distance(s, keys[i]->name);

		if (d < best) {
			best = d;
			name = keys[i]->name;
		}
	}
	return best <= limit && best < len ? name : NULL;
}

/* A suggestion from the other kinds' keys, for top-level typos. */
static const char *closest_elsewhere(struct loader *ld, const char *s)
{
	for (size_t i = 0; i < schema_nkinds; i++) {
		const struct key_table *t = schema_kinds[i].table;
		const struct key *keys[SCHEMA_MAX_KEYS];
		const char *name;
		size_t n = 0;

		if (schema_kinds[i].kind == ld->cfg->kind)
			continue;
		for (; n < t->nkeys && n < SCHEMA_MAX_KEYS; n++)
			keys[n] = &t->keys[n];
		name = closest(keys, n, s);
		if (name)
			return name;
	}
	return NULL;
}

static const char *kind_of_key(struct loader *ld, const char *s)
{
	for (size_t i = 0; i < schema_nkinds; i++)
		if (schema_kinds[i].kind != ld->cfg->kind &&
		    schema_find(schema_kinds[i].table, s))
			return schema_kinds[i].name;
	return NULL;
}

static int unknown_key(struct loader *ld, const struct scope *sc,
		       const struct map_state *st, const yaml_node_t *kn)
{
	const char *s = text(kn), *other, *hint;
	char name[KEY_NAME_LEN];

	key_name(name, sc->prefix, s);
	if (sc->top && (other = kind_of_key(ld, s)))
		return fail(ld, kn->start_mark, name,
			    "only valid with kind: %s", other);
	hint = closest(st->keys, st->n, s);
	if (!hint && sc->top)
		hint = closest_elsewhere(ld, s);
	if (hint)
		return fail(ld, kn->start_mark, name,
			    "unknown key (did you mean '%s'?)", hint);
	return fail(ld, kn->start_mark, name, "unknown key");
}

static int find_key(const struct map_state *st, const char *s)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->keys[i]->name, s) == 0)
			return i;
	return -1;
}

static int parse_pair(struct loader *ld, const struct scope *sc,
		      struct map_state *st, const yaml_node_pair_t *p)
{
	yaml_node_t *kn = node_at(ld, p->key), *vn = node_at(ld, p->value);
	char name[KEY_NAME_LEN], got[DESC_LEN];
	const struct key *k;
	int i;

	if (kn->type != YAML_SCALAR_NODE) {
		node_desc(kn, got, sizeof(got));
		return fail(ld, kn->start_mark, NULL,
			    "expected a key name, got %s", got);
	}
	i = find_key(st, text(kn));
	if (i < 0)
		return unknown_key(ld, sc, st, kn);
	k = st->keys[i];
	key_name(name, sc->prefix, k->name);
	if (st->seen[i])
		return fail(ld, kn->start_mark, name,
			    "duplicate key (first set at line %zu)",
			    st->seen[i]->start_mark.line + 1);
	st->seen[i] = kn;
	if (is_null(vn)) {
		if (k->flags & KF_REQUIRED)
			return fail(ld, kn->start_mark, name, "missing value");
		return 0;
	}
	if (parse_value(ld, k, sc->base, name, vn) < 0)
		return -1;
	st->set[i] = true;
	return 0;
}

/* Required keys and defaults for everything the mapping did not set.
 * Defaults go in table order, so later ones may derive from earlier ones
 * (hostname from name). */
static int finish_map(struct loader *ld, const struct scope *sc,
		      const struct map_state *st, yaml_mark_t m)
{
	char name[KEY_NAME_LEN];

	for (size_t i = 0; i < st->n; i++) {
		const struct key *k = st->keys[i];

		if (st->set[i])
			continue;
		key_name(name, sc->prefix, k->name);
		if (k->flags & KF_REQUIRED)
			return fail(ld, m, name, "missing required key");
		if (apply_default(ld, k, sc->base, name, m) < 0)
			return -1;
	}
	return 0;
}

static void scope_keys(const struct scope *sc, struct map_state *st)
{
	for (size_t t = 0; t < sc->ntables; t++)
		for (size_t i = 0; i < sc->tables[t]->nkeys; i++)
			if (st->n < SCHEMA_MAX_KEYS)
				st->keys[st->n++] = &sc->tables[t]->keys[i];
}

static int parse_map(struct loader *ld, const struct scope *sc,
		     yaml_node_t *map)
{
	struct map_state st = { .n = 0 };

	scope_keys(sc, &st);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++)
		if (parse_pair(ld, sc, &st, p) < 0)
			return -1;
	return finish_map(ld, sc, &st, map->start_mark);
}

/* ---- the document ---- */

/* `kind` may come anywhere, but decides which keys are valid: parse it
 * (or its default) before the rest. */
static int resolve_kind(struct loader *ld, yaml_node_t *root)
{
	const struct key *k = NULL;

	for (size_t i = 0; i < schema_common.nkeys && !k; i++)
		if (schema_common.keys[i].flags & KF_KIND)
			k = &schema_common.keys[i];
	if (!k)
		return 0;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(ld, p->key);
		yaml_node_t *vn = node_at(ld, p->value);

		if (kn->type == YAML_SCALAR_NODE &&
		    strcmp(text(kn), k->name) == 0 && !is_null(vn))
			return parse_value(ld, k, ld->cfg, k->name, vn);
	}
	return apply_default(ld, k, ld->cfg, k->name, root->start_mark);
}

/* A file of ld->table's keys (no kinds); empty means all defaults. */
static int load_table_root(struct loader *ld, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	struct scope top = { .tables = { ld->table }, .ntables = 1,
			     .base = ld->base, .prefix = "" };
	struct map_state st = { .n = 0 };
	char got[DESC_LEN];

	if (!root || is_null(root)) {
		scope_keys(&top, &st);
		return finish_map(ld, &top, &st, doc->start_mark);
	}
	if (root->type != YAML_MAPPING_NODE) {
		node_desc(root, got, sizeof(got));
		return fail(ld, root->start_mark, NULL,
			    "the top level must be a mapping of keys, got %s",
			    got);
	}
	return parse_map(ld, &top, root);
}

static int load_root(struct loader *ld, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	struct scope top = { .tables = { &schema_common }, .ntables = 1,
			     .base = ld->cfg, .prefix = "", .top = true };
	const struct kind_schema *ks;
	char got[DESC_LEN];

	if (!root || is_null(root))
		return fail(ld, doc->start_mark, NULL,
			    "empty file (expected a mapping of keys, e.g. "
			    "'kernel: vmlinuz')");
	if (root->type != YAML_MAPPING_NODE) {
		node_desc(root, got, sizeof(got));
		return fail(ld, root->start_mark, NULL,
			    "the top level must be a mapping of keys, got %s",
			    got);
	}
	if (resolve_kind(ld, root) < 0)
		return -1;
	ks = schema_kind(ld->cfg->kind);
	if (ks)
		top.tables[top.ntables++] = ks->table;
	return parse_map(ld, &top, root);
}

/* Reader errors (bad UTF-8, ...) carry a byte offset, not a mark. */
static yaml_mark_t offset_mark(FILE *f, size_t offset)
{
	yaml_mark_t m = { .index = offset };
	int c;

	rewind(f);
	for (size_t i = 0; i < offset && (c = getc(f)) != EOF; i++) {
		if (c == '\n') {
			m.line++;
			m.column = 0;
		} else {
			m.column++;
		}
	}
	return m;
}

static int syntax_error(struct loader *ld, const yaml_parser_t *p, FILE *f)
{
	const char *problem = p->problem ? p->problem : "cannot parse";
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR)
		return oom(ld);
	if (p->error == YAML_READER_ERROR)
		m = offset_mark(f, p->problem_offset);
	if (p->context)
		return fail(ld, m, "syntax error", "%s (%s at line %zu, column "
			    "%zu)", problem, p->context,
			    p->context_mark.line + 1,
			    p->context_mark.column + 1);
	return fail(ld, m, "syntax error", "%s", problem);
}

/* A guest file holds one document; a second one is most likely a mistake. */
static int check_no_more(struct loader *ld, yaml_parser_t *parser, FILE *f)
{
	yaml_document_t next;
	int rc = 0;

	if (!yaml_parser_load(parser, &next))
		return syntax_error(ld, parser, f);
	if (yaml_document_get_root_node(&next))
		rc = fail(ld, next.start_mark, NULL, "only one YAML document "
			  "is allowed in a %s", ld->what);
	yaml_document_delete(&next);
	return rc;
}

/* ---- alias amplification ----
 * libyaml shares an anchored node between its aliases, but the loader
 * copies what it reads per reference: a 1 MB anchor used 500 times would
 * be 500 MB. So the document is measured first as the loader will see it,
 * aliases expanded (each node measured once, memoised), and refused past
 * these limits. Aliases that make a node contain itself are refused too. */
#define EXPAND_MAX_BYTES (1024 * 1024)
#define EXPAND_MAX_NODES 100000
#define EXPAND_MAX_DEPTH 64

struct expand {
	uint64_t *bytes, *nodes;	/* per node id (1-based), memoised */
	unsigned char *state;		/* 0 new, 1 being measured, 2 done */
};

static int too_big(struct loader *ld, yaml_mark_t m)
{
	return fail(ld, m, NULL, "the document is too large once its aliases "
		    "are expanded (more than %d bytes of values or %d nodes): "
		    "write it out without aliases", EXPAND_MAX_BYTES,
		    EXPAND_MAX_NODES);
}

static int measure(struct loader *ld, struct expand *x, int id, int depth)
{
	yaml_node_t *n = node_at(ld, id);
	uint64_t b = 0, c = 1;
	yaml_mark_t m;
	int i, nk, k;

	if (!n)
		return 0;
	if (x->state[id] == 2)
		return 0;
	if (x->state[id] == 1)
		return fail(ld, n->start_mark, NULL, "an alias refers to a "
			    "node that contains it");
	if (depth > EXPAND_MAX_DEPTH)
		return fail(ld, n->start_mark, NULL, "nested more than %d "
			    "levels deep", EXPAND_MAX_DEPTH);
	x->state[id] = 1;
	m = n->start_mark;
	if (n->type == YAML_SCALAR_NODE) {
		b = n->data.scalar.length + 1;
	} else if (n->type == YAML_SEQUENCE_NODE) {
		nk = n->data.sequence.items.top - n->data.sequence.items.start;
		for (i = 0; i < nk; i++) {
			k = n->data.sequence.items.start[i];
			if (measure(ld, x, k, depth + 1) < 0)
				return -1;
			b += x->bytes[k];
			c += x->nodes[k];
			if (b > EXPAND_MAX_BYTES || c > EXPAND_MAX_NODES)
				return too_big(ld, m);
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		nk = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
		for (i = 0; i < nk; i++) {
			yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];

			if (measure(ld, x, p->key, depth + 1) < 0 ||
			    measure(ld, x, p->value, depth + 1) < 0)
				return -1;
			b += x->bytes[p->key] + x->bytes[p->value];
			c += x->nodes[p->key] + x->nodes[p->value];
			if (node_at(ld, p->key))
				m = node_at(ld, p->key)->start_mark;
			if (b > EXPAND_MAX_BYTES || c > EXPAND_MAX_NODES)
				return too_big(ld, m);
		}
	}
	x->bytes[id] = b;
	x->nodes[id] = c;
	x->state[id] = 2;
	return 0;
}

static int check_expansion(struct loader *ld, yaml_document_t *doc)
{
	size_t n = doc->nodes.top - doc->nodes.start + 1;
	struct expand x = {
		.bytes = calloc(n, sizeof(uint64_t)),
		.nodes = calloc(n, sizeof(uint64_t)),
		.state = calloc(n, 1),
	};
	int rc = -1;

	if (!x.bytes || !x.nodes || !x.state)
		rc = oom(ld);
	else if (yaml_document_get_root_node(doc))
		rc = measure(ld, &x, 1, 0);	/* the root is node 1 */
	else
		rc = 0;
	free(x.bytes);
	free(x.nodes);
	free(x.state);
	return rc;
}

static int load_file(struct loader *ld, FILE *f)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc;

	if (!yaml_parser_initialize(&parser))
		return oom(ld);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = syntax_error(ld, &parser, f);
		yaml_parser_delete(&parser);
		return rc;
	}
	ld->doc = &doc;
	rc = check_expansion(ld, &doc);
	if (rc == 0)
		rc = ld->cfg ? load_root(ld, &doc) : load_table_root(ld, &doc);
	if (rc == 0 && ld->cfg && ld->cfg->kind == GUEST_VM &&
	    config_assign_slots(&ld->cfg->vm, ld->err) < 0)
		rc = fail(ld, yaml_document_get_root_node(&doc)->start_mark,
			  NULL, "%s", ld->err->msg);
	if (rc == 0)
		rc = check_no_more(ld, &parser, f);
	ld->doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/* The canonical directory of the file at path, or NULL (err set). */
static char *file_dir(const char *path, struct error *err)
{
	char *dir = strdup(path), *slash, *out;

	if (!dir) {
		err_set(err, "%s: out of memory", path);
		return NULL;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else
		slash[slash == dir] = '\0';	/* keep "/" for "/x.yaml" */
	out = realpath(dir, NULL);
	free(dir);
	if (!out)
		err_sys(err, "%s: cannot resolve its directory", path);
	return out;
}

/* cfg->path as given, cfg->dir its canonical directory. */
static int init_paths(struct guest_config *cfg, const char *path,
		      struct error *err)
{
	cfg->path = strdup(path);
	if (!cfg->path)
		return err_set(err, "%s: out of memory", path);
	cfg->dir = file_dir(path, err);
	return cfg->dir ? 0 : -1;
}

static FILE *open_config(const char *path, struct error *err)
{
	struct stat st;
	FILE *f = fopen(path, "r");

	if (!f) {
		err_sys(err, "%s", path);
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		errno = EISDIR;
		err_sys(err, "%s", path);
		return NULL;
	}
	return f;
}

int config_load(const char *path, struct guest_config *cfg, struct error *err)
{
	struct loader ld = { .file = path, .what = "guest file", .cfg = cfg,
			     .err = err };
	FILE *f;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	err_clear(err);
	f = open_config(path, err);
	if (!f)
		return -1;
	rc = init_paths(cfg, path, err);
	ld.dir = cfg->dir;
	if (rc == 0)
		rc = load_file(&ld, f);
	fclose(f);
	free(ld.taken);
	if (rc < 0)
		config_free(cfg);
	return rc < 0 ? -1 : 0;
}

int config_load_as(const char *path, const char *dir, const char *name,
		   struct guest_config *cfg, struct error *err)
{
	struct loader ld = { .file = path, .what = "guest file", .cfg = cfg,
			     .err = err };
	const char *why;
	char buf[160];
	FILE *f;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	err_clear(err);
	if (dir[0] != '/')
		return err_input(err, "%s: directory '%s' is not absolute", path, dir);
	why = schema_check_name(name, buf, sizeof(buf));
	if (why)
		return err_input(err, "%s: name: %s", path, why);
	f = open_config(path, err);
	if (!f)
		return -1;
	rc = init_paths(cfg, path, err);
	if (rc == 0) {
		free(cfg->dir);
		cfg->dir = strdup(dir);
		ld.dir = cfg->dir;
		rc = cfg->dir ? load_file(&ld, f) : err_set(err, "out of memory");
	}
	fclose(f);
	if (rc == 0) {
		free(cfg->name);
		cfg->name = strdup(name);
		if (!cfg->name)
			rc = err_set(err, "out of memory");
	}
	if (rc < 0) {
		err->input = 1;
		config_free(cfg);
	}
	return rc < 0 ? -1 : 0;
}

int config_load_keys(const char *path, const char *what,
		     const struct key_table *t, void *base, struct error *err)
{
	struct loader ld = { .file = path, .what = what, .no_column = true,
			     .table = t, .base = base, .err = err };
	char *dir;
	FILE *f;
	int rc;

	err_clear(err);
	f = open_config(path, err);
	if (!f)
		return -1;
	dir = file_dir(path, err);
	ld.dir = dir;
	rc = dir ? load_file(&ld, f) : -1;
	fclose(f);
	free(dir);
	free(ld.taken);
	if (rc < 0) {
		err->input = 1;
		config_free_keys(t, base);
	}
	return rc < 0 ? -1 : 0;
}

/* ---- the PCI topology ---- */

/* slot, if 0, becomes the lowest free one (taken[] marks them). */
static int take_slot(unsigned *slot, bool *taken, const char *what, size_t i,
		     struct error *err)
{
	unsigned s = 1;

	if (*slot)
		return 0;
	while (s < VM_PCI_SLOTS && taken[s])
		s++;
	if (s == VM_PCI_SLOTS)
		return err_set(err, "too many PCI devices: no slot left for "
			       "%s[%zu] (bus 0 has %d)", what, i,
			       VM_PCI_SLOTS - 1);
	taken[s] = true;
	*slot = s;
	return 0;
}

static int mark_slot(unsigned slot, bool *taken, const char *what, size_t i,
		     struct error *err)
{
	if (!slot)
		return 0;
	if (slot >= VM_PCI_SLOTS)
		return err_set(err, "%s[%zu].slot: %u is out of range 1 to %d",
			       what, i, slot, VM_PCI_SLOTS - 1);
	if (taken[slot])
		return err_set(err, "%s[%zu].slot: PCI slot %u is taken "
			       "already", what, i, slot);
	taken[slot] = true;
	return 0;
}

int config_assign_slots(struct machine_spec *vm, struct error *err)
{
	bool taken[VM_PCI_SLOTS] = { [0] = true };     /* the host bridge */

	for (size_t i = 0; i < vm->ndisks; i++)
		if (mark_slot(vm->disks[i].slot, taken, "disks", i, err) < 0)
			return -1;
	for (size_t i = 0; i < vm->nnets; i++)
		if (mark_slot(vm->nets[i].slot, taken, "nets", i, err) < 0)
			return -1;
	for (size_t i = 0; i < vm->ndisks; i++)
		if (take_slot(&vm->disks[i].slot, taken, "disks", i, err) < 0)
			return -1;
	for (size_t i = 0; i < vm->nnets; i++)
		if (take_slot(&vm->nets[i].slot, taken, "nets", i, err) < 0)
			return -1;
	vm->rng_slot = 0;
	if (vm->rng && take_slot(&vm->rng_slot, taken, "rng", 0, err) < 0)
		return err_set(err, "too many PCI devices: no slot left for "
			       "the virtio-rng (rng: false frees one)");
	return 0;
}

/* ---- freeing: walks the same tables ---- */

static void free_keys(const struct key_table *t, void *base);

static void free_key(const struct key *k, void *base)
{
	size_t *count = field_at(base, k->off2);
	char *arr;

	switch (k->type) {
	case KT_STRING:
	case KT_PATH:
		free(*(char **)field_at(base, k->off));
		*(char **)field_at(base, k->off) = NULL;
		return;
	case KT_STR_LIST:
	case KT_STR_MAP:
		arr = get_ptr(base, k->off);
		for (size_t i = 0; arr && i < *count; i++)
			free(((char **)arr)[i]);
		break;
	case KT_MAP_LIST:
		arr = get_ptr(base, k->off);
		for (size_t i = 0; arr && i < *count; i++)
			free_keys(k->sub, arr + i * k->item_size);
		break;
	case KT_MAP:
		free_keys(k->sub, field_at(base, k->off));
		return;
	default:
		return;
	}
	free(arr);
	set_ptr(base, k->off, NULL);
	*count = 0;
}

static void free_keys(const struct key_table *t, void *base)
{
	for (size_t i = 0; i < t->nkeys; i++)
		free_key(&t->keys[i], base);
}

void config_free_keys(const struct key_table *t, void *base)
{
	free_keys(t, base);
}

void config_free(struct guest_config *cfg)
{
	if (!cfg)
		return;
	/* Tables never share a field, and unused kinds' fields are zero. */
	free_keys(&schema_common, cfg);
	for (size_t i = 0; i < schema_nkinds; i++)
		free_keys(schema_kinds[i].table, cfg);
	free(cfg->path);
	free(cfg->dir);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- help ---- */

static const char *default_text(const struct key *k)
{
	if (k->flags & KF_REQUIRED)
		return "required";
	if (k->def_doc)
		return k->def_doc;
	return k->def ? k->def : "none";
}

static void help_key(FILE *out, const struct key *k, const char *prefix,
		     const char *kinds)
{
	char range[128], sub[KEY_NAME_LEN];

	schema_range(k, range, sizeof(range));
	fprintf(out, "  %s%s  (%s)\n", prefix, k->name, kinds);
	fprintf(out, "      type: %s", schema_type_name(k));
	if (*range)
		fprintf(out, "; range: %s", range);
	fprintf(out, "; default: %s\n      %s\n", default_text(k), k->help);
	if (k->type != KT_MAP_LIST && k->type != KT_MAP)
		return;
	snprintf(sub, sizeof(sub), "%s%s%s.", prefix, k->name,
		 k->type == KT_MAP ? "" : "[]");
	for (size_t i = 0; i < k->sub->nkeys; i++)
		help_key(out, &k->sub->keys[i], sub, kinds);
}

static void help_table(FILE *out, const struct key_table *t,
		       const char *kinds)
{
	for (size_t i = 0; i < t->nkeys; i++)
		help_key(out, &t->keys[i], "", kinds);
}

void config_help(FILE *out)
{
	char all[128] = "";

	for (size_t i = 0; i < schema_nkinds; i++) {
		if (i)
			strncat(all, ", ", sizeof(all) - strlen(all) - 1);
		strncat(all, schema_kinds[i].name,
			sizeof(all) - strlen(all) - 1);
	}
	fprintf(out, "Guest file keys (YAML). Relative paths are resolved "
		"against the directory\nof the file. Sizes are bytes or a "
		"number with a K, M or G suffix.\n\nKeys for every kind:\n");
	help_table(out, &schema_common, all);
	for (size_t i = 0; i < schema_nkinds; i++) {
		fprintf(out, "\nKeys for kind: %s\n", schema_kinds[i].name);
		help_table(out, schema_kinds[i].table, schema_kinds[i].name);
	}
}

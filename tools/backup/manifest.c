/* The manifest (manifest.h): json-c both ways. */
#include "manifest.h"
#include "store.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

bool backup_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= BACKUP_NAME_MAX && s[0] != '.' &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._-") == n;
}

bool backup_file_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 255 && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..");
}

bool backup_stamp_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 20 && n <= BACKUP_STAMP_MAX && s[0] != '.' &&
	       strspn(s, "0123456789-:TZ.") == n;
}

void manifest_free(struct manifest *m)
{
	free(m->definition);
	free(m->definition_path);
	for (size_t i = 0; i < m->nitems; i++)
		free(m->item[i].source);
	memset(m, 0, sizeof(*m));
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

char *manifest_encode(const struct manifest *m, bool pretty)
{
	struct json_object *o = json_object_new_object(), *items;
	char hex[2 * SHA256_LEN + 1], *s;

	add_int(o, "format", MANIFEST_FORMAT);
	add_str(o, "id", m->id);
	add_str(o, "guest", m->guest);
	add_str(o, "kind", m->kind);
	add_int(o, "started", m->started);
	add_int(o, "duration_ms", m->duration_ms);
	add_int(o, "freeze_ms", m->freeze_ms);
	add_int(o, "bytes_read", (int64_t)m->bytes_read);
	add_int(o, "bytes_logical", (int64_t)m->bytes_logical);
	add_int(o, "bytes_new", (int64_t)m->bytes_new);
	add_int(o, "chunks", (int64_t)m->chunks);
	add_int(o, "chunks_new", (int64_t)m->chunks_new);
	add_str(o, "definition_path", m->definition_path);
	add_str(o, "definition", m->definition);
	items = json_object_new_array();
	for (size_t i = 0; i < m->nitems; i++) {
		const struct manifest_item *it = &m->item[i];
		struct json_object *j = json_object_new_object();

		add_str(j, "type", it->type == ITEM_DISK ? "disk" : "tree");
		add_str(j, "name", it->name);
		add_str(j, "file", it->file);
		add_str(j, "index", it->index);
		sha256_hex(it->index_sha, hex);
		add_str(j, "index_sha256", hex);
		add_str(j, "source", it->source);
		add_int(j, "size", (int64_t)it->size);
		if (it->type == ITEM_DISK) {
			add_int(j, "bitmap_generation", (int64_t)it->bitmap_gen);
			add_int(j, "bytes_read", (int64_t)it->bytes_read);
			json_object_object_add(j, "incremental",
					       json_object_new_boolean(it->incremental));
			if (!it->incremental)
				add_str(j, "full_reason", it->full_reason);
		}
		json_object_array_add(items, j);
	}
	json_object_object_add(o, "items", items);
	s = strdup(json_object_to_json_string_ext(o, pretty ?
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE :
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* Typed fields of untrusted JSON. */
static const char *get_str(struct json_object *o, const char *k, size_t max,
			   struct error *err)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		err_input(err, "manifest: \"%s\" missing or not a string", k);
		return NULL;
	}
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) > max ||
	    strlen(s) != (size_t)json_object_get_string_len(v)) {
		err_input(err, "manifest: \"%s\" too long or with a NUL", k);
		return NULL;
	}
	return s;
}

static int get_int(struct json_object *o, const char *k, int64_t min,
		   int64_t *out, struct error *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_int))
		return err_input(err, "manifest: \"%s\" missing or not an integer", k);
	*out = json_object_get_int64(v);
	if (*out < min)
		return err_input(err, "manifest: \"%s\" out of range", k);
	return 0;
}

static int copy_str(char *dst, size_t cap, struct json_object *o,
		    const char *k, struct error *err)
{
	const char *s = get_str(o, k, cap - 1, err);

	if (!s)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* The fields a later vessel added: absent is fine, wrong is not. */
static int parse_disk_extras(struct json_object *j, struct manifest_item *it,
			     struct error *err)
{
	struct json_object *v;
	int64_t gen = 0, rd = 0;

	if ((json_object_object_get_ex(j, "bitmap_generation", &v) &&
	     get_int(j, "bitmap_generation", 0, &gen, err) < 0) ||
	    (json_object_object_get_ex(j, "bytes_read", &v) &&
	     get_int(j, "bytes_read", 0, &rd, err) < 0))
		return -1;
	it->bitmap_gen = (uint64_t)gen;
	it->bytes_read = (uint64_t)rd;
	if (json_object_object_get_ex(j, "incremental", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return err_input(err, "manifest: \"incremental\" not a "
					 "boolean");
		it->incremental = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(j, "full_reason", &v))
		return copy_str(it->full_reason, sizeof(it->full_reason), j,
				"full_reason", err);
	return 0;
}

static int parse_item(struct json_object *j, struct manifest_item *it,
		      struct error *err)
{
	const char *type, *hex, *src;
	int64_t size;
	size_t n;

	if (!json_object_is_type(j, json_type_object))
		return err_input(err, "manifest: an item is not an object");
	if (!(type = get_str(j, "type", 8, err)) ||
	    copy_str(it->name, sizeof(it->name), j, "name", err) < 0 ||
	    copy_str(it->file, sizeof(it->file), j, "file", err) < 0 ||
	    copy_str(it->index, sizeof(it->index), j, "index", err) < 0 ||
	    !(hex = get_str(j, "index_sha256", 64, err)) ||
	    !(src = get_str(j, "source", 4096, err)) ||
	    get_int(j, "size", 0, &size, err) < 0)
		return -1;
	if (!strcmp(type, "disk"))
		it->type = ITEM_DISK;
	else if (!strcmp(type, "tree"))
		it->type = ITEM_TREE;
	else
		return err_input(err, "manifest: item type \"%s\"", type);
	n = strlen(it->index);
	if (!backup_file_ok(it->file) || !backup_name_ok(it->name) ||
	    n < 5 || strcmp(it->index + n - 4, ".idx") || !backup_name_ok(it->index))
		return err_input(err, "manifest: bad item or file name");
	if (strlen(hex) != 64 || hex_digest(hex, it->index_sha) < 0)
		return err_input(err, "manifest: bad index_sha256");
	it->size = (uint64_t)size;
	if (it->type == ITEM_DISK && parse_disk_extras(j, it, err) < 0)
		return -1;
	it->source = strdup(src);
	return it->source ? 0 : err_set(err, "out of memory");
}

static int parse_obj(struct json_object *o, struct manifest *m,
		     struct error *err)
{
	struct json_object *items;
	const char *s, *slash;
	int64_t fmt, v[5];
	size_t n;

	if (!json_object_is_type(o, json_type_object))
		return err_input(err, "manifest: not a JSON object");
	if (get_int(o, "format", 0, &fmt, err) < 0)
		return -1;
	if (fmt != MANIFEST_FORMAT)
		return err_input(err, "manifest format %lld (this vessel reads %d)",
				 (long long)fmt, MANIFEST_FORMAT);
	if (copy_str(m->id, sizeof(m->id), o, "id", err) < 0 ||
	    copy_str(m->guest, sizeof(m->guest), o, "guest", err) < 0 ||
	    copy_str(m->kind, sizeof(m->kind), o, "kind", err) < 0 ||
	    get_int(o, "started", 0, &m->started, err) < 0 ||
	    get_int(o, "duration_ms", 0, &m->duration_ms, err) < 0 ||
	    get_int(o, "freeze_ms", -1, &m->freeze_ms, err) < 0 ||
	    get_int(o, "bytes_read", 0, &v[0], err) < 0 ||
	    get_int(o, "bytes_logical", 0, &v[1], err) < 0 ||
	    get_int(o, "bytes_new", 0, &v[2], err) < 0 ||
	    get_int(o, "chunks", 0, &v[3], err) < 0 ||
	    get_int(o, "chunks_new", 0, &v[4], err) < 0)
		return -1;
	m->bytes_read = (uint64_t)v[0];
	m->bytes_logical = (uint64_t)v[1];
	m->bytes_new = (uint64_t)v[2];
	m->chunks = (uint64_t)v[3];
	m->chunks_new = (uint64_t)v[4];
	slash = strchr(m->id, '/');
	if (!backup_name_ok(m->guest) || !slash ||
	    (size_t)(slash - m->id) != strlen(m->guest) ||
	    strncmp(m->id, m->guest, strlen(m->guest)) || !backup_stamp_ok(slash + 1))
		return err_input(err, "manifest: bad id or guest name");
	if (strcmp(m->kind, "vm") && strcmp(m->kind, "container"))
		return err_input(err, "manifest: kind \"%s\"", m->kind);
	if (!(s = get_str(o, "definition_path", 4096, err)) ||
	    !(m->definition_path = strdup(s)) ||
	    !(s = get_str(o, "definition", MANIFEST_MAX, err)) ||
	    !(m->definition = strdup(s)))
		return err->msg[0] ? -1 : err_set(err, "out of memory");
	if (!json_object_object_get_ex(o, "items", &items) ||
	    !json_object_is_type(items, json_type_array))
		return err_input(err, "manifest: \"items\" missing or not a list");
	n = json_object_array_length(items);
	if (n > MANIFEST_ITEMS)
		return err_input(err, "manifest: %zu items (at most %d)", n,
				 MANIFEST_ITEMS);
	for (size_t i = 0; i < n; i++) {
		if (parse_item(json_object_array_get_idx(items, i), &m->item[i],
			       err) < 0)
			return -1;
		m->nitems++;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->item[j].file, m->item[i].file) ||
			    !strcmp(m->item[j].index, m->item[i].index))
				return err_input(err, "manifest: two items named %s",
						 m->item[i].file);
	}
	return 0;
}

static bool only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", p[i]) || !p[i])
			return false;
	return true;
}

int manifest_parse(const char *buf, size_t len, struct manifest *m,
		   struct error *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	int r;

	memset(m, 0, sizeof(*m));
	err->msg[0] = '\0';
	if (len > MANIFEST_MAX || memchr(buf, '\0', len))
		return err_input(err, "manifest larger than %u bytes", MANIFEST_MAX);
	tok = json_tokener_new_ex(32);
	if (!tok)
		return err_set(err, "out of memory");
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !only_space(buf + json_tokener_get_parse_end(tok),
			len - json_tokener_get_parse_end(tok))) {
		json_tokener_free(tok);
		json_object_put(o);
		return err_input(err, "manifest is not valid JSON");
	}
	json_tokener_free(tok);
	r = parse_obj(o, m, err);
	json_object_put(o);
	if (r < 0)
		manifest_free(m);
	return r;
}

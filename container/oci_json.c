#include "oci_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

int oj_object(json_object *obj, const char *where, struct error *err)
{
	if (obj && !json_object_is_type(obj, json_type_object))
		return err_input(err, "%s: must be an object", where);
	return 0;
}

json_object *oj_get(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

int oj_check_keys(json_object *obj, const char *where,
		  const char *const *known, struct error *err)
{
	size_t i;

	if (!obj)
		return 0;
	if (oj_object(obj, where, err) < 0)
		return -1;
	json_object_object_foreach(obj, key, val) {
		(void)val;
		for (i = 0; known[i]; i++)
			if (!strcmp(known[i], key))
				break;
		if (!known[i])
			return err_input(err, "%s%s%.200s: not supported by "
					 "vessel", where, *where ? "." : "",
					 key);
	}
	return 0;
}

int oj_string(json_object *obj, const char *where, char **out,
	      struct error *err)
{
	size_t len;

	*out = NULL;
	if (!obj)
		return 0;
	if (!json_object_is_type(obj, json_type_string))
		return err_input(err, "%s: must be a string", where);
	len = (size_t)json_object_get_string_len(obj);
	if (len > OCI_MAX_STRING)
		return err_input(err, "%s: longer than %d bytes", where,
				 OCI_MAX_STRING);
	if (memchr(json_object_get_string(obj), '\0', len))
		return err_input(err, "%s: contains a NUL byte", where);
	*out = strdup(json_object_get_string(obj));
	if (!*out)
		return err_set(err, "out of memory");
	return 0;
}

int oj_array(json_object *obj, const char *where, size_t *n,
	     struct error *err)
{
	*n = 0;
	if (!obj)
		return 0;
	if (!json_object_is_type(obj, json_type_array))
		return err_input(err, "%s: must be an array", where);
	*n = json_object_array_length(obj);
	if (*n > OCI_MAX_ARRAY)
		return err_input(err, "%s: more than %d entries", where,
				 OCI_MAX_ARRAY);
	return 0;
}

void oj_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int oj_strv(json_object *obj, const char *where, char ***out, size_t *n,
	    struct error *err)
{
	char **v, sub[256];
	size_t i, len;

	*out = NULL;
	*n = 0;
	if (oj_array(obj, where, &len, err) < 0)
		return -1;
	if (!obj)
		return 0;
	v = calloc(len + 1, sizeof(*v));
	if (!v)
		return err_set(err, "out of memory");
	for (i = 0; i < len; i++) {
		snprintf(sub, sizeof(sub), "%.200s[%zu]", where, i);
		if (!json_object_array_get_idx(obj, i) ||
		    oj_string(json_object_array_get_idx(obj, i), sub, &v[i],
			      err) < 0) {
			if (!json_object_array_get_idx(obj, i))
				err_input(err, "%s: must be a string", sub);
			oj_strv_free(v, i);
			return -1;
		}
	}
	*out = v;
	*n = len;
	return 0;
}

int oj_i64(json_object *obj, const char *where, int64_t min, int64_t max,
	   int64_t *out, struct error *err)
{
	int64_t v;

	if (!obj)
		return 0;
	if (!json_object_is_type(obj, json_type_int))
		return err_input(err, "%s: must be an integer", where);
	errno = 0;
	v = json_object_get_int64(obj);
	/* json-c saturates what does not fit and says so in errno. */
	if (errno || v < min || v > max)
		return err_input(err, "%s: out of range (%lld..%lld)", where,
				 (long long)min, (long long)max);
	*out = v;
	return 0;
}

int oj_u64(json_object *obj, const char *where, uint64_t max, uint64_t *out,
	   struct error *err)
{
	uint64_t v;

	if (!obj)
		return 0;
	if (!json_object_is_type(obj, json_type_int))
		return err_input(err, "%s: must be an integer", where);
	if (json_object_get_int64(obj) < 0)
		return err_input(err, "%s: must not be negative", where);
	errno = 0;
	v = json_object_get_uint64(obj);
	if (errno || v > max)
		return err_input(err, "%s: out of range (0..%llu)", where,
				 (unsigned long long)max);
	*out = v;
	return 0;
}

int oj_bool(json_object *obj, const char *where, bool *out,
	    struct error *err)
{
	if (!obj)
		return 0;
	if (!json_object_is_type(obj, json_type_boolean))
		return err_input(err, "%s: must be true or false", where);
	*out = json_object_get_boolean(obj);
	return 0;
}

int oj_read_file(const char *path, size_t max, char **out, size_t *len,
		 struct error *err)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_sys(err, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		close(fd);
		return err_input(err, "%s: not a regular file of at most %zu "
				 "bytes", path, max);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return err_set(err, "out of memory");
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return err_sys(err, "reading %s", path);
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = (size_t)n;
	return 0;
}

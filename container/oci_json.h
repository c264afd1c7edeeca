/* Strict reading of an OCI config.json (json-c): every value has the
 * type the runtime spec says, every string and array is bounded, and a
 * field vessel does not know is an error naming it. `where` is the
 * field's path for messages ("process.args[2]"). */
#ifndef VESSEL_OCI_JSON_H
#define VESSEL_OCI_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tools/base/error.h"

#define OCI_MAX_STRING 4096	/* bytes in any string */
#define OCI_MAX_ARRAY 1024	/* entries in any array */
#define OCI_MAX_FILE (4 << 20)	/* bytes of config.json */

/* Every key of obj must be in known (NULL-terminated). */
int oj_check_keys(json_object *obj, const char *where,
		  const char *const *known, struct error *err);
/* obj must be an object (or, with optional, absent: NULL is fine). */
int oj_object(json_object *obj, const char *where, struct error *err);
/* The member key of obj, or NULL. */
json_object *oj_get(json_object *obj, const char *key);
/* A bounded string; *out is a copy (free it). Absent: *out NULL. */
int oj_string(json_object *obj, const char *where, char **out,
	      struct error *err);
/* A bounded array; *n its length (0 if absent). */
int oj_array(json_object *obj, const char *where, size_t *n,
	     struct error *err);
/* An array of bounded strings as a heap vector of heap strings. */
int oj_strv(json_object *obj, const char *where, char ***out, size_t *n,
	    struct error *err);
int oj_u64(json_object *obj, const char *where, uint64_t max, uint64_t *out,
	   struct error *err);
/* A signed integer in [min, max]. */
int oj_i64(json_object *obj, const char *where, int64_t min, int64_t max,
	   int64_t *out, struct error *err);
int oj_bool(json_object *obj, const char *where, bool *out,
	    struct error *err);
void oj_strv_free(char **v, size_t n);
/* A whole regular file of at most max bytes, NUL-terminated (free it). */
int oj_read_file(const char *path, size_t max, char **out, size_t *len,
		 struct error *err);

#endif

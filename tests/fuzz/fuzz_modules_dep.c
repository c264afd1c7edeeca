/* libFuzzer target: the modules.dep / modules.builtin parser and the
 * dependency walk (tools/appliance/modules.c). The input is a modules.dep;
 * parsed, every module it names is resolved, and the order must put each
 * dependency before its user, with each path once and never escaping the
 * module directory. The same bytes as a modules.builtin must parse or fail
 * with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/appliance/modules.h"

/* A ".." component anywhere. */
static int escapes(const char *p)
{
	size_t n = strlen(p);

	return !strncmp(p, "../", 3) || strstr(p, "/../") || !strcmp(p, "..") ||
	       (n >= 3 && !strcmp(p + n - 3, "/.."));
}

static size_t index_of(char **paths, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(paths[i], p))
			return i;
	return (size_t)-1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct moddb db = { 0 };
	struct error err = { 0 };

	if (modbuiltin_parse(&db, text, size, &err) < 0 && !err.msg[0])
		__builtin_trap();
	moddb_free(&db);
	err_clear(&err);
	if (moddep_parse(&db, text, size, &err) < 0) {
		if (!err.msg[0])
			__builtin_trap();
		moddb_free(&db);
		return 0;
	}
	const char **wanted = calloc(db.nmods + 1, sizeof(*wanted));
	char **paths;
	size_t n;

	for (size_t i = 0; wanted && i < db.nmods; i++)
		wanted[i] = db.mods[i].name;
	if (wanted && moddb_resolve(&db, wanted, db.nmods, "fuzz", &paths, &n,
				    &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (paths[i][0] == '/' || escapes(paths[i]) ||
			    index_of(paths, n, paths[i]) != i)
				__builtin_trap();
		}
		for (size_t m = 0; m < db.nmods; m++) {
			size_t at = index_of(paths, n, db.mods[m].path);

			for (size_t d = 0; at != (size_t)-1 && d < db.mods[m].ndeps; d++)
				if (index_of(paths, n, db.mods[db.mods[m].deps[d]].path) >= at)
					__builtin_trap();
		}
		for (size_t i = 0; i < n; i++)
			free(paths[i]);
		free(paths);
	} else if (wanted && !err.msg[0]) {
		__builtin_trap();
	}
	free(wanted);
	moddb_free(&db);
	return 0;
}

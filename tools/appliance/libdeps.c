/* Shared-library closure via ldd (libdeps.h). ldd lines look like
 *   libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)
 *   /lib64/ld-linux-x86-64.so.2 (0x...)
 *   linux-vdso.so.1 (0x...)            (no file: skipped) */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "libdeps.h"
#include "tool_run.h"

int libdeps_parse(const char *text, char ***paths, size_t *npaths,
		  struct error *err)
{
	const char *line = text;

	*paths = NULL;
	*npaths = 0;
	while (*line) {
		const char *eol = strchr(line, '\n'), *p, *arrow, *end;
		size_t n;

		if (!eol)
			eol = line + strlen(line);
		arrow = memmem(line, (size_t)(eol - line), "=> ", 3);
		p = arrow ? arrow + 3 : line;
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		for (end = p; end < eol && *end != ' ' && *end != '\t'; end++)
			;
		n = (size_t)(end - p);
		if (n > 1 && *p == '/' && n < 4096) {
			bool dup = false;

			for (size_t i = 0; i < *npaths; i++)
				if (strlen((*paths)[i]) == n && !memcmp((*paths)[i], p, n))
					dup = true;
			if (!dup) {
				char **v = realloc(*paths, (*npaths + 1) * sizeof(*v));

				if (!v)
					return err_set(err, "out of memory");
				*paths = v;
				v[*npaths] = strndup(p, n);
				if (!v[*npaths])
					return err_set(err, "out of memory");
				(*npaths)++;
			}
		}
		line = *eol ? eol + 1 : eol;
	}
	return 0;
}

int libdeps_add(struct fileset *fs, const char *program, size_t *added,
		struct error *err)
{
	const char *argv[] = { "ldd", program, NULL };
	struct error ignored = { 0 };
	char *out, **paths;
	size_t len, n;
	int r = 0;

	*added = 0;
	/* ldd fails on a static program: nothing to add. */
	if (tool_output(argv, &out, &len, &ignored) < 0)
		return 0;
	r = libdeps_parse(out, &paths, &n, err);
	free(out);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = fileset_add_file(fs, paths[i] + 1, paths[i], 0755, err);
		free(paths[i]);
	}
	free(paths);
	if (r == 0)
		*added = n;
	return r;
}

/* Shared-library closure via ldd (libdeps.h). ldd lines look like
 *   libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)
 *   /lib64/ld-linux-x86-64.so.2 (0x...)
 *   linux-vdso.so.1 (0x...)            (no file: skipped) */
#include <stdbool.h>
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Has the ELF program at path a PT_INTERP (a dynamic loader)? -1: not
 * a readable 64-bit ELF file. */
static int is_dynamic(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(path, O_RDONLY | O_CLOEXEC), dyn = 0;

	if (fd < 0)
		return -1;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph) || eh.e_phnum > 512) {
		close(fd);
		return -1;
	}
	for (unsigned i = 0; i < eh.e_phnum && !dyn; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph))
			break;
		dyn = ph.p_type == PT_INTERP;
	}
	close(fd);
	return dyn;
}

int libdeps_add(struct fileset *fs, const char *program, size_t *added,
		struct error *err)
{
	const char *argv[] = { "ldd", program, NULL };
	char *out, **paths;
	size_t len, n;
	int r = 0, dyn = is_dynamic(program);

	*added = 0;
	if (dyn < 0)
		return err_set(err, "%s: not a 64-bit ELF program", program);
	if (!dyn)
		return 0;       /* static: nothing to add */
	if (tool_output(argv, &out, &len, err) < 0)
		return err_prefix(err, "the libraries of %s", program);
	r = libdeps_parse(out, &paths, &n, err);
	free(out);
	if (r == 0 && n == 0)
		r = err_set(err, "ldd %s named no libraries", program);
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

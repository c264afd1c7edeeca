/* libFuzzer target: the tar reader (container/tar.c), plain or gzip, with
 * GNU long names and pax headers. The input is an archive; every entry is
 * read to its end, as tarball.c does, until the end or an error. */
#include "../../container/tar.h"

#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	struct tar_reader t;
	struct tar_entry e;
	struct error err;
	char buf[4096];
	int n = 0;

	if (!path)
		return 0;
	if (tar_open(&t, path, &err) < 0)
		return 0;
	t.limit = 1 << 20;	/* as tarball.c limits it, smaller: fast runs */
	while (n++ < 10000 && tar_next(&t, &e, &err) > 0) {
		if (!e.path || !e.link)
			__builtin_trap();
		while (tar_read(&t, buf, sizeof(buf), &err) > 0)
			;
	}
	tar_close(&t);
	return 0;
}

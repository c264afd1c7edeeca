/* libFuzzer target: what `vessel init` reads at boot that an image could
 * get wrong: /lib/modules/load-order (modules_parse) and a block device's
 * ext4 superblock (ext4_probe). Either must succeed or fail with a
 * message, never crash. */
#include "../../tools/appliance/init.h"

#include <stdarg.h>
#include <string.h>

#include "input.h"

/* init.c's logger, not linked here. */
void init_log(const char *fmt, ...)
{
	(void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct module_list ml;
	struct ext4_info info;
	struct error err = { 0 };
	const char *path;
	FILE *f;
	int r;

	if (modules_parse((const char *)data, size, "/lib/modules/k", &ml,
			  &err) == 0) {
		for (size_t i = 0; i < ml.n; i++)
			if (!ml.paths[i] || ml.paths[i][0] != '/' ||
			    strstr(ml.paths[i], "/../"))
				__builtin_trap();
		modules_free(&ml);
	} else if (!err.msg[0]) {
		__builtin_trap();
	}
	/* The same bytes as the superblock at offset 1024 of a device. */
	path = input_file(data, size);
	if (!path)
		return 0;
	f = fopen(path, "r+");
	if (!f)
		return 0;
	{
		static uint8_t pad[1024];
		uint8_t buf[65536 + 1024];

		memcpy(buf, pad, sizeof(pad));
		memcpy(buf + 1024, data, size < 65536 ? size : 65536);
		rewind(f);
		if (fwrite(buf, 1, 1024 + (size < 65536 ? size : 65536), f) == 0) {
			fclose(f);
			return 0;
		}
		fflush(f);
	}
	r = ext4_probe(fileno(f), &info, &err);
	if (r == 1 && strlen(info.label) > 16)
		__builtin_trap();
	fclose(f);
	return 0;
}

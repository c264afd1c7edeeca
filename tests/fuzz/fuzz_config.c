/* libFuzzer target: the YAML guest-file loader (tools/config.c). The input
 * is a guest file; loading it must succeed or fail with a message, and a
 * loaded config must free cleanly. */
#include "../../tools/config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int mfd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_config cfg;
	struct error err;

	if (mfd < 0) {
		mfd = memfd_create("fuzz-config", 0);
		if (mfd < 0)
			return 0;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	}
	if (ftruncate(mfd, 0) < 0 || pwrite(mfd, data, size, 0) != (ssize_t)size)
		return 0;
	if (config_load(path, &cfg, &err) == 0)
		config_free(&cfg);
	else if (!err.msg[0])
		__builtin_trap();	/* a failure always says why */
	return 0;
}

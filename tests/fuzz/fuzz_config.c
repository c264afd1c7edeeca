/* libFuzzer target: the YAML guest-file loader (tools/config.c). The input
 * is a guest file; loading it must succeed or fail with a message, and a
 * loaded config must free cleanly. */
#include "../../tools/config.h"

#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	struct guest_config cfg;
	struct error err;

	if (!path)
		return 0;
	if (config_load(path, &cfg, &err) == 0)
		config_free(&cfg);
	else if (!err.msg[0])
		__builtin_trap();	/* a failure always says why */
	return 0;
}

/* libFuzzer target: the host.yaml loader (tools/appliance/host_config.c on
 * the guest files' loader). The input is a host.yaml; loading it must
 * succeed or fail with a message, and a loaded config must free cleanly. */
#include "../../tools/appliance/host_config.h"

#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	struct host_config hc;
	struct error err;

	if (!path)
		return 0;
	if (host_config_load(path, &hc, &err) == 0) {
		/* What init relies on: defaults filled in. */
		if (!hc.hostname || !hc.console)
			__builtin_trap();
		host_config_free(&hc);
	} else if (!err.msg[0]) {
		__builtin_trap();	/* a failure always says why */
	}
	return 0;
}

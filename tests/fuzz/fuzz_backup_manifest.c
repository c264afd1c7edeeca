/* libFuzzer: a backup manifest (tools/backup/manifest.c, JSON). */
#include <stdlib.h>

#include "../../tools/backup/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	struct manifest m;

	if (manifest_parse((const char *)data, size, &m, &err) == 0) {
		free(manifest_encode(&m, false));
		manifest_free(&m);
	}
	return 0;
}

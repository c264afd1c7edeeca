/* libFuzzer: a container tree's archive stream (tools/backup/
 * tree_format.c), read record by record from memory, data skipped. */
#include "../../tools/backup/tree_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tree_entry e;
	struct error err = { 0 };
	struct mem_src m;

	if (!e.pool && tree_entry_init(&e, &err) < 0)
		return 0;
	mem_src_init(&m, data, size);
	if (tree_get_header(&m.src, &err) < 0)
		return 0;
	for (int i = 0; i < 10000; i++) {
		if (tree_get_entry(&m.src, &e, &err) < 0 || e.type == 'e')
			break;
		if (e.type == 'f' && m.src.read(&m.src, NULL, e.size, &err) < 0)
			break;
	}
	return 0;
}

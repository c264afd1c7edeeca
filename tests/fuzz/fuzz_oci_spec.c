/* libFuzzer target: the OCI config.json parser (container/oci_spec.c,
 * with oci_json.c, oci_seccomp.c and the mount options of oci_mounts.c).
 * The input is the file's text; the bundle is "/", so a root.path of
 * "/" or "." exists. A parsed config is checked for what the runtime
 * relies on, then freed. */
#include <string.h>

#include "../../container/oci_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_config oc;
	struct error err;
	size_t i;

	if (oci_spec_parse((const char *)data, size, "/", &oc, NULL, &err) < 0)
		return 0;
	if (!oc.ct.rootfs || !oc.ct.ncommand || !oc.spec.cwd ||
	    oc.spec.cwd[0] != '/')
		__builtin_trap();
	for (i = 0; i < oc.spec.nmounts; i++)
		if (oc.spec.mounts[i].target[0] != '/' ||
		    (!oc.spec.mounts[i].bind && !oc.spec.mounts[i].type))
			__builtin_trap();
	oci_spec_free(&oc);
	return 0;
}

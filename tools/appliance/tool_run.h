/* Running the build-time tools an image needs (mkfs.vfat, mtools,
 * mkfs.ext4, debugfs, objcopy, busybox): fork, exec, wait; stdout
 * discarded or captured, stderr passed through. */
#ifndef VESSEL_TOOL_RUN_H
#define VESSEL_TOOL_RUN_H

#include <stddef.h>

#include "../base/error.h"

/* Run argv (argv[0] looked up in PATH) with env ("KEY=VALUE", NULL-ended,
 * may be NULL) added to the environment. 0 when it exits 0; otherwise a
 * host error naming the tool and, for a missing tool, its package. */
int tool_run(const char *const *argv, const char *const *env, struct error *err);
/* The same with stderr discarded too (a tool that talks on stderr when
 * all is well: debugfs). */
int tool_run_quiet(const char *const *argv, const char *const *env,
		   struct error *err);
/* The same, capturing stdout (at most 1 MiB) into *out (NUL-terminated). */
int tool_output(const char *const *argv, char **out, size_t *len,
		struct error *err);

#endif

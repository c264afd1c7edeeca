/* OCI hooks (config.json "hooks"): programs the runtime runs at points
 * of a container's life, each with the container's state JSON on its
 * stdin, its own args and env, and an optional timeout (seconds).
 *
 *   prestart, createRuntime  by `create`, once the namespaces exist and
 *                            before the rootfs is set up (PID 1 waits);
 *   createContainer          by PID 1 during `create`, in the container's
 *                            namespaces with its mounts made, before
 *                            pivot_root (the path is the host's);
 *   startContainer           by PID 1 during `start`, after pivot_root,
 *                            before the command is executed (the path is
 *                            the container's);
 *   poststart                by `start`, once PID 1 was let go;
 *   poststop                 by `delete`, after the cleanup.
 * A failing prestart, createRuntime or createContainer hook fails create
 * (everything is undone); a failing startContainer hook fails start: the
 * command never runs and the container is stopped. A failing poststart
 * or poststop hook is reported but the command's work stands (as runc). */
#ifndef VESSEL_OCI_HOOKS_H
#define VESSEL_OCI_HOOKS_H

#include <json-c/json.h>
#include <stddef.h>

#include "../tools/base/error.h"

#define OCI_MAX_HOOKS 64

struct oci_hook {
	char *path;
	char **args; size_t nargs;
	char **env; size_t nenv;
	int timeout;			/* seconds, 0: none */
};

enum oci_hook_stage {
	HOOK_PRESTART, HOOK_CREATE_RUNTIME, HOOK_CREATE_CONTAINER,
	HOOK_START_CONTAINER, HOOK_POSTSTART, HOOK_POSTSTOP, HOOK_NSTAGES,
};

struct oci_hooks {
	struct oci_hook *h[HOOK_NSTAGES];
	size_t n[HOOK_NSTAGES];
};

int oci_hooks_parse(json_object *obj, struct oci_hooks *out,
		    struct error *err);
void oci_hooks_free(struct oci_hooks *h);
/* Run the stage's hooks in order with state (JSON text) on stdin; the
 * first failure is returned, naming the hook. */
int oci_hooks_run(const struct oci_hooks *h, enum oci_hook_stage stage,
		  const char *state, struct error *err);

#endif

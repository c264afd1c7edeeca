/* A detached container's state on disk, so that another process can
 * load its handle by id: <root>/<id>/ (mode 0700) holds state.json
 * (written whole, then renamed into place) and, until it is started,
 * exec.fifo (handle.h). Every process that uses a handle holds an
 * exclusive flock on <root>/<id> meanwhile, so two never act on one
 * container at once.
 *
 * state.json: {"ociVersion", "id", "pid", "starttime" (of pid, from
 * /proc/PID/stat: a reused pid is not taken for the container),
 * "bundle", "rootfs", "created" (RFC 3339), "annotations", "cgroup":
 * {"v2", "unified", "dirs": [...]}}. It is read back as untrusted
 * input: sizes bounded, types checked, the cgroup directories must lie
 * under /sys/fs/cgroup.
 *
 * The status is computed, not stored (as runc): stopped if the pid is
 * gone, a zombie or another process; created while exec.fifo exists;
 * paused if frozen (freezer.h); else running. */
#ifndef VESSEL_CT_STATE_H
#define VESSEL_CT_STATE_H

#include <json-c/json.h>
#include <stddef.h>

#include "../tools/base/error.h"
#include "handle.h"

struct ct;

/* An id: [A-Za-z0-9_.+-], 1..1024 bytes, not "." or "..". */
int ct_id_check(const char *id, struct error *err);
/* create: <root>/<id> made (an existing one is an error), locked, and
 * the exec fifo made and opened (O_PATH) for the child. */
int ct_state_prepare(struct ct *ct, const struct ct_create_opts *o,
		     struct error *err);
int ct_state_save(struct ct *ct, struct error *err);
void ct_state_remove(struct ct *ct);
/* Load and lock the handle of id. */
int container_load(const char *root, const char *id, struct ct **out,
		   struct error *err);
/* The ids under root (sorted); free with free() each and the vector. */
int ct_state_list(const char *root, char ***ids, size_t *n,
		  struct error *err);
/* The OCI state of ct ({"ociVersion", "id", "status", "pid", "bundle",
 * "annotations"} plus runc's "rootfs", "created", "owner"). */
json_object *ct_state_oci(struct ct *ct);
/* The same with this status (a hook's view while creating), as text
 * (free it). */
char *ct_state_oci_text(struct ct *ct, const char *status);

#endif

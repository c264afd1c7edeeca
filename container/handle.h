/* A container handle, in explicit steps (as crun's libcrun_container_*):
 *
 *   container_create   checks, cgroup, namespaces, id maps, rootfs and
 *                      mounts: PID 1 is set up and waits at a sync point
 *                      before exec (status "created");
 *   container_start    lets it exec its command ("running");
 *   container_kill     a signal to PID 1, or to every process (all);
 *   container_pause    freezes or thaws it (freezer.h; "paused");
 *   container_wait     (the creator only) supervises PID 1 until it exits
 *                      and returns its status (supervise.h);
 *   container_destroy  kills what is left, removes the cgroup, the state
 *                      and the handle. Mounts live only in the
 *                      container's mount namespace and go with it.
 *
 * vessel run uses a foreground handle (container.c): PID 1 dies with its
 * creator (parent-death signal) and a janitor cleans up after a killed
 * vessel. The OCI runtime (vessel-runc) creates detached handles: the
 * creator exits after create, PID 1 waits on the exec fifo
 * <state_root>/<id>/exec.fifo until a later `start` opens it, and the
 * state is persisted as JSON in <state_root>/<id>/state.json so that
 * another process can load the handle by id (ct_state.h). */
#ifndef VESSEL_HANDLE_H
#define VESSEL_HANDLE_H

#include <signal.h>
#include <stdbool.h>

#include "../tools/base/error.h"
#include "ct_config.h"
#include "spec.h"

struct ct;

enum ct_status { CT_CREATED, CT_RUNNING, CT_PAUSED, CT_STOPPED };

struct ct_create_opts {
	const char *id;			/* default: c->name */
	const struct ct_spec *spec;	/* NULL: ct_spec_default() */
	const char *state_root;		/* detached: where the state goes */
	const char *bundle;		/* detached: for the state */
	const char *annotations;	/* detached: JSON object, or NULL */
	bool detached;
	int console_socket;		/* detached with a terminal, or -1 */
	int preserve_fds;		/* fds 3.. passed to PID 1 */
	const sigset_t *child_mask;	/* PID 1's signal mask (NULL: ours) */
};

int container_create(const struct container_config *c,
		     const struct ct_create_opts *o, struct ct **out,
		     struct error *err);
int container_start(struct ct *ct, struct error *err);
/* The creator of a foreground handle: PID 1's exit status (0..255, or
 * 128+N for signal N), relaying the pty and forwarding signals. */
int container_wait(struct ct *ct, struct error *err);
int container_kill(struct ct *ct, int sig, bool all, struct error *err);
int container_pause(struct ct *ct, bool pause, struct error *err);
/* Kill, clean up and free the handle (also on failure). */
int container_destroy(struct ct *ct, struct error *err);
/* Free the handle only (unlocks it); the container stays. */
void container_release(struct ct *ct);

pid_t container_pid(const struct ct *ct);
const char *container_id(const struct ct *ct);
enum ct_status container_status(struct ct *ct);
const char *container_status_name(enum ct_status s);

#endif

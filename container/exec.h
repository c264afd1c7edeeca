/* A new process in a running container (`vessel-runc exec`): it joins
 * PID 1's namespaces (setns through the pidfd, one call for all of
 * them) and the container's cgroup, then runs as the given process spec
 * says (process.h: user, capabilities, rlimits, env, cwd,
 * no_new_privs and the container's seccomp filter). The process is the
 * caller's child (a helper forks it with CLONE_PARENT after setns, since
 * a new pid namespace applies to children only), so the caller can wait
 * for it, or exit and leave it to its subreaper (--detach). */
#ifndef VESSEL_EXEC_H
#define VESSEL_EXEC_H

#include <stdbool.h>
#include <sys/types.h>

#include "../tools/base/error.h"
#include "ct_config.h"
#include "spec.h"

struct ct;

struct ct_exec_opts {
	int console_socket;	/* spec->terminal: the pty master goes
				 * there, or -1 */
	int preserve_fds;
};

/* Returns the new process's pid (the caller's child), or -1. */
pid_t container_exec(struct ct *ct, const struct container_config *c,
		     const struct ct_spec *spec,
		     const struct ct_exec_opts *o, struct error *err);

#endif

/* The state of one container, shared by the parent-side modules
 * (container.c, handle.c, ct_state.c, supervise.c, janitor.c) and read
 * by the child. A handle (handle.h) is a struct ct. */
#ifndef VESSEL_CT_H
#define VESSEL_CT_H

#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../tools/base/error.h"
#include "ct_config.h"
#include "janitor.h"
#include "seccomp_prog.h"
#include "spec.h"

struct cgroup;

struct ct {
	const struct container_config *c;	/* NULL for a loaded handle */
	const struct ct_spec *spec;	/* likewise */
	struct ct_spec default_spec;	/* spec when the caller gave none */
	const char *name;		/* the id */
	const char *hostname;		/* NULL: not set */
	const char *rootfs;		/* directory actually used */
	char *unpack_dir;		/* unpacked tarball's run directory to
					 * remove, or NULL */
	char *unpack_root;		/* the tree in it (the rootfs) */
	struct cgroup *cg;		/* NULL when not created */
	bool tty;			/* PID 1's stdio is the pty */
	int pty_master, pty_slave;	/* the pty (pty.h), or -1 */
	char pty_name[64];		/* host path of the pty slave */
	int sock;			/* parent's end of the sync socketpair */
	int child_sock;			/* child's end (closed in the parent) */
	pid_t pid;			/* container PID 1, as seen by the host */
	int pidfd;
	pid_t veth_pid;			/* pid the veth names derive from
					 * (veth.h), 0 once deleted */
	/* The handle (handle.h). */
	bool detached;			/* outlives its creator (OCI) */
	bool started;
	sigset_t child_mask;		/* PID 1's signal mask */
	int console_socket;		/* where the pty master goes, or -1 */
	int preserve_fds;
	int fifo_fd;			/* child: O_PATH of the exec fifo */
	struct janitor jan;
	char *state_dir;		/* <root>/<id> (persisted), or NULL */
	int lock_fd;			/* flock()ed state_dir, or -1 */
	char *id_buf, *rootfs_buf, *bundle, *created, *annotations; /* owned */
	unsigned long long starttime;	/* of pid, from /proc/PID/stat */
	/* Whether the config had poststart or poststop hooks when it was
	 * created (state.json's lateHooks): 1, 0, or -1 when not known (a
	 * state written before vessel kept it). */
	int late_hooks;
	/* Detached with an OCI profile: the filter, compiled at create for
	 * PID 1 to load (seccomp_cache.h). */
	struct seccomp_prog seccomp;
};

/* Undo everything ct holds on the host: kill what is left in the cgroup,
 * remove it, delete the veths, remove the unpacked rootfs (only once the
 * cgroup is gone: nothing of the container's may still run in the tree).
 * Safe to call more than once and from the janitor; reports the first
 * failure. */
int ct_cleanup(struct ct *ct, struct error *err);
/* A zeroed handle with every fd -1 (handle.c). */
struct ct *ct_alloc(void);

#endif

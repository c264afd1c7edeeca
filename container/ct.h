/* The state of one container run, shared by the parent-side modules
 * (container.c, supervise.c, janitor.c) and read by the child. */
#ifndef VESSEL_CT_H
#define VESSEL_CT_H

#include <net/if.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../tools/config.h"
#include "../tools/error.h"

struct cgroup;

struct ct {
	const struct guest_config *cfg;
	const struct container_config *c;
	const char *name;
	const char *hostname;
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
};

/* Undo everything ct holds on the host: kill what is left in the cgroup,
 * remove it, delete the veths, remove the unpacked rootfs (only once the
 * cgroup is gone: nothing of the container's may still run in the tree).
 * Safe to call more than once and from the janitor; reports the first
 * failure. */
int ct_cleanup(struct ct *ct, struct error *err);

#endif

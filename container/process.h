/* PID 1's last steps in the child, ending in exec of the command:
 *   - a new session; with a pty, the slave as controlling terminal and
 *     stdin/stdout/stderr (otherwise vessel's own are passed through);
 *   - every other fd close-on-exec;
 *   - rlimits: RLIMIT_NOFILE 1024 soft / 524288 hard (systemd's
 *     default; the hard limit is capped to the current one inside a user
 *     namespace), the rest inherited;
 *   - environment: PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:
 *     /usr/bin:/sbin:/bin, HOME (/root for uid 0, else /), HOSTNAME,
 *     container=vessel, TERM=xterm with a pty; env: entries override;
 *   - capabilities (see caps.h), then user: uid:gid with no
 *     supplementary groups;
 *   - no_new_privs, the seccomp filter (see seccomp_filter.h), default
 *     signal dispositions and mask;
 *   - exec of command[0], searched in the container's PATH. */
#ifndef VESSEL_PROCESS_H
#define VESSEL_PROCESS_H

#include <signal.h>

#include <stdbool.h>

#include "../tools/base/error.h"
#include "ct_config.h"
#include "seccomp_prog.h"
#include "spec.h"

/* The policies (capabilities, rlimits, seccomp, no_new_privs, and for
 * an OCI spec the exact environment, cwd and groups) come from spec
 * (spec.h); the values above are vessel's defaults. */
struct process_spec {
	const struct container_config *c;
	const struct ct_spec *spec;
	bool detached;			/* no parent-death signal */
	int preserve_fds;		/* fds 3..3+N-1 stay open (OCI) */
	const char *hostname;
	int tty_fd;			/* pty slave, or -1 */
	const sigset_t *sigmask;	/* to restore before exec */
	int sync_fd;			/* told SYNC_EXEC right before */
	/* The seccomp filter compiled at create (seccomp_cache.h), or NULL:
	 * built from spec by process_prepare. */
	const struct seccomp_prog *filter;
};

/* What process_prepare leaves for process_exec_prepared. */
struct process_prep {
	char **env, **argv;
	char *path;			/* argv[0] found in env's PATH, or NULL */
	struct seccomp_prog filter;
};

/* All of it: process_prepare, then process_exec_prepared. Returns only
 * on failure. */
int process_exec(const struct process_spec *p, struct error *err);
/* The two halves, for an OCI container whose command waits for start:
 * create runs the first (the session and terminal, fds, rlimits, the
 * environment, umask, cwd, the filter, the command's path), start lets
 * the second run (the filter loaded, capabilities and user, no_new_privs,
 * signals, exec). Credentials stay for the second half: the exec fifo is
 * opened and the startContainer hooks run with the creator's. */
int process_prepare(const struct process_spec *p, struct process_prep *pp,
		    struct error *err);
/* Returns only on failure. */
int process_exec_prepared(const struct process_spec *p,
			  struct process_prep *pp, struct error *err);

#endif

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
 *   - execvp of command[0], searched in the container's PATH. */
#ifndef VESSEL_PROCESS_H
#define VESSEL_PROCESS_H

#include <signal.h>

#include <stdbool.h>

#include "../tools/base/error.h"
#include "ct_config.h"
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
};

/* Returns only on failure. */
int process_exec(const struct process_spec *p, struct error *err);

#endif

/* How the supervisor (supervisor.c) drives a guest of any kind: one table
 * of operations per kind, guest_vm_ops (guest_vm.c, over vm_control) and
 * guest_ct_ops (guest_ct.c, over the container runtime). The supervisor
 * keeps what every kind shares: the state (starting, running, paused,
 * stopping, exited), its lock, the control server, the stop deadline and
 * `vessel start`'s report; a kind's operations do only what that kind
 * needs, and never branch on another kind.
 *
 * Threads: run is called once, on the supervisor's main thread, without
 * the supervisor's lock; every other operation but create and destroy is
 * called on the control server's thread with the lock held, and only
 * between run's call to host->serve and run's return. */
#ifndef VESSEL_GUEST_OPS_H
#define VESSEL_GUEST_OPS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "base/error.h"

struct json_object;
struct guest;           /* a kind's own state */
struct mig_opts;
struct mig_result;
struct live_backup;

/* What the supervisor lends a guest. */
struct guest_host {
	const struct guest_config *cfg;
	/* The signal mask the supervisor started with, and the signals it
	 * blocks in every thread (a container's PID 1 gets the first; the
	 * second are passed on to it). */
	const sigset_t *old_mask, *blocked;
	/* Start the control server: the console's output is read from
	 * out_fd, a client's keystrokes are written to in_fd. run calls it
	 * once, before the guest starts. */
	int (*serve)(struct guest_host *h, int out_fd, int in_fd,
		     struct error *err);
	/* The guest runs now (its first boot's vCPUs, a container's PID 1):
	 * `vessel start` returns. Any thread, without the lock; once. */
	void (*running)(struct guest_host *h);
	void *opaque;           /* the supervisor's */
	/* A VM: continue this snapshot directory instead of booting. */
	const char *restore;
	/* With restore, a migration's destination: restore is being
	 * received; one byte 'g' on this fd says it is complete, anything
	 * else (EOF) that it failed. -1: none. The VM is made before. */
	int incoming_fd;
	/* The definition as the supervisor keeps it (RUN/NAME/guest.yaml). */
	const char *definition_copy;
};

/* How a run ended, for the restart policy (config.h). */
struct guest_exit {
	/* As an exit status: 0 a clean end of its own (exit 0, power-off),
	 * else a failure (a non-zero exit, 128+N for signal N, a crash). */
	int status;
	/* Ended by a signal sent to the supervisor, not on its own. */
	bool stopped;
};

struct guest_ops {
	const char *kind;       /* "vm", "container", as `vessel ps` says */
	int (*create)(struct guest_host *h, struct guest **g, struct error *err);
	/* Run the guest to its end: its console, host->serve, the guest.
	 * 0 with a line on how it ended in msg (for the console log) and
	 * *ex, or -1 with err when it could not run. Called again on a fresh
	 * g when the guest is restarted (host->serve too). */
	int (*run)(struct guest *g, char *msg, size_t len, struct guest_exit *ex,
		   struct error *err);
	/* Called every control tick while starting, for a kind that finds
	 * out by polling (a container's runner reports PID 1 once it
	 * exec'd): true once the guest runs. NULL: the kind calls
	 * host->running itself. */
	bool (*poll_started)(struct guest *g);
	/* Add the kind's own `vessel ps` fields (vcpus, cpus, memory). */
	void (*status)(struct guest *g, struct json_object *reply);
	/* Ask the guest to shut itself down (the ACPI power button, SIGTERM
	 * to PID 1), resuming it first if paused; a line for the console
	 * saying what was done and that a hard stop follows in timeout s. */
	int (*shutdown)(struct guest *g, bool paused, double timeout,
			char *note, size_t len, struct error *err);
	/* Stop it now; run returns soon after. */
	void (*kill)(struct guest *g);
	/* Freeze or thaw it (vCPUs and devices, every process). */
	int (*pause)(struct guest *g, bool pause, struct error *err);
	/* A console client's terminal size. NULL: the console has none. */
	void (*resize)(struct guest *g, unsigned rows, unsigned cols);
	/* Save the running guest into dir (`vessel snapshot`), then stop it
	 * if stop. NULL: this kind has no snapshots (guest_snapshot() says
	 * so). */
	int (*snapshot)(struct guest *g, const char *dir, bool stop,
			bool compress, struct error *err);
	/* Live-migrate the running guest over o->fd (`vessel migrate`): 0
	 * once the destination runs it, and run then returns; -1 and it
	 * runs on here. Unlike the others, called from a thread of its own
	 * without the supervisor's lock, while run runs. NULL: this kind
	 * cannot be migrated. */
	int (*migrate)(struct guest *g, const struct mig_opts *o,
		       struct mig_result *res, struct error *err);
	/* Back up the running guest into a repository (backup_live.h): 0
	 * once the backup is complete. Like migrate, from a thread of its
	 * own without the supervisor's lock, while run runs. NULL: `vessel
	 * backup` reads this kind of guest itself. */
	int (*backup)(struct guest *g, struct live_backup *b, struct error *err);
	/* After run returned and the control server finished: free g and
	 * what the kind leaves on the host (a container's freezer cgroup). */
	void (*destroy)(struct guest *g);
};

extern const struct guest_ops guest_vm_ops;
extern const struct guest_ops guest_ct_ops;

static inline const struct guest_ops *guest_ops_of(enum guest_kind kind)
{
	return kind == GUEST_CONTAINER ? &guest_ct_ops : &guest_vm_ops;
}

/* ops->snapshot, or a clear input error for a kind without snapshots. */
static inline int guest_snapshot(const struct guest_ops *ops, struct guest *g,
				 const char *name, const char *dir, bool stop,
				 bool compress, struct error *err)
{
	if (!ops->snapshot)
		return err_input(err, "%s: snapshot is not supported for %s "
				 "guests", name, ops->kind);
	return ops->snapshot(g, dir, stop, compress, err);
}

#endif

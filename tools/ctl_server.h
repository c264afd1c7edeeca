/* The supervisor's control server (protocol: control.h and
 * docs/control-protocol.md).
 *
 * Two threads. The server thread accepts connections on the control
 * socket, lets in only root and the owner (SO_PEERCRED), reads JSON-line
 * requests and answers them, with the guest-specific work done by
 * ctl_ops. A request that is malformed, too long or unknown gets an error
 * reply; nothing a client sends can stop the guest except "stop". The
 * pump thread reads the guest's console output, appends it to the
 * console log and forwards it to the console client and to `logs -f`
 * followers; the console client's keystrokes go to the guest's input.
 * One client at a time holds the console; a "console" request with
 * "force" takes it over (the old holder is told and disconnected).
 *
 * Client connections are never closed at the end: they close when the
 * supervisor process exits, after it removed the guest's state, so a
 * client that waits for end-of-file knows the guest is gone. */
#ifndef VESSEL_CTL_SERVER_H
#define VESSEL_CTL_SERVER_H

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "base/error.h"

#define CTL_MAX_CLIENTS 64
#define CTL_TICK_MS     50
#define CTL_OUT_MAX     (8 * 1024 * 1024)  /* a client owed more is dropped */

/* What the supervisor does for requests; all run on the server thread. */
struct ctl_ops {
	/* Add the "ps" fields (name, kind, state, ...) to reply. */
	void (*status)(void *opaque, struct json_object *reply);
	int (*stop)(void *opaque, double timeout, bool force, struct error *err);
	int (*pause)(void *opaque, bool pause, struct error *err);
	/* Save the guest into dir (absolute, made by the client); with stop,
	 * it then stops. NULL: this kind of guest has no snapshots. */
	int (*snapshot)(void *opaque, const char *dir, bool stop, bool compress,
			struct error *err);
	/* "migrate" (fields "to", "max_downtime_ms", "bandwidth",
	 * "timeout", checked for type): start the migration and return 0,
	 * owning fd, a copy of the client's socket (non-blocking), on which
	 * it writes progress lines and the reply from its own thread; or -1
	 * with err (the server replies). NULL: no migrations. */
	int (*migrate)(void *opaque, struct json_object *req, int fd,
		       struct error *err);
	/* "backup" ("repo" checked: an absolute path): as migrate, a live
	 * backup into that repository. NULL: not for this guest. */
	int (*backup)(void *opaque, struct json_object *req, int fd,
		      struct error *err);
	/* A console client attached with its terminal size. */
	void (*resize)(void *opaque, unsigned rows, unsigned cols);
	/* Every CTL_TICK_MS or so. */
	void (*tick)(void *opaque);
};

struct ctl_server_params {
	int listen_fd;          /* bound and listening; now the server's */
	uid_t owner;            /* besides root, the only uid let in */
	int out_fd;             /* guest console output, read by the pump */
	int in_fd;              /* guest console input; made non-blocking */
				/* (both are the server's: it closes them) */
	const char *log_path;
	const struct ctl_ops *ops;
	void *opaque;
};

struct ctl_server;

int ctl_server_start(struct ctl_server **sp, const struct ctl_server_params *p,
		     struct error *err);
/* A line from vessel itself into the console stream (log and clients). */
void ctl_server_note(struct ctl_server *s, const char *msg);
/* The guest's console ended (the caller closed the write side of out_fd):
 * let the pump read to the end (at most about a second), stop it, and
 * close out_fd and in_fd (the server's since they were given to it). */
void ctl_server_console_end(struct ctl_server *s);
/* A restarted guest's new console, after ctl_server_console_end(). */
int ctl_server_console(struct ctl_server *s, int out_fd, int in_fd,
		       struct error *err);
/* The guest is gone and the caller closed the write side of out_fd: let
 * the pump read to the end (at most about a second), give clients what
 * they are owed (likewise), stop both threads, close the listening
 * socket. Client connections stay open (see above). */
void ctl_server_finish(struct ctl_server *s);

#endif

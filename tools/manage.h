/* The verbs that manage started guests (README.md, "Managing guests"): start, ps,
 * console, logs, stop, pause, resume, up, down. Each cmd_*() takes the
 * verb's argv (argv[0] is the verb) and returns the exit status; each
 * usage_*() is its `--help`. */
#ifndef VESSEL_MANAGE_H
#define VESSEL_MANAGE_H

#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"

#define STOP_TIMEOUT_DEFAULT 30.0

int cmd_start(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_receive(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_init(int argc, char **argv);

void usage_start(FILE *out);
void usage_ps(FILE *out);
void usage_console(FILE *out);
void usage_logs(FILE *out);
void usage_stop(FILE *out);
void usage_pause(FILE *out);
void usage_resume(FILE *out);
void usage_up(FILE *out);
void usage_down(FILE *out);
void usage_snapshot(FILE *out);
void usage_restore(FILE *out);
void usage_migrate(FILE *out);
void usage_receive(FILE *out);
void usage_backup(FILE *out);
void usage_host(FILE *out);
void usage_init(FILE *out);

/* Shared by the verbs (cmd_common.c, cmd_stop.c). */

/* Connect to a started guest's control socket, with a message saying
 * why not (not running, starting or stopping, bad name). */
int guest_connect(const char *name, struct error *err);
/* Is NAME started (a live supervisor)? */
bool guest_running(const char *name);
/* Parse "[--help] NAME": 0 with *name, 1 after --help, -1 on misuse. */
int parse_name_args(int argc, char **argv, void (*help)(FILE *),
		    const char **name);
/* Parse a --timeout value in seconds. */
int parse_seconds(const char *s, double *out);
/* The supervisor at the other end of fd has gone (it closed the
 * connection) before deadline (now_ms() time): 0, else -1. */
int guest_wait_gone(int fd, long long deadline);
struct vm_snapshot;
struct guest_config;
/* Open the snapshot DIR and load the definition in it (for `restore` and
 * `start --restore`): everything checked, the guest's name free. On
 * failure cfg is freed; always vm_snapshot_close(snap) afterwards. */
int snapshot_open_guest(const char *dir, struct vm_snapshot *snap,
			struct guest_config *cfg, struct error *err);
/* Stop NAME and wait until it is gone. */
int guest_stop(const char *name, double timeout, bool force, struct error *err);

#endif

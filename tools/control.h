/* The control protocol between the CLI and a guest's supervisor: JSON
 * lines over the unix socket RUN/NAME/control, described in
 * docs/control-protocol.md. A request is one JSON object on one line,
 * {"op": "...", ...}; the reply is one line, {"ok": true, ...} or
 * {"ok": false, "error": "..."}. After a successful "console" or "logs"
 * reply the connection carries raw console bytes instead. */
#ifndef VESSEL_CONTROL_H
#define VESSEL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include <sys/un.h>

#include "base/error.h"

#define CONTROL_MAX_LINE (64 * 1024)    /* a longer request is refused */
#define CONTROL_TIMEOUT_MS 5000         /* for a reply to arrive */

/* Connect to NAME's control socket; returns the fd (close-on-exec). On
 * failure err->errnum tells ENOENT or ECONNREFUSED (no supervisor). */
/* The address of NAME's control socket (state.h's RUN/NAME/control). */
int control_addr(const char *name, struct sockaddr_un *sa, struct error *err);
int control_connect(const char *name, struct error *err);
/* A new request object {"op": op}. */
struct json_object *control_request(const char *op);
/* Send req and wait up to timeout_ms for the reply; req stays the
 * caller's. An {"ok": false} reply becomes err with its message and -1.
 * On success *reply (if not NULL) is the reply, to json_object_put(). */
int control_call(int fd, struct json_object *req, struct json_object **reply,
		 int timeout_ms, struct error *err);
/* Read one line within timeout_ms: a JSON object (to json_object_put()),
 * whatever its "ok". */
int control_read(int fd, struct json_object **obj, int timeout_ms,
		 struct error *err);
/* Write obj as one line (blocking, all of it). */
int control_send(int fd, struct json_object *obj, struct error *err);
/* Parse one request line (without its newline): an object whose "op" is
 * a string. Returns NULL with err set otherwise. */
struct json_object *control_parse(const char *line, size_t len,
				  struct error *err);
/* {"ok": false, "error": msg} as a newline-terminated string to free(). */
char *control_error_line(const char *msg);

/* Typed field access with defaults. */
const char *control_str(struct json_object *o, const char *key);
bool control_bool(struct json_object *o, const char *key, bool def);
double control_num(struct json_object *o, const char *key, double def);

#endif

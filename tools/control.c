/* JSON-lines framing, requests and replies (json-c). */
#include "control.h"
#include "base/clock.h"
#include "state.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

int control_addr(const char *name, struct sockaddr_un *sa, struct error *err)
{
	char path[STATE_PATH_MAX];

	if (state_path(path, sizeof(path), name, STATE_SOCKET, err) < 0)
		return -1;
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set(err, "%s: path too long for a unix socket "
			       "(choose a shorter VESSEL_RUN_DIR)", path);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return 0;
}

int control_connect(const char *name, struct error *err)
{
	struct sockaddr_un sa;
	const char *path = sa.sun_path;
	int fd;

	if (control_addr(name, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(err, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_sys(err, "connecting to %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct json_object *control_request(const char *op)
{
	struct json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "op", json_object_new_string(op));
	return o;
}

int control_send(int fd, struct json_object *obj, struct error *err)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);
	char *line = malloc(len + 1);
	size_t off = 0;
	ssize_t n;

	if (!line)
		return err_set(err, "out of memory");
	memcpy(line, s, len);
	line[len++] = '\n';
	while (off < len) {
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(line);
			return err_sys(err, "sending a request");
		}
		off += n;
	}
	free(line);
	return 0;
}

/* Read one line, a byte at a time: nothing after it is consumed, so
 * raw console bytes that follow stay in the socket for the caller. */
static int read_line(int fd, char **out, int timeout_ms, struct error *err)
{
	long long deadline = now_ms() + timeout_ms;
	size_t len = 0, cap = 256;
	char *buf = malloc(cap), *nb;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int left;

	if (!buf)
		return err_set(err, "out of memory");
	for (;;) {
		left = (int)(deadline - now_ms());
		if (left <= 0 || poll(&p, 1, left) == 0) {
			err_set(err, "no reply from the supervisor within %d ms",
				timeout_ms);
			goto fail;
		}
		n = read(fd, buf + len, 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			err_sys(err, "reading the reply");
			goto fail;
		}
		if (n == 0) {
			err_set(err, "the supervisor closed the connection");
			err->errnum = EPIPE;
			goto fail;
		}
		if (buf[len] == '\n')
			break;
		if (++len == cap) {
			if (cap >= CONTROL_MAX_LINE) {
				err_set(err, "reply too long");
				goto fail;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				err_set(err, "out of memory");
				goto fail;
			}
			buf = nb;
		}
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
fail:
	free(buf);
	return -1;
}

int control_read(int fd, struct json_object **obj, int timeout_ms,
		 struct error *err)
{
	struct json_object *r;
	char *line = NULL;

	if (read_line(fd, &line, timeout_ms, err) < 0)
		return -1;
	r = json_tokener_parse(line);
	free(line);
	if (!r || !json_object_is_type(r, json_type_object)) {
		json_object_put(r);
		return err_set(err, "malformed reply from the supervisor");
	}
	*obj = r;
	return 0;
}

int control_call(int fd, struct json_object *req, struct json_object **reply,
		 int timeout_ms, struct error *err)
{
	struct json_object *r;

	if (control_send(fd, req, err) < 0 ||
	    control_read(fd, &r, timeout_ms, err) < 0)
		return -1;
	if (!control_bool(r, "ok", false)) {
		const char *msg = control_str(r, "error");

		err_set(err, "%s", msg ? msg : "request failed");
		json_object_put(r);
		return -1;
	}
	if (reply)
		*reply = r;
	else
		json_object_put(r);
	return 0;
}

struct json_object *control_parse(const char *line, size_t len,
				  struct error *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;

	if (memchr(line, '\0', len)) {
		err_set(err, "malformed request: NUL byte");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		err_set(err, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, line, (int)len);
	e = json_tokener_get_error(tok);
	if (!o || e != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		err_set(err, "malformed request: %s", !o && e == json_tokener_continue ?
			"incomplete JSON" : o ? "trailing data after the object" :
			json_tokener_error_desc(e));
		json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object) || !control_str(o, "op")) {
		err_set(err, "malformed request: expected an object with a "
			"string \"op\"");
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *control_error_line(const char *msg)
{
	struct json_object *o = json_object_new_object();
	const char *s;
	char *line = NULL;

	if (!o)
		return NULL;
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	json_object_put(o);
	return line;
}

const char *control_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

bool control_bool(struct json_object *o, const char *key, bool def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v);
}

double control_num(struct json_object *o, const char *key, double def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    (!json_object_is_type(v, json_type_int) &&
	     !json_object_is_type(v, json_type_double)))
		return def;
	return json_object_get_double(v);
}

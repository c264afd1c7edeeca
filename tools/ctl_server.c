/* The control server and the console pump of a supervisor. */
#include "ctl_server.h"
#include "base/clock.h"
#include "console_log.h"
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#define PEND_MAX 4096           /* console input waiting for the guest */
#define FINISH_MS 1000          /* for the pump and the last flush */

enum mode {
	C_REQ,                  /* JSON-line requests */
	C_CONSOLE,              /* holds the console: raw bytes both ways */
	C_FOLLOW,               /* `logs -f`: receives console output */
	C_CLOSING,              /* closed once its output is sent */
	C_HANDED,               /* a "migrate": another thread answers it */
};

struct client {
	int fd;
	enum mode mode;
	bool dead;              /* gone or hopelessly behind: close it */
	bool skipping;          /* discarding the rest of an oversized line */
	char *in;               /* a partial request line */
	size_t in_len, in_cap;
	char *out;              /* bytes owed to the client */
	size_t out_len, out_cap;
	char pend[PEND_MAX];    /* console input not yet taken by the guest */
	size_t pend_len;
};

struct ctl_server {
	struct ctl_server_params p;
	pthread_t server, pump;
	bool server_started, pump_started;
	int wake_fd;
	/* Clients' output, modes and the holder; the log. The server
	 * thread alone adds and frees clients. */
	pthread_mutex_t lock;
	struct client *c[CTL_MAX_CLIENTS];
	struct client *holder;
	struct console_log log;
	long long finish_by;    /* set by ctl_server_finish(); 0 before */
	bool stopping;          /* the server thread: flush and leave */
};

static void wake(struct ctl_server *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: the server will wake */
	}
}

/* Owe buf to c; a client too far behind is dropped. With s->lock held. */
static void queue(struct client *c, const void *buf, size_t len)
{
	size_t cap = c->out_cap;
	char *nb;

	if (c->dead)
		return;
	if (c->out_len + len > CTL_OUT_MAX) {
		c->dead = true;
		return;
	}
	while (cap < c->out_len + len)
		cap = cap ? cap * 2 : 4096;
	if (cap != c->out_cap) {
		nb = realloc(c->out, cap);
		if (!nb) {
			c->dead = true;
			return;
		}
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
}

static void queue_json(struct client *c, struct json_object *o)
{
	const char *str = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	queue(c, str, strlen(str));
	queue(c, "\n", 1);
}

static void output(struct ctl_server *s, const void *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	console_log_write(&s->log, buf, len);
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct client *c = s->c[i];

		if (c && (c->mode == C_FOLLOW || c == s->holder))
			queue(c, buf, len);
	}
	pthread_mutex_unlock(&s->lock);
	wake(s);
}

void ctl_server_note(struct ctl_server *s, const char *msg)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "\r\n[vessel: %s]\r\n", msg);

	if (n > 0)
		output(s, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void *pump_main(void *arg)
{
	struct ctl_server *s = arg;
	struct pollfd p = { .fd = s->p.out_fd, .events = POLLIN };
	char buf[4096];
	long long by;
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, 100) == 0) {
			by = __atomic_load_n(&s->finish_by, __ATOMIC_ACQUIRE);
			if (by && now_ms() > by)
				break;
			continue;
		}
		n = read(s->p.out_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;  /* EOF, or EIO from a pty whose slave closed */
		output(s, buf, n);
	}
	return NULL;
}

/* ---- requests ---------------------------------------------------------- */

static void reply_error(struct ctl_server *s, struct client *c, const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	pthread_mutex_lock(&s->lock);
	queue_json(c, o);
	pthread_mutex_unlock(&s->lock);
	json_object_put(o);
}

/* A present key must have the right type. */
static bool check_type(struct json_object *req, const char *key,
		       json_type t, char *msg, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, key, &v))
		return true;
	if (json_object_is_type(v, t) ||
	    (t == json_type_double && json_object_is_type(v, json_type_int)))
		return true;
	snprintf(msg, len, "\"%s\": expected %s", key,
		 t == json_type_boolean ? "true or false" : "a number");
	return false;
}

static void op_console(struct ctl_server *s, struct client *c,
		       struct json_object *req, struct json_object *reply)
{
	static const char taken[] =
		"\r\n[vessel: another client took over the console]\r\n";
	bool force = control_bool(req, "force", false);
	double rows = control_num(req, "rows", 0), cols = control_num(req, "cols", 0);

	pthread_mutex_lock(&s->lock);
	if (s->holder && s->holder != c && !force) {
		pthread_mutex_unlock(&s->lock);
		reply_error(s, c, "the console is in use by another client "
			    "(`vessel console --force` takes it over)");
		return;
	}
	if (s->holder && s->holder != c) {
		queue(s->holder, taken, sizeof(taken) - 1);
		s->holder->mode = C_CLOSING;
	}
	queue_json(c, reply);
	c->mode = C_CONSOLE;
	s->holder = c;
	pthread_mutex_unlock(&s->lock);
	if (rows >= 1 && rows < 65536 && cols >= 1 && cols < 65536 &&
	    s->p.ops->resize)
		s->p.ops->resize(s->p.opaque, (unsigned)rows, (unsigned)cols);
}

static void op_logs(struct ctl_server *s, struct client *c,
		    struct json_object *req, struct json_object *reply)
{
	struct error err;
	char *buf;
	size_t len;

	pthread_mutex_lock(&s->lock);
	if (console_log_read(&s->log, &buf, &len, &err) < 0) {
		pthread_mutex_unlock(&s->lock);
		reply_error(s, c, err.msg);
		return;
	}
	queue_json(c, reply);
	queue(c, buf, len);
	c->mode = control_bool(req, "follow", false) ? C_FOLLOW : C_CLOSING;
	pthread_mutex_unlock(&s->lock);
	free(buf);
}

/* Hand c to fn (ops->migrate, ops->backup), which answers on a copy of
 * its socket from a thread of its own; the server leaves c alone. */
static void hand_over(struct ctl_server *s, struct client *c,
		      struct json_object *req,
		      int (*fn)(void *opaque, struct json_object *req, int fd,
				struct error *err))
{
	struct error err;
	int fd;

	err_clear(&err);
	fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		reply_error(s, c, "cannot hand the connection over");
		return;
	}
	if (fn(s->p.opaque, req, fd, &err) < 0) {
		close(fd);
		reply_error(s, c, err.msg);
		return;
	}
	c->mode = C_HANDED;
}

/* "migrate" runs for long: ops->migrate answers on a copy of the
 * client's socket from its own thread (progress lines, then the reply),
 * and the server leaves the client alone from then on. */
static void op_migrate(struct ctl_server *s, struct client *c,
		       struct json_object *req)
{
	const char *to = control_str(req, "to");
	char msg[128];

	if (!check_type(req, "max_downtime_ms", json_type_double, msg, sizeof(msg)) ||
	    !check_type(req, "bandwidth", json_type_double, msg, sizeof(msg)) ||
	    !check_type(req, "with_disks", json_type_boolean, msg, sizeof(msg))) {
		reply_error(s, c, msg);
		return;
	}
	if (!s->p.ops->migrate) {
		reply_error(s, c, "a container cannot be migrated");
		return;
	}
	if (!to || !to[0] || strlen(to) > 1024) {
		reply_error(s, c, "\"to\": expected HOST:PORT");
		return;
	}
	hand_over(s, c, req, s->p.ops->migrate);
}

/* "backup" runs for long too, answered likewise. */
static void op_backup(struct ctl_server *s, struct client *c,
		      struct json_object *req)
{
	struct json_object *v = NULL;
	const char *repo = NULL;

	if (json_object_object_get_ex(req, "repo", &v) &&
	    json_object_is_type(v, json_type_string))
		repo = json_object_get_string(v);
	if (!repo || repo[0] != '/' || strlen(repo) >= PATH_MAX ||
	    (size_t)json_object_get_string_len(v) != strlen(repo)) {
		reply_error(s, c, "\"repo\": expected the absolute path of a "
			    "backup repository");
		return;
	}
	if (!s->p.ops->backup) {
		reply_error(s, c, "this guest is not backed up by its supervisor");
		return;
	}
	hand_over(s, c, req, s->p.ops->backup);
}

static void handle_request(struct ctl_server *s, struct client *c,
			   struct json_object *req)
{
	const struct ctl_ops *ops = s->p.ops;
	const char *op = control_str(req, "op");
	struct json_object *reply = json_object_new_object();
	struct error err;
	char msg[128];
	int r = 0;

	err_clear(&err);
	json_object_object_add(reply, "ok", json_object_new_boolean(1));
	if (!check_type(req, "force", json_type_boolean, msg, sizeof(msg)) ||
	    !check_type(req, "follow", json_type_boolean, msg, sizeof(msg)) ||
	    !check_type(req, "stop", json_type_boolean, msg, sizeof(msg)) ||
	    !check_type(req, "compress", json_type_boolean, msg, sizeof(msg)) ||
	    !check_type(req, "dir", json_type_string, msg, sizeof(msg)) ||
	    !check_type(req, "timeout", json_type_double, msg, sizeof(msg)) ||
	    !check_type(req, "rows", json_type_double, msg, sizeof(msg)) ||
	    !check_type(req, "cols", json_type_double, msg, sizeof(msg))) {
		r = err_set(&err, "%s", msg);
	} else if (!strcmp(op, "ps")) {
		ops->status(s->p.opaque, reply);
		pthread_mutex_lock(&s->lock);
		json_object_object_add(reply, "console",
				       json_object_new_boolean(s->holder != NULL));
		pthread_mutex_unlock(&s->lock);
	} else if (!strcmp(op, "stop")) {
		double t = control_num(req, "timeout", 30);

		if (!isfinite(t) || t < 0 || t > 86400)
			r = err_set(&err, "\"timeout\": expected 0 to 86400 seconds");
		else
			r = ops->stop(s->p.opaque, t, control_bool(req, "force", false),
				      &err);
	} else if (!strcmp(op, "pause") || !strcmp(op, "resume")) {
		r = ops->pause(s->p.opaque, !strcmp(op, "pause"), &err);
	} else if (!strcmp(op, "snapshot")) {
		const char *dir = control_str(req, "dir");

		if (!ops->snapshot)
			r = err_set(&err, "a container has no snapshots");
		else if (!dir || dir[0] != '/' || strlen(dir) >= 4096)
			r = err_set(&err, "\"dir\": expected an absolute path");
		else
			r = ops->snapshot(s->p.opaque, dir,
					  control_bool(req, "stop", false),
					  control_bool(req, "compress", false), &err);
	} else if (!strcmp(op, "migrate")) {
		op_migrate(s, c, req);
		goto out;
	} else if (!strcmp(op, "backup")) {
		op_backup(s, c, req);
		goto out;
	} else if (!strcmp(op, "console")) {
		op_console(s, c, req, reply);
		goto out;
	} else if (!strcmp(op, "logs")) {
		op_logs(s, c, req, reply);
		goto out;
	} else {
		r = err_set(&err, "unknown op '%.64s' (ps, stop, pause, resume, "
			    "snapshot, migrate, backup, console, logs)", op);
	}
	if (r < 0) {
		reply_error(s, c, err.msg);
	} else {
		pthread_mutex_lock(&s->lock);
		queue_json(c, reply);
		pthread_mutex_unlock(&s->lock);
	}
out:
	json_object_put(reply);
}

static void handle_line(struct ctl_server *s, struct client *c, char *line,
			size_t len)
{
	struct json_object *req;
	struct error err;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		       line[len - 1] == '\t'))
		len--;
	if (!len)
		return;         /* blank lines are allowed, and ignored */
	req = control_parse(line, len, &err);
	if (!req) {
		reply_error(s, c, err.msg);
		return;
	}
	handle_request(s, c, req);
	json_object_put(req);
}

static bool in_append(struct client *c, const char *buf, size_t n)
{
	char *nb;

	if (c->in_len + n > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 1024;

		while (cap < c->in_len + n)
			cap *= 2;
		nb = realloc(c->in, cap);
		if (!nb)
			return false;
		c->in = nb;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, buf, n);
	c->in_len += n;
	return true;
}

static void console_input(struct client *c, const char *buf, size_t n)
{
	if (n > PEND_MAX - c->pend_len)
		n = PEND_MAX - c->pend_len;     /* only after a mode switch */
	memcpy(c->pend + c->pend_len, buf, n);
	c->pend_len += n;
}

/* Bytes from a client: request lines, then (after "console") input. */
static void feed(struct ctl_server *s, struct client *c, const char *buf,
		 size_t n)
{
	char msg[96];

	while (n > 0 && c->mode == C_REQ) {
		const char *nl = memchr(buf, '\n', n);
		size_t take = nl ? (size_t)(nl - buf) : n;

		if (c->skipping) {
			c->skipping = !nl;
		} else if (c->in_len + take > CONTROL_MAX_LINE) {
			snprintf(msg, sizeof(msg), "request too long (the limit "
				 "is %d bytes per line)", CONTROL_MAX_LINE);
			reply_error(s, c, msg);
			c->in_len = 0;
			c->skipping = !nl;
		} else if (!in_append(c, buf, take)) {
			c->dead = true;
			return;
		} else if (nl) {
			handle_line(s, c, c->in, c->in_len);
			c->in_len = 0;
		}
		take += nl ? 1 : 0;
		buf += take;
		n -= take;
	}
	if (n > 0 && c->mode == C_CONSOLE)
		console_input(c, buf, n);
}

/* ---- connections ------------------------------------------------------- */

static void refuse(int fd, const char *msg)
{
	char *line = control_error_line(msg);

	if (line && send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the client went away; nothing to tell */
	}
	free(line);
	close(fd);
}

static void accept_clients(struct ctl_server *s)
{
	struct ucred cr;
	socklen_t len;
	char msg[128];
	unsigned i;
	int fd;

	for (;;) {
		fd = accept4(s->p.listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
		    (cr.uid != 0 && cr.uid != s->p.owner)) {
			snprintf(msg, sizeof(msg), "permission denied: only root "
				 "and uid %u may control this guest",
				 (unsigned)s->p.owner);
			refuse(fd, msg);
			continue;
		}
		for (i = 0; i < CTL_MAX_CLIENTS && s->c[i]; i++)
			;
		if (i == CTL_MAX_CLIENTS) {
			refuse(fd, "too many clients");
			continue;
		}
		pthread_mutex_lock(&s->lock);
		s->c[i] = calloc(1, sizeof(*s->c[i]));
		if (s->c[i])
			s->c[i]->fd = fd;
		pthread_mutex_unlock(&s->lock);
		if (!s->c[i])
			close(fd);
	}
}

/* Free c; its fd is closed unless the supervisor is finishing. */
static void drop(struct ctl_server *s, unsigned i, bool close_fd)
{
	struct client *c = s->c[i];

	pthread_mutex_lock(&s->lock);
	if (s->holder == c)
		s->holder = NULL;
	s->c[i] = NULL;
	pthread_mutex_unlock(&s->lock);
	if (close_fd)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void client_read(struct ctl_server *s, struct client *c, short revents)
{
	char buf[4096];
	ssize_t n;

	if (c->mode == C_CONSOLE && c->pend_len == PEND_MAX) {
		/* POLLHUP with input the guest has not taken: give up on it */
		if (revents & (POLLHUP | POLLERR))
			c->dead = true;
		return;
	}
	if (c->mode == C_CONSOLE)
		n = read(c->fd, c->pend + c->pend_len, PEND_MAX - c->pend_len);
	else
		n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		c->dead = true;         /* detached, or gone */
		return;
	}
	if (c->mode == C_CONSOLE)
		c->pend_len += n;
	else if (c->mode == C_REQ)
		feed(s, c, buf, n);
	/* C_FOLLOW, C_CLOSING, C_HANDED: input is ignored */
}

static void client_write(struct ctl_server *s, struct client *c)
{
	ssize_t n;

	pthread_mutex_lock(&s->lock);
	n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0) {
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		c->dead = true;
	}
	pthread_mutex_unlock(&s->lock);
}

/* The holder's keystrokes to the guest, as far as it takes them. */
static void guest_write(struct ctl_server *s, struct client *c)
{
	ssize_t n;

	pthread_mutex_lock(&s->lock);   /* in_fd changes on a restart */
	n = s->p.in_fd < 0 ? 0 : write(s->p.in_fd, c->pend, c->pend_len);
	pthread_mutex_unlock(&s->lock);
	if (n > 0) {
		memmove(c->pend, c->pend + n, c->pend_len - n);
		c->pend_len -= n;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		c->pend_len = 0;        /* the guest takes no input */
	}
}

/* ---- the server thread ------------------------------------------------- */

static short client_events(struct client *c)
{
	short ev = 0;

	if (c->mode != C_CONSOLE || c->pend_len < PEND_MAX)
		ev |= POLLIN;
	if (c->out_len)
		ev |= POLLOUT;
	return ev;
}

/* While stopping: is anything still owed to a client? */
static bool owed(struct ctl_server *s)
{
	bool any = false;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		if (s->c[i] && !s->c[i]->dead && s->c[i]->out_len)
			any = true;
	pthread_mutex_unlock(&s->lock);
	return any;
}

static void serve_once(struct ctl_server *s, bool stopping)
{
	struct pollfd p[CTL_MAX_CLIENTS + 3];
	struct client *map[CTL_MAX_CLIENTS + 3] = { 0 };
	struct client *holder;
	unsigned n = 0, in_idx = 0;
	int in_fd;
	uint64_t v;

	p[n++] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
	if (!stopping)
		p[n++] = (struct pollfd){ .fd = s->p.listen_fd, .events = POLLIN };
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct client *c = s->c[i];

		if (!c || c->dead)
			continue;
		map[n] = c;
		p[n++] = (struct pollfd){ .fd = c->fd, .events = stopping ?
			(c->out_len ? POLLOUT : 0) : client_events(c) };
	}
	holder = s->holder;
	in_fd = s->p.in_fd;
	pthread_mutex_unlock(&s->lock);
	if (!stopping && holder && holder->pend_len && in_fd >= 0) {
		in_idx = n;
		p[n++] = (struct pollfd){ .fd = in_fd, .events = POLLOUT };
	}
	if (poll(p, n, CTL_TICK_MS) <= 0)
		return;
	if (p[0].revents && read(s->wake_fd, &v, sizeof(v)) < 0) {
		/* nothing to read: another wake-up raced this one */
	}
	if (!stopping && p[1].revents)
		accept_clients(s);
	for (unsigned i = 0; i < n; i++) {
		struct client *c = map[i];

		if (!c || !p[i].revents)
			continue;
		if (p[i].revents & POLLOUT)
			client_write(s, c);
		if (!stopping && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
			client_read(s, c, p[i].revents);
	}
	if (in_idx && p[in_idx].revents && s->holder == holder)
		guest_write(s, holder);
}

static void reap(struct ctl_server *s)
{
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct client *c = s->c[i];

		if (c && (c->dead || (c->mode == C_CLOSING && !c->out_len)))
			drop(s, i, true);
	}
}

static void *server_main(void *arg)
{
	struct ctl_server *s = arg;
	long long last_tick = 0, t;

	while (!__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
		serve_once(s, false);
		reap(s);
		t = now_ms();
		if (t - last_tick >= CTL_TICK_MS) {
			last_tick = t;
			if (s->p.ops->tick)
				s->p.ops->tick(s->p.opaque);
		}
	}
	/* The guest is gone: pay what is owed, briefly. */
	while (owed(s) && now_ms() < s->finish_by + FINISH_MS)
		serve_once(s, true);
	return NULL;
}

static int start_pump(struct ctl_server *s, struct error *err)
{
	int e = pthread_create(&s->pump, NULL, pump_main, s);

	if (e) {
		errno = e;
		return err_sys(err, "starting the console thread");
	}
	s->pump_started = true;
	return 0;
}

void ctl_server_console_end(struct ctl_server *s)
{
	if (!s->pump_started)
		return;
	__atomic_store_n(&s->finish_by, now_ms() + FINISH_MS, __ATOMIC_RELEASE);
	pthread_join(s->pump, NULL);
	s->pump_started = false;
	__atomic_store_n(&s->finish_by, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&s->lock);
	if (s->p.in_fd >= 0 && s->p.in_fd != s->p.out_fd)
		close(s->p.in_fd);
	if (s->p.out_fd >= 0)
		close(s->p.out_fd);
	s->p.in_fd = s->p.out_fd = -1;
	pthread_mutex_unlock(&s->lock);
}

int ctl_server_console(struct ctl_server *s, int out_fd, int in_fd,
		       struct error *err)
{
	ctl_server_console_end(s);
	fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	pthread_mutex_lock(&s->lock);
	s->p.out_fd = out_fd;
	s->p.in_fd = in_fd;
	pthread_mutex_unlock(&s->lock);
	return start_pump(s, err);
}

int ctl_server_start(struct ctl_server **sp, const struct ctl_server_params *p,
		     struct error *err)
{
	struct ctl_server *s = calloc(1, sizeof(*s));
	int e;

	if (!s)
		return err_set(err, "out of memory");
	s->p = *p;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&s->lock, NULL);
	if (s->wake_fd < 0) {
		err_sys(err, "eventfd");
		goto fail;
	}
	if (console_log_open(&s->log, p->log_path, err) < 0)
		goto fail;
	fcntl(p->in_fd, F_SETFL, fcntl(p->in_fd, F_GETFL) | O_NONBLOCK);
	fcntl(p->listen_fd, F_SETFL, fcntl(p->listen_fd, F_GETFL) | O_NONBLOCK);
	if (start_pump(s, err) < 0)
		goto fail;
	e = pthread_create(&s->server, NULL, server_main, s);
	if (e) {
		errno = e;
		err_sys(err, "starting the control thread");
		ctl_server_finish(s);
		return -1;
	}
	s->server_started = true;
	*sp = s;
	return 0;
fail:
	console_log_close(&s->log);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return -1;
}

void ctl_server_finish(struct ctl_server *s)
{
	ctl_server_console_end(s);
	__atomic_store_n(&s->finish_by, now_ms() + FINISH_MS, __ATOMIC_RELEASE);
	__atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
	wake(s);
	if (s->server_started)
		pthread_join(s->server, NULL);
	close(s->p.listen_fd);
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		if (s->c[i])
			drop(s, i, false);
	console_log_close(&s->log);
	close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

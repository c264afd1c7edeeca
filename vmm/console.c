#include "console.h"
#include "../tools/base/fdio.h"
#include "timeline.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

static void console_input(struct loop *loop, int fd, uint32_t events, void *opaque);

static void console_pause(struct console *c)
{
	if (c->in_open && !c->in_paused) {
		loop_mod(c->loop, c->in_fd, 0);
		c->in_paused = true;
	}
}

void console_kick(struct console *c)
{
	bool resume = false;

	pthread_mutex_lock(&c->lock);
	if (c->in_open && c->in_paused) {
		c->in_paused = false;
		resume = true;
	}
	pthread_mutex_unlock(&c->lock);
	/* Outside our lock: the loop thread takes the loop lock, then ours. */
	if (resume)
		loop_mod(c->loop, c->in_fd, EPOLLIN);
}

/* Feed bytes through the escape filter into the sink. Caller holds lock. */
static void console_feed(struct console *c, const uint8_t *buf, size_t len)
{
	uint8_t out[512];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t ch = buf[i];

		if (c->escape_pending) {
			c->escape_pending = false;
			if (ch == 'x' || ch == 'X') {
				if (c->on_quit)
					c->on_quit(c->quit_opaque);
				return;
			}
			if (ch != CONSOLE_ESCAPE)
				out[n++] = CONSOLE_ESCAPE;
			out[n++] = ch;
		} else if (ch == CONSOLE_ESCAPE && c->raw) {
			c->escape_pending = true;
		} else {
			out[n++] = ch;
		}
	}
	if (n && c->sink.push)
		c->sink.push(c->sink.opaque, out, n);
}

static void console_input(struct loop *loop, int fd, uint32_t events, void *opaque)
{
	struct console *c = opaque;
	uint8_t buf[256];
	size_t space;
	ssize_t n;

	(void)loop;
	(void)events;
	pthread_mutex_lock(&c->lock);
	space = c->sink.space ? c->sink.space(c->sink.opaque) : 0;
	/* Keep one byte spare: an escape followed by another key emits two. */
	if (space < 2) {
		console_pause(c);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (space - 1 < sizeof(buf))
		space = space - 1;
	else
		space = sizeof(buf);
	n = read(fd, buf, space);
	if (n > 0) {
		console_feed(c, buf, n);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		/* EOF or a dead fd: the guest keeps running without input. */
		loop_del(c->loop, fd);
		c->in_open = false;
	}
	pthread_mutex_unlock(&c->lock);
}

/* With out_lock held. Output gone: the guest keeps running. */
static void flush_locked(struct console *c)
{
	if (c->out_len)
		(void)write_all(c->out_fd, c->out_buf, c->out_len);
	c->out_len = 0;
}

void console_flush(struct console *c)
{
	pthread_mutex_lock(&c->out_lock);
	flush_locked(c);
	pthread_mutex_unlock(&c->out_lock);
}

static void console_flush_timer(struct loop *loop, int fd, uint32_t events,
				void *opaque)
{
	struct console *c = opaque;
	uint64_t ticks;

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&c->out_lock);
	c->flush_armed = false;
	flush_locked(c);
	pthread_mutex_unlock(&c->out_lock);
}

int console_open(struct console *c, struct loop *loop, int in_fd, int out_fd,
		 struct error *err)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->out_lock, NULL);
	c->loop = loop;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->flush_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->flush_fd < 0)
		return err_sys(err, "timerfd_create");
	if (loop_add(loop, c->flush_fd, EPOLLIN, console_flush_timer, c, err) < 0) {
		close(c->flush_fd);
		c->flush_fd = -1;
		return -1;
	}
	if (isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;

		cfmakeraw(&raw);
		if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
			c->raw = true;
	}
	if (fcntl(in_fd, F_GETFD) >= 0) {
		struct error e;

		/* A regular file or /dev/null cannot be watched by epoll: no input. */
		if (loop_add(loop, in_fd, EPOLLIN, console_input, c, &e) == 0)
			c->in_open = true;
	}
	return 0;
}

void console_close(struct console *c)
{
	if (c->flush_fd >= 0) {
		loop_del(c->loop, c->flush_fd);
		close(c->flush_fd);
		c->flush_fd = -1;
	}
	console_flush(c);
	pthread_mutex_destroy(&c->out_lock);
	if (c->in_open)
		loop_del(c->loop, c->in_fd);
	c->in_open = false;
	if (c->raw)
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
	c->raw = false;
	pthread_mutex_destroy(&c->lock);
}

void console_set_sink(struct console *c, const struct console_sink *sink)
{
	pthread_mutex_lock(&c->lock);
	if (sink)
		c->sink = *sink;
	else
		memset(&c->sink, 0, sizeof(c->sink));
	pthread_mutex_unlock(&c->lock);
	console_kick(c);
}

void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	struct itimerspec t = { .it_value.tv_nsec = CONSOLE_FLUSH_US * 1000 };

	if (!timeline_marked(MS_FIRST_SERIAL_BYTE))
		timeline_mark(MS_FIRST_SERIAL_BYTE);
	pthread_mutex_lock(&c->out_lock);
	if (c->out_len + len > sizeof(c->out_buf))
		flush_locked(c);
	if (len >= sizeof(c->out_buf)) {
		(void)write_all(c->out_fd, buf, len);
	} else {
		memcpy(c->out_buf + c->out_len, buf, len);
		c->out_len += len;
		if (memchr(buf, '\n', len))
			flush_locked(c);
	}
	if (c->out_len && !c->flush_armed && c->flush_fd >= 0 &&
	    timerfd_settime(c->flush_fd, 0, &t, NULL) == 0)
		c->flush_armed = true;
	if (c->out_len && !c->flush_armed)
		flush_locked(c);        /* no timer: unbuffered */
	pthread_mutex_unlock(&c->out_lock);
}

/* The host terminal as the guest's console: raw mode while the guest runs,
 * restored on exit; stdin read on the event loop and fed to a sink (the
 * UART) as fast as the sink takes it; an escape sequence to quit.
 *
 * Escape: Ctrl-A x quits; Ctrl-A Ctrl-A sends one Ctrl-A to the guest.
 *
 * Guest output is buffered: written out at each newline, when the buffer
 * fills, or CONSOLE_FLUSH_US after the first byte of a partial line (a
 * prompt), by the event loop. A UART sends one byte per exit, and a
 * write(2) per byte costs a syscall and, through a pipe, a wake-up of the
 * reader each. */
#ifndef VESSEL_CONSOLE_H
#define VESSEL_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <termios.h>

#include "loop.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */
#define CONSOLE_OUT_BUF 4096
#define CONSOLE_FLUSH_US 2000

struct console_sink {
	size_t (*space)(void *opaque);                /* bytes it takes now */
	void (*push)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

struct console {
	int in_fd, out_fd;
	bool in_open;           /* stdin is watched (not EOF, not absent) */
	bool in_paused;         /* sink full: stdin unwatched until console_kick */
	bool raw;               /* terminal put in raw mode */
	bool escape_pending;
	struct termios saved;
	struct loop *loop;
	pthread_mutex_t lock;
	struct console_sink sink;
	void (*on_quit)(void *opaque);
	void *quit_opaque;
	/* Output buffer (out_lock; never held with lock or the loop's). */
	pthread_mutex_t out_lock;
	uint8_t out_buf[CONSOLE_OUT_BUF];
	size_t out_len;
	int flush_fd;           /* timerfd: flushes a partial line */
	bool flush_armed;
};

int console_open(struct console *c, struct loop *loop, int in_fd, int out_fd,
		 struct error *err);
void console_close(struct console *c);  /* restores the terminal */
/* Attach (or detach, with sink NULL) the device that receives input. */
void console_set_sink(struct console *c, const struct console_sink *sink);
/* The sink has room again: resume reading input. Any thread. */
void console_kick(struct console *c);
/* Guest output. Any thread. */
void console_write(struct console *c, const uint8_t *buf, size_t len);
/* Write out buffered output now (before a crash dump on stderr). */
void console_flush(struct console *c);

#endif

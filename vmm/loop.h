/* The host-side event loop: one epoll thread that owns stdin, signals,
 * timers and device fds. Callbacks run on the loop thread. */
#ifndef VESSEL_LOOP_H
#define VESSEL_LOOP_H

#include <stdint.h>
#include <pthread.h>

#include "../tools/base/error.h"

struct loop;
typedef void (*loop_fn)(struct loop *loop, int fd, uint32_t events, void *opaque);

#define LOOP_MAX_WATCHES 64

struct loop_watch {
	int fd;
	loop_fn fn;
	void *opaque;
};

struct loop {
	int epfd;
	int wake_fd;            /* eventfd: loop_stop() */
	volatile int stopping;
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	struct loop_watch watch[LOOP_MAX_WATCHES];
};

int loop_init(struct loop *loop, struct error *err);
/* Watch fd for events (EPOLLIN etc.); fn runs on the loop thread. */
int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn,
	     void *opaque, struct error *err);
int loop_mod(struct loop *loop, int fd, uint32_t events);
void loop_del(struct loop *loop, int fd);
int loop_start(struct loop *loop, struct error *err);   /* spawn the thread */
void loop_stop(struct loop *loop);                      /* stop and join */
void loop_destroy(struct loop *loop);

#endif

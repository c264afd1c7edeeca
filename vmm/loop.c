#include "loop.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int loop_init(struct loop *loop, struct error *err)
{
	memset(loop, 0, sizeof(*loop));
	for (unsigned i = 0; i < LOOP_MAX_WATCHES; i++)
		loop->watch[i].fd = -1;
	pthread_mutexattr_t attr;

	/* Recursive: callbacks run with it held and may add or remove watches;
	 * loop_del() from another thread waits for a running callback. */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&loop->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return err_sys(err, "epoll_create1");
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		close(loop->epfd);
		return err_sys(err, "eventfd");
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0) {
		close(loop->wake_fd);
		close(loop->epfd);
		return err_sys(err, "epoll_ctl");
	}
	return 0;
}

int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn,
	     void *opaque, struct error *err)
{
	struct loop_watch *w = NULL;

	pthread_mutex_lock(&loop->lock);
	for (unsigned i = 0; i < LOOP_MAX_WATCHES; i++) {
		if (loop->watch[i].fd < 0) {
			w = &loop->watch[i];
			break;
		}
	}
	if (!w) {
		pthread_mutex_unlock(&loop->lock);
		return err_set(err, "event loop: too many watched fds");
	}
	*w = (struct loop_watch){ fd, fn, opaque };
	pthread_mutex_unlock(&loop->lock);

	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		w->fd = -1;
		errno = e;
		return err_sys(err, "epoll_ctl(ADD, fd %d)", fd);
	}
	return 0;
}

static struct loop_watch *loop_find(struct loop *loop, int fd)
{
	for (unsigned i = 0; i < LOOP_MAX_WATCHES; i++)
		if (loop->watch[i].fd == fd)
			return &loop->watch[i];
	return NULL;
}

int loop_mod(struct loop *loop, int fd, uint32_t events)
{
	struct loop_watch *w;
	int ret = -1;

	pthread_mutex_lock(&loop->lock);
	w = loop_find(loop, fd);
	if (w) {
		struct epoll_event ev = { .events = events, .data.ptr = w };

		ret = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev);
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

void loop_del(struct loop *loop, int fd)
{
	struct loop_watch *w;

	pthread_mutex_lock(&loop->lock);
	w = loop_find(loop, fd);
	if (w) {
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		w->fd = -1;
	}
	pthread_mutex_unlock(&loop->lock);
}

static void *loop_thread(void *arg)
{
	struct loop *loop = arg;
	struct epoll_event ev[16];

	while (!loop->stopping) {
		int n = epoll_wait(loop->epfd, ev, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		pthread_mutex_lock(&loop->lock);
		for (int i = 0; i < n && !loop->stopping; i++) {
			struct loop_watch *w = ev[i].data.ptr;

			if (!w)
				continue;       /* wake_fd */
			/* A watch deleted by an earlier callback has fd -1. */
			if (w->fd >= 0 && w->fn)
				w->fn(loop, w->fd, ev[i].events, w->opaque);
		}
		pthread_mutex_unlock(&loop->lock);
	}
	return NULL;
}

int loop_start(struct loop *loop, struct error *err)
{
	int e = pthread_create(&loop->thread, NULL, loop_thread, loop);

	if (e) {
		errno = e;
		return err_sys(err, "cannot start the event loop thread");
	}
	loop->running = 1;
	return 0;
}

void loop_stop(struct loop *loop)
{
	uint64_t one = 1;

	if (!loop->running)
		return;
	loop->stopping = 1;
	/* Cannot fail: the counter is far from overflowing. */
	(void)!write(loop->wake_fd, &one, sizeof(one));
	pthread_join(loop->thread, NULL);
	loop->running = 0;
}

void loop_destroy(struct loop *loop)
{
	loop_stop(loop);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	pthread_mutex_destroy(&loop->lock);
}

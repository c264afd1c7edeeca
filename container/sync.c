#include "sync.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sync_msg {
	int32_t kind;
	int32_t errnum;
	char text[sizeof(((struct error *)0)->msg)];
};

int sync_pair(int fds[2], struct error *err)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return err_sys(err, "socketpair");
	return 0;
}

int sync_send(int fd, enum sync_kind kind, const struct error *msg)
{
	struct sync_msg m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	if (msg) {
		m.errnum = msg->errnum;
		snprintf(m.text, sizeof(m.text), "%s", msg->msg);
	}
	do
		n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(m) ? 0 : -1;
}

int sync_recv(int fd, enum sync_kind *kind, struct error *msg,
	      struct error *err)
{
	struct sync_msg m;
	ssize_t n;

	do
		n = recv(fd, &m, sizeof(m), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_sys(err, "reading from the container setup socket");
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(m))
		return err_set(err, "short message on the container setup "
			       "socket (%zd bytes)", n);
	*kind = m.kind;
	if (msg) {
		m.text[sizeof(m.text) - 1] = '\0';
		snprintf(msg->msg, sizeof(msg->msg), "%s", m.text);
		msg->errnum = m.errnum;
	}
	return 1;
}

void sync_fail(int fd, const struct error *err)
{
	sync_send(fd, SYNC_ERROR, err);
	_exit(1);
}

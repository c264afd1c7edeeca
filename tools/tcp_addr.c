/* TCP endpoints (tcp_addr.h). */
#include "tcp_addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int tcp_addr_split(const char *s, char *host, size_t size, char *port,
		   size_t psize, struct error *err)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return err_input(err, "'%s': expected [IPV6]:PORT", s);
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return err_input(err, "'%s': expected HOST:PORT", s);
		hl = (size_t)(colon - s);
	}
	if (!hl || hl >= size)
		return err_input(err, "'%s': expected HOST:PORT (no host)", s);
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p < 1 || p > 65535)
		return err_input(err, "'%s': the port must be 1 to 65535", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, psize, "%ld", p);
	return 0;
}

static int resolve(const char *hostport, bool passive, struct addrinfo **res,
		   struct error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	char host[256], port[8];
	int e;

	if (tcp_addr_split(hostport, host, sizeof(host), port, sizeof(port),
			   err) < 0)
		return -1;
	e = getaddrinfo(host, port, &hints, res);
	if (e)
		return err_input(err, "%s: %s", hostport, gai_strerror(e));
	return 0;
}

static void tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int tcp_connect(const char *hostport, int timeout_ms, struct error *err)
{
	struct addrinfo *res, *a;
	int fd = -1, e = 0;

	if (resolve(hostport, false, &res, err) < 0)
		return -1;
	for (a = res; a && fd < 0; a = a->ai_next) {
		struct pollfd p;
		socklen_t len = sizeof(e);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			e = errno;
		} else {
			p = (struct pollfd){ .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, timeout_ms) != 1)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
				e = errno;
		}
		if (e) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = e ? e : ECONNREFUSED;
		return err_sys(err, "cannot connect to %s", hostport);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	tune(fd);
	return fd;
}

int tcp_listen(const char *hostport, struct error *err)
{
	struct addrinfo *res;
	int fd, one = 1;

	if (resolve(hostport, true, &res, err) < 0)
		return -1;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
		    res->ai_protocol);
	if (fd < 0) {
		freeaddrinfo(res);
		return err_sys(err, "socket");
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0) {
		err_sys(err, "cannot listen on %s", hostport);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int tcp_accept(int lfd, int timeout_ms, char *peer, size_t size,
	       struct error *err)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	char host[INET6_ADDRSTRLEN] = "?";
	int fd, r;

	do
		r = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_sys(err, "poll");
	if (r == 0)
		return err_set(err, "no migration arrived within %g s",
			       timeout_ms / 1000.0);
	fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "accept");
	if (sa.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host,
			  sizeof(host));
	else if (sa.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr,
			  host, sizeof(host));
	snprintf(peer, size, "%s", host);
	tune(fd);
	return fd;
}

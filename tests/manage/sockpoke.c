/* sockpoke SOCKET MS [N]: a hostile control-socket client for the tests.
 * Opens N connections (default 1) to the unix socket SOCKET, sends all
 * of stdin on the first, then prints whatever comes back on any of them
 * for MS milliseconds (or until all are closed) and exits, closing them
 * whatever state the conversation is in. Prints "connect failed" per
 * refused connection. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MAXC 512

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p[MAXC];
	char buf[65536];
	long long end;
	int n, open_n = 0;
	ssize_t r;

	if (argc < 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: sockpoke SOCKET MS [N]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	n = argc > 3 ? atoi(argv[3]) : 1;
	if (n < 1 || n > MAXC)
		n = 1;
	for (int i = 0; i < n; i++) {
		p[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		p[i].events = POLLIN;
		if (connect(p[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			printf("connect failed: %s\n", strerror(errno));
			close(p[i].fd);
			p[i].fd = -1;
		} else {
			open_n++;
		}
	}
	/* stdin to the first connection, as it comes */
	while (p[0].fd >= 0 && (r = read(0, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < r;) {
			ssize_t w = send(p[0].fd, buf + off, r - off, MSG_NOSIGNAL);

			if (w <= 0)
				break;
			off += w;
		}
	}
	end = now_ms() + atoi(argv[2]);
	while (open_n > 0 && now_ms() < end) {
		if (poll(p, n, (int)(end - now_ms())) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_n--;
				continue;
			}
			fwrite(buf, 1, r, stdout);
		}
	}
	return 0;
}

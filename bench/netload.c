/*
 * netload: a small TCP bulk-transfer sender/receiver for `make bench`
 * (bench/net.sh).
 *
 *   netload send|recv (-l | -c HOST) -p PORT [-t SECONDS] [-w SECONDS]
 *
 * One TCP connection: -l listens on PORT (any IPv4 address) and takes the
 * first connection; -c connects to HOST:PORT (retrying for a while if
 * nobody listens yet). Once connected:
 *   send  writes 128 KiB buffers for -t SECONDS (default 3), then shuts its
 *         side down and waits for the receiver to close: the time counted
 *         ends when the last byte is known to have arrived.
 *   recv  reads until the sender's end of stream, then closes.
 * Both count from the moment the connection is established. -w SECONDS
 * (default: -t plus 60) bounds the whole run, connecting included.
 *
 * Prints one line on stdout, e.g.
 *   NETLOAD mode=send secs=3.004 bytes=123456789 mib_s=39.19 mbit_s=328.77
 * Exit status 0, or 1 with a message on stderr.
 *
 * Build: gcc -static -O2 -Wall -Wextra -Werror -o netload netload.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (128 * 1024)

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("netload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fputs("usage: netload send|recv (-l | -c HOST) -p PORT [-t SECONDS] [-w SECONDS]\n", stderr);
	exit(2);
}

static void on_alarm(int sig)
{
	static const char msg[] = "netload: time limit (-w) reached\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		die("%s must be an integer from %ld to %ld, not '%s'", what, min, max, s);
	return v;
}

static int do_listen(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, ls, fd;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		die("socket: %s", strerror(errno));
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind to port %d: %s", port, strerror(errno));
	if (listen(ls, 1) < 0)
		die("listen: %s", strerror(errno));
	fd = accept(ls, NULL, NULL);
	if (fd < 0)
		die("accept on port %d: %s", port, strerror(errno));
	close(ls);
	return fd;
}

static int do_connect(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("-c wants an IPv4 address, not '%s'", host);
	/* The listener may not be up yet: retry (the -w alarm bounds this). */
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno != ECONNREFUSED && errno != ENETUNREACH && errno != EHOSTUNREACH &&
		    errno != ETIMEDOUT)
			die("connect to %s:%d: %s", host, port, strerror(errno));
		close(fd);
		usleep(100 * 1000);
	}
}

int main(int argc, char **argv)
{
	const char *mode, *host = NULL;
	long secs = 3, limit = -1, port = -1;
	int listen_mode = 0, fd, opt, sending;
	uint64_t bytes = 0;
	double t0, elapsed;
	static char buf[BUF_SIZE];
	struct sigaction sa;

	if (argc < 2)
		usage();
	mode = argv[1];
	if (strcmp(mode, "send") == 0)
		sending = 1;
	else if (strcmp(mode, "recv") == 0)
		sending = 0;
	else
		usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "lc:p:t:w:")) != -1) {
		switch (opt) {
		case 'l': listen_mode = 1; break;
		case 'c': host = optarg; break;
		case 'p': port = parse_num(optarg, "-p PORT", 1, 65535); break;
		case 't': secs = parse_num(optarg, "-t SECONDS", 1, 3600); break;
		case 'w': limit = parse_num(optarg, "-w SECONDS", 1, 86400); break;
		default: usage();
		}
	}
	if (optind != argc || port < 0 || listen_mode == (host != NULL))
		usage();
	if (limit < 0)
		limit = secs + 60;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)limit);

	fd = listen_mode ? do_listen((int)port) : do_connect(host, (int)port);
	t0 = now();
	if (sending) {
		double deadline = t0 + (double)secs;
		size_t i;

		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(i * 131 + 17);
		while (now() < deadline) {
			ssize_t n = write(fd, buf, sizeof(buf));

			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("send: %s", strerror(errno));
			}
			bytes += (uint64_t)n;
		}
		if (shutdown(fd, SHUT_WR) < 0)
			die("shutdown: %s", strerror(errno));
		/* The receiver closes once it has read everything. */
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n == 0)
				break;
			if (n < 0 && errno != EINTR)
				die("waiting for the receiver to close: %s", strerror(errno));
		}
	} else {
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n == 0)
				break;
			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("receive: %s", strerror(errno));
			}
			bytes += (uint64_t)n;
		}
	}
	elapsed = now() - t0;
	close(fd);

	printf("NETLOAD mode=%s secs=%.3f bytes=%llu mib_s=%.2f mbit_s=%.2f\n", mode, elapsed,
	       (unsigned long long)bytes, (double)bytes / elapsed / 1048576.0,
	       (double)bytes * 8.0 / elapsed / 1e6);
	return 0;
}

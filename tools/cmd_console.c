/* vessel console NAME [--force], vessel logs NAME [-f] */
#include "manage.h"
#include "base/fdio.h"
#include "control.h"
#include "exit_codes.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>

#define ESCAPE 0x01     /* Ctrl-A */

void usage_console(FILE *out)
{
	fprintf(out,
		"usage: vessel console [--force] NAME\n"
		"\n"
		"Attach this terminal to the console of the started guest NAME: a\n"
		"VM's serial console, a container's pty. The terminal is in raw mode\n"
		"meanwhile. Ctrl-A d (or Ctrl-A x) detaches and leaves the guest\n"
		"running; Ctrl-A Ctrl-A sends one Ctrl-A. End of input detaches too.\n"
		"Output that arrived while nobody was attached: `vessel logs NAME`.\n"
		"\n"
		"One client holds a guest's console at a time; another is refused.\n"
		"\n"
		"options:\n"
		"  --force        take the console over from the client holding it\n"
		"                 (that one is told and detached)\n"
		"  -h, --help     this help\n");
}

void usage_logs(FILE *out)
{
	fprintf(out,
		"usage: vessel logs [-f] NAME\n"
		"\n"
		"Print the console output of the started guest NAME, as kept in\n"
		"its console log: the last 1 to 2 MiB (the log is rotated at 1 MiB,\n"
		"one old file kept). The log goes away with the guest.\n"
		"\n"
		"options:\n"
		"  -f, --follow   keep printing new output until the guest stops\n"
		"                 (or Ctrl-C)\n"
		"  -h, --help     this help\n");
}

/* Copy what is there from in to out: 1 copied, 0 end of input, -1 error. */
static int relay(int in, int out)
{
	char buf[4096];
	ssize_t n = read(in, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return n == 0 ? 0 : -1;
	return write_all(out, buf, n) < 0 ? -1 : 1;
}

/* Keystrokes through the escape filter; returns true on detach. */
static bool keys(int sock, const char *in, size_t n, bool *esc)
{
	char out[8192];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = in[i];

		if (*esc) {
			*esc = false;
			if (ch == 'd' || ch == 'D' || ch == 'x' || ch == 'X') {
				write_all(sock, out, o);
				return true;
			}
			if (ch != ESCAPE)
				out[o++] = ESCAPE;
			out[o++] = ch;
		} else if (ch == ESCAPE) {
			*esc = true;
		} else {
			out[o++] = ch;
		}
	}
	write_all(sock, out, o);
	return false;
}

/* The attached session: until detach, end of input, the guest gone, or
 * SIGTERM, SIGHUP or SIGINT (which only come from outside: in raw mode
 * Ctrl-C goes to the guest). sigfd reads them. */
static int session(int sock, int sigfd, const char *name)
{
	struct pollfd p[3] = {
		{ .fd = 0, .events = POLLIN }, { .fd = sock, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};
	bool esc = false;
	char buf[4096];
	ssize_t n;

	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[2].revents)
			break;
		if (p[1].revents) {
			int r = relay(sock, 1);

			if (r <= 0) {
				fprintf(stderr, "\r\n[vessel: the console of %s "
					"closed]\r\n", name);
				return 0;
			}
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0 || keys(sock, buf, n, &esc))
				break;
		}
	}
	fprintf(stderr, "\r\n[vessel: detached from %s; it keeps running]\r\n",
		name);
	return 0;
}

/* The shape console and logs share: "[-h] [-f] NAME", where -f is the
 * command's one flag (--force, --follow), then a connection to NAME's
 * control socket. Returns the fd; or -1 with *code the exit status (0 after
 * --help). */
static int parse_and_connect(int argc, char **argv, const char *verb,
			     const char *flag_name, void (*help)(FILE *),
			     bool *flag, int *code, struct error *err)
{
	const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ flag_name, no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int c, fd;

	*flag = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+hf", opts, NULL)) != -1) {
		if (c == 'h') {
			help(stdout);
			*code = 0;
			return -1;
		}
		if (c != 'f') {
			help(stderr);
			*code = EXIT_USAGE;
			return -1;
		}
		*flag = true;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vessel %s: expected one NAME\n", verb);
		help(stderr);
		*code = EXIT_USAGE;
		return -1;
	}
	fd = guest_connect(argv[optind], err);
	if (fd < 0) {
		*code = EXIT_HOST;
		return -2;
	}
	return fd;
}

int cmd_console(int argc, char **argv)
{
	struct json_object *req;
	struct termios saved, raw;
	struct winsize ws;
	struct error err;
	bool force, tty;
	int fd, r, sigfd, code;
	sigset_t sigs;

	fd = parse_and_connect(argc, argv, "console", "force", usage_console,
			       &force, &code, &err);
	if (fd == -2)
		fprintf(stderr, "vessel: %s\n", err.msg);
	if (fd < 0)
		return code;
	req = control_request("console");
	json_object_object_add(req, "force", json_object_new_boolean(force));
	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		json_object_object_add(req, "rows", json_object_new_int(ws.ws_row));
		json_object_object_add(req, "cols", json_object_new_int(ws.ws_col));
	}
	r = control_call(fd, req, NULL, CONTROL_TIMEOUT_MS, &err);
	json_object_put(req);
	if (r < 0) {
		fprintf(stderr, "vessel: %s: %s\n", argv[optind], err.msg);
		close(fd);
		return EXIT_HOST;
	}
	tty = isatty(0) && tcgetattr(0, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
	}
	fprintf(stderr, "[vessel: attached to %s; Ctrl-A d detaches]\r\n",
		argv[optind]);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	r = session(fd, sigfd, argv[optind]);
	if (sigfd >= 0)
		close(sigfd);
	if (tty)
		tcsetattr(0, TCSADRAIN, &saved);
	close(fd);
	return r < 0 ? EXIT_HOST : 0;
}

/* NAME is not running: print the log its last run left (state.h), if
 * any; err says why NAME could not be reached. */
static int last_log(const char *name, struct error *err)
{
	char path[STATE_PATH_MAX * 2], buf[65536];
	struct error e2;
	ssize_t n;
	int fd;

	if (state_last_log(path, sizeof(path), name, &e2) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "vessel: %s\n", err->msg);
		return EXIT_HOST;
	}
	fprintf(stderr, "vessel: %s is not running; its last run's log follows\n",
		name);
	fflush(stderr);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(1, buf, n) < 0)
			break;
	close(fd);
	return 0;
}

int cmd_logs(int argc, char **argv)
{
	struct json_object *req;
	struct error err;
	bool follow;
	int fd, r, code;

	fd = parse_and_connect(argc, argv, "logs", "follow", usage_logs, &follow,
			       &code, &err);
	if (fd == -2 && !guest_running(argv[optind]))
		return last_log(argv[optind], &err);
	if (fd == -2)
		fprintf(stderr, "vessel: %s\n", err.msg);
	if (fd < 0)
		return code;
	req = control_request("logs");
	json_object_object_add(req, "follow", json_object_new_boolean(follow));
	r = control_call(fd, req, NULL, CONTROL_TIMEOUT_MS, &err);
	json_object_put(req);
	if (r < 0) {
		fprintf(stderr, "vessel: %s: %s\n", argv[optind], err.msg);
		close(fd);
		return EXIT_HOST;
	}
	while ((r = relay(fd, 1)) > 0)
		;
	close(fd);
	return r < 0 ? EXIT_HOST : 0;
}

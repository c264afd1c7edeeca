/* vessel stop NAME [--timeout S] [--force], vessel pause|resume NAME */
#include "manage.h"
#include "base/clock.h"
#include "control.h"
#include "exit_codes.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#define STOP_SLACK_MS 60000     /* after the timeout: tear-down, cleanup */

void usage_stop(FILE *out)
{
	fprintf(out,
		"usage: vessel stop [--timeout S] [--force] NAME\n"
		"\n"
		"Stop the started guest NAME and return when it is gone.\n"
		"  VM: press its ACPI power button (the fixed-feature button: PM1\n"
		"      status and enable, SCI), so that the guest shuts down by\n"
		"      itself (systemd-logind, acpid); after the timeout, stop it\n"
		"      hard.\n"
		"  container: SIGTERM to its PID 1, SIGKILL after the timeout.\n"
		"A paused guest is resumed first.\n"
		"\n"
		"options:\n"
		"  -t, --timeout S  seconds to wait for a graceful stop (default %g)\n"
		"  -f, --force      stop at once (hard stop, SIGKILL)\n"
		"  -h, --help       this help\n"
		"\n"
		"exit status: 0 the guest is gone; 1 it is not running or did not\n"
		"stop; 2 a usage error.\n", STOP_TIMEOUT_DEFAULT);
}

void usage_pause(FILE *out)
{
	fprintf(out,
		"usage: vessel pause NAME\n"
		"\n"
		"Freeze the started guest NAME. VM: its vCPUs are held out of\n"
		"KVM_RUN; guest time is not frozen (kvmclock and the timers follow\n"
		"the host clock, so after `resume` the guest sees the time that\n"
		"passed, as after a suspend). Container: the freezer cgroup.\n"
		"`vessel resume NAME` lets it run again.\n");
}

void usage_resume(FILE *out)
{
	fprintf(out,
		"usage: vessel resume NAME\n"
		"\n"
		"Let the guest NAME, paused by `vessel pause`, run again.\n");
}

/* The supervisor closes our connection only by exiting, after the guest
 * is gone and its state removed. */
int guest_wait_gone(int fd, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	long long left;
	ssize_t n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return 0;
	}
}

/* A pidfd for the supervisor at the other end of fd, or -1. */
static int supervisor_pidfd(int fd)
{
	struct json_object *req = control_request("ps"), *reply = NULL;
	struct error err;
	int pidfd = -1;

	if (control_call(fd, req, &reply, CONTROL_TIMEOUT_MS, &err) == 0)
		pidfd = (int)syscall(SYS_pidfd_open,
				     (pid_t)control_num(reply, "pid", 0), 0);
	json_object_put(reply);
	json_object_put(req);
	return pidfd;
}

int guest_stop(const char *name, double timeout, bool force, struct error *err)
{
	struct json_object *req;
	int fd, pidfd, r;

	fd = guest_connect(name, err);
	if (fd < 0)
		return -1;
	pidfd = supervisor_pidfd(fd);
	req = control_request("stop");
	json_object_object_add(req, "timeout", json_object_new_double(timeout));
	json_object_object_add(req, "force", json_object_new_boolean(force));
	r = control_call(fd, req, NULL, CONTROL_TIMEOUT_MS, err);
	json_object_put(req);
	if (r == 0) {
		long long wait = (force ? 0 : (long long)(timeout * 1000)) +
				 STOP_SLACK_MS;

		r = guest_wait_gone(fd, now_ms() + wait);
		if (r < 0)
			err_set(err, "%s did not go away within %lld s", name,
				wait / 1000);
		/* The socket closes as the supervisor exits: see it gone. */
		if (r == 0 && pidfd >= 0)
			poll(&(struct pollfd){ .fd = pidfd, .events = POLLIN }, 1,
			     CONTROL_TIMEOUT_MS);
	}
	if (pidfd >= 0)
		close(pidfd);
	close(fd);
	return r;
}

int cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	double timeout = STOP_TIMEOUT_DEFAULT;
	struct error err;
	bool force = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ht:f", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_stop(stdout);
			return 0;
		case 't':
			if (parse_seconds(optarg, &timeout) == 0)
				break;
			fprintf(stderr, "vessel stop: --timeout: expected 0 to "
				"86400 seconds, not '%s'\n", optarg);
			return EXIT_USAGE;
		case 'f':
			force = true;
			break;
		default:
			usage_stop(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vessel stop: expected one NAME\n");
		usage_stop(stderr);
		return EXIT_USAGE;
	}
	if (guest_stop(argv[optind], timeout, force, &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_HOST;
	}
	return 0;
}

static int simple_op(int argc, char **argv, void (*help)(FILE *),
		     const char *op)
{
	struct json_object *req;
	struct error err;
	const char *name;
	int fd, r;

	r = parse_name_args(argc, argv, help, &name);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	fd = guest_connect(name, &err);
	if (fd < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_HOST;
	}
	req = control_request(op);
	r = control_call(fd, req, NULL, CONTROL_TIMEOUT_MS * 2, &err);
	json_object_put(req);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "vessel: %s: %s\n", name, err.msg);
		return EXIT_HOST;
	}
	return 0;
}

int cmd_pause(int argc, char **argv)
{
	return simple_op(argc, argv, usage_pause, "pause");
}

int cmd_resume(int argc, char **argv)
{
	return simple_op(argc, argv, usage_resume, "resume");
}

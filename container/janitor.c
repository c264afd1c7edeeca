#include "janitor.h"
#include "ct.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DISMISS 'd'

/* Close every fd >= 3 except a and b. */
static void close_others(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a, fd;

	for (fd = 3; fd < lo; fd++)
		close(fd);
	for (fd = lo + 1; fd < hi; fd++)
		close(fd);
	close_range(hi + 1, ~0U, 0);
}

static void quiet(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
				    SIGTSTP, SIGTTIN, SIGTTOU };
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	size_t i;

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_IGN);
	setsid();
	prctl(PR_SET_NAME, "vessel-janitor", 0, 0, 0);
}

static void run(struct ct *ct, int fd)
{
	struct pollfd p = { .fd = ct->pidfd, .events = POLLIN };
	struct error ignored;
	ssize_t n;
	char c;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && c == DISMISS)
		return;
	/* vessel is gone. PID 1 got SIGKILL as its parent-death signal;
	 * make sure, and give the kernel time to take it down. */
	if (ct->pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, ct->pidfd, SIGKILL, NULL, 0);
		poll(&p, 1, 10000);
	}
	ct_cleanup(ct, &ignored);
}

int janitor_start(struct ct *ct, struct janitor *j, struct error *err)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	j->pid = fork();
	if (j->pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_sys(err, "forking the cleanup helper");
	}
	if (j->pid == 0) {
		close_others(fds[0], ct->pidfd >= 0 ? ct->pidfd : fds[0]);
		quiet();
		run(ct, fds[0]);
		_exit(0);
	}
	close(fds[0]);
	j->fd = fds[1];
	return 0;
}

void janitor_dismiss(struct janitor *j)
{
	char c = DISMISS;

	if (j->pid <= 0)
		return;
	if (write(j->fd, &c, 1) != 1)
		kill(j->pid, SIGKILL);
	close(j->fd);
	while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
		;
	j->pid = 0;
}

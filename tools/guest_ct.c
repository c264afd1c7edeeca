/* The supervisor's operations on a container (guest_ops.h): container_run()
 * in a runner process of its own; the console is a pty whose slave is the
 * runner's stdin and stdout; the runner reports PID 1's pid over a pipe
 * once it runs, and PID 1 is stopped, signalled and frozen (the freezer
 * cgroup) from here. */
#include "guest_ops.h"
#include "../container/container.h"
#include "../container/freezer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <json-c/json.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

struct guest {
	struct guest_host *host;
	pid_t runner;                   /* runs container_run() */
	pid_t pid1;                     /* its PID 1, once exec'd */
	int pidfd1;
	int start_fd;                   /* the runner reports pid1 here */
	int console_fd;                 /* our end of the console: the pty master */
};

static int ct_create(struct guest_host *h, struct guest **out,
		     struct error *err)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g)
		return err_set(err, "out of memory");
	g->host = h;
	g->pidfd1 = -1;
	g->start_fd = -1;
	g->console_fd = -1;
	*out = g;
	return 0;
}

static void ct_destroy(struct guest *g)
{
	freezer_remove(g->host->cfg->name);
	if (g->pidfd1 >= 0)
		close(g->pidfd1);
	if (g->start_fd >= 0)
		close(g->start_fd);
	free(g);
}

/* ---- PID 1 --------------------------------------------------------------- */

/* The runner writes PID 1's pid (a pid_t, one atomic write) to the start
 * pipe once PID 1 has exec'd, and closes it; end-of-file without a pid
 * means create or start failed, and ct_run reports the runner's error. */
static bool ct_poll_started(struct guest *g)
{
	pid_t pid = 0;
	ssize_t n;

	if (g->start_fd < 0)
		return false;
	n = read(g->start_fd, &pid, sizeof(pid));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	close(g->start_fd);
	g->start_fd = -1;
	if (n != (ssize_t)sizeof(pid) || pid <= 0)
		return false;
	g->pid1 = pid;
	g->pidfd1 = syscall(SYS_pidfd_open, pid, 0);
	return true;
}

static void ct_signal(struct guest *g, int sig)
{
	if (g->pidfd1 >= 0)
		syscall(SYS_pidfd_send_signal, g->pidfd1, sig, NULL, 0);
}

/* ---- running it --------------------------------------------------------- */

/* A pty for the container's console: the slave becomes our stdin and
 * stdout, in raw mode, 80x24 until a client says otherwise. */
static int console_pty(int *master, struct error *err)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct termios t;
	char name[64];
	int m, s;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return err_sys(err, "posix_openpt");
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		err_sys(err, "opening a pty");
		close(m);
		return -1;
	}
	if (tcgetattr(s, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(s, TCSANOW, &t);
	}
	ioctl(m, TIOCSWINSZ, &ws);
	dup2(s, 0);
	dup2(s, 1);
	close(s);
	*master = m;
	return 0;
}

/* fd a becomes 3 and b 4, close-on-exec; nothing above stays open. */
static int keep_fds(int a, int b)
{
	a = fcntl(a, F_DUPFD_CLOEXEC, 5);
	b = fcntl(b, F_DUPFD_CLOEXEC, 5);
	if (a < 0 || b < 0 || dup3(a, 3, O_CLOEXEC) < 0 ||
	    dup3(b, 4, O_CLOEXEC) < 0)
		return -1;
	close_range(5, ~0U, 0);
	return 0;
}

/* PID 1 runs: tell the supervisor its pid (ct_poll_started). */
static void report_started(pid_t pid1, void *arg)
{
	int *fd = arg;

	if (write(*fd, &pid1, sizeof(pid1)) < 0) {
		/* the supervisor is gone: PID 1 follows (parent-death signal) */
	}
	close(*fd);
	*fd = -1;
}

/* The runner: container_run() in a process of its own, forked before
 * the supervisor starts threads (the container's setup forks, and a fork
 * of a threaded process may inherit a lock some other thread held).
 * Its stdin and stdout are the console pty's slave; nothing else of the
 * supervisor's (the lock, the socket, the pty master) stays open but
 * errfd, which becomes fd 3, and startfd, which becomes fd 4 and gets PID
 * 1's pid once it runs. Exits with the container's status; an error
 * message goes to errfd first. */
static void __attribute__((noreturn)) runner(const struct guest *g, pid_t parent,
					     int errfd, int startfd)
{
	struct container_config c = g->host->cfg->ct;
	struct error err;
	int r;

	c.name = g->host->cfg->name;
	if (keep_fds(errfd, startfd) < 0)
		_exit(255);
	errfd = 3;
	startfd = 4;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
	prctl(PR_SET_NAME, "vessel-runner", 0, 0, 0);
	/* PID 1 inherits this mask: the ordinary one. container_run()
	 * blocks the signals it forwards itself. */
	sigprocmask(SIG_SETMASK, g->host->old_mask, NULL);
	err_clear(&err);
	r = container_run_notify(&c, report_started, &startfd, &err);
	if (r < 0 && write(errfd, err.msg, strlen(err.msg)) < 0)
		_exit(255);
	_exit(r < 0 ? 255 : r);
}

/* Wait for the runner, passing on the signals meant for the container;
 * *stopped once one was meant to end it. */
static int wait_runner(pid_t pid, const sigset_t *sigs, bool *stopped)
{
	struct signalfd_siginfo si;
	struct pollfd p[2];
	int st = 0;

	p[0] = (struct pollfd){ .fd = (int)syscall(SYS_pidfd_open, pid, 0),
				.events = POLLIN };
	p[1] = (struct pollfd){ .fd = signalfd(-1, sigs, SFD_CLOEXEC),
				.events = POLLIN };
	while (p[0].fd >= 0 && !(p[0].revents & POLLIN)) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if ((p[1].revents & POLLIN) &&
		    read(p[1].fd, &si, sizeof(si)) == sizeof(si)) {
			kill(pid, si.ssi_signo);
			*stopped |= si.ssi_signo == SIGTERM ||
				    si.ssi_signo == SIGINT ||
				    si.ssi_signo == SIGHUP ||
				    si.ssi_signo == SIGQUIT;
		}
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (p[0].fd >= 0)
		close(p[0].fd);
	if (p[1].fd >= 0)
		close(p[1].fd);
	return st;
}

static int ct_run(struct guest *g, char *msg, size_t len, struct guest_exit *ex,
		  struct error *err)
{
	int master = -1, null, ep[2], sp[2], st;
	char buf[sizeof(err->msg)];
	pid_t runner_pid;
	ssize_t n;

	/* A restart runs again: forget the last run's PID 1. */
	if (g->pidfd1 >= 0)
		close(g->pidfd1);
	if (g->start_fd >= 0)
		close(g->start_fd);
	g->pidfd1 = g->start_fd = -1;
	g->pid1 = 0;
	if (console_pty(&master, err) < 0)
		return -1;
	g->console_fd = master;
	if (pipe2(ep, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	if (pipe2(sp, O_CLOEXEC) < 0) {
		close(ep[0]);
		close(ep[1]);
		return err_sys(err, "pipe");
	}
	/* Our end only: control ticks read it without waiting. */
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	runner_pid = fork();
	if (runner_pid < 0) {
		close(sp[0]);
		close(sp[1]);
		close(ep[0]);
		close(ep[1]);
		return err_sys(err, "fork");
	}
	if (runner_pid == 0)
		runner(g, getppid(), ep[1], sp[1]);
	g->runner = runner_pid;
	g->start_fd = sp[0];
	close(ep[1]);
	close(sp[1]);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(null, 0);          /* the runner has the slave: the pump sees */
	dup2(null, 1);          /* EIO once the runner is gone */
	close(null);
	if (g->host->serve(g->host, master, master, err) < 0) {
		kill(g->runner, SIGKILL);
		wait_runner(g->runner, g->host->blocked, &ex->stopped);
		close(ep[0]);
		return -1;
	}
	st = wait_runner(g->runner, g->host->blocked, &ex->stopped);
	n = read(ep[0], buf, sizeof(buf) - 1);
	close(ep[0]);
	if (n > 0) {
		buf[n] = '\0';
		return err_set(err, "%s", buf);
	}
	if (WIFSIGNALED(st))
		return err_set(err, "the container runner was killed by signal %d",
			       WTERMSIG(st));
	snprintf(msg, len, "the container exited with status %d",
		 WEXITSTATUS(st));
	ex->status = WEXITSTATUS(st);
	return 0;
}

/* ---- control ------------------------------------------------------------ */

static void ct_status(struct guest *g, struct json_object *o)
{
	const struct guest_config *cfg = g->host->cfg;

	json_object_object_add(o, "cpus", json_object_new_double(cfg->ct.cpus));
	json_object_object_add(o, "memory", json_object_new_int64(cfg->ct.memory));
	if (g->pid1 > 0)
		json_object_object_add(o, "pid1", json_object_new_int(g->pid1));
}

static int ct_shutdown(struct guest *g, bool paused, double timeout,
		       char *note, size_t len, struct error *err)
{
	if (paused)
		freezer_set(g->host->cfg->name, g->pid1, false, err);
	ct_signal(g, SIGTERM);
	snprintf(note, len, "stop: SIGTERM sent to PID 1; SIGKILL in %g s",
		 timeout);
	return 0;
}

static void ct_kill(struct guest *g)
{
	struct error ignored;

	freezer_set(g->host->cfg->name, g->pid1, false, &ignored);
	ct_signal(g, SIGKILL);
}

static int ct_pause(struct guest *g, bool pause, struct error *err)
{
	return freezer_set(g->host->cfg->name, g->pid1, pause, err);
}

/* The console is a pty: pass the client's size on. */
static void ct_resize(struct guest *g, unsigned rows, unsigned cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	ioctl(g->console_fd, TIOCSWINSZ, &ws);
	kill(g->runner, SIGWINCH);      /* container_run() copies it inward */
}

const struct guest_ops guest_ct_ops = {
	.kind = "container",
	.create = ct_create,
	.run = ct_run,
	.poll_started = ct_poll_started,
	.status = ct_status,
	.shutdown = ct_shutdown,
	.kill = ct_kill,
	.pause = ct_pause,
	.resize = ct_resize,
	.snapshot = NULL,       /* no container snapshots: guest_snapshot() */
	.destroy = ct_destroy,
};

/* The supervisor's operations on a container (guest_ops.h): container_run()
 * in a runner process of its own; the console is a pty whose slave is the
 * runner's stdin and stdout; PID 1 is found by looking, and stopped,
 * signalled and frozen (the freezer cgroup) from here. */
#include "guest_ops.h"
#include "../container/container.h"
#include "../container/freezer.h"

#include <ctype.h>
#include <dirent.h>
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

struct guest {
	struct guest_host *host;
	pid_t runner;                   /* runs container_run() */
	pid_t pid1;                     /* its PID 1, once exec'd */
	int pidfd1;
	int console_fd;                 /* our end of the console: the pty master */
	struct stat self_exe;
};

static int ct_create(struct guest_host *h, struct guest **out,
		     struct error *err)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g)
		return err_set(err, "out of memory");
	g->host = h;
	g->pidfd1 = -1;
	g->console_fd = -1;
	stat("/proc/self/exe", &g->self_exe);
	*out = g;
	return 0;
}

static void ct_destroy(struct guest *g)
{
	freezer_remove(g->host->cfg->name);
	if (g->pidfd1 >= 0)
		close(g->pidfd1);
	free(g);
}

/* ---- finding PID 1 ------------------------------------------------------ */

static pid_t parent_of(const char *pid)
{
	char path[64], buf[512], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%.16s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');         /* the name may hold anything */
	if (!p || strlen(p) < 4)
		return -1;
	return (pid_t)strtol(p + 4, NULL, 10);  /* ") S PPID" */
}

/* The container's PID 1 once it has exec'd its command: the runner's
 * child that runs another program than vessel (the janitor, and PID 1
 * before its exec, still run vessel). */
static pid_t find_pid1(const struct guest *g)
{
	char path[64];
	struct dirent *de;
	struct stat st;
	pid_t found = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    parent_of(de->d_name) != g->runner)
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/exe", de->d_name);
		if (stat(path, &st) == 0 && (st.st_dev != g->self_exe.st_dev ||
					     st.st_ino != g->self_exe.st_ino))
			found = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return found;
}

static bool ct_poll_started(struct guest *g)
{
	pid_t pid;

	if (g->runner <= 0 || (pid = find_pid1(g)) <= 0)
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

/* The runner: container_run() in a process of its own, forked before
 * the supervisor starts threads (the container's setup forks, and a fork
 * of a threaded process may inherit a lock some other thread held).
 * Its stdin and stdout are the console pty's slave; nothing else of the
 * supervisor's (the lock, the socket, the status pipe, the pty master)
 * stays open but errfd, which becomes fd 3. Exits with the container's
 * status; an error message goes to errfd first. */
static void __attribute__((noreturn)) runner(const struct guest *g, pid_t parent,
					     int errfd)
{
	struct container_config c = g->host->cfg->ct;
	struct error err;
	int r;

	c.name = g->host->cfg->name;
	if (errfd != 3 && dup3(errfd, 3, O_CLOEXEC) < 0)
		_exit(255);
	errfd = 3;
	close_range(4, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
	prctl(PR_SET_NAME, "vessel-runner", 0, 0, 0);
	/* PID 1 inherits this mask: the ordinary one. container_run()
	 * blocks the signals it forwards itself. */
	sigprocmask(SIG_SETMASK, g->host->old_mask, NULL);
	err_clear(&err);
	r = container_run(&c, &err);
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
	int master = -1, null, ep[2], st;
	char buf[sizeof(err->msg)];
	pid_t runner_pid;
	ssize_t n;

	if (console_pty(&master, err) < 0)
		return -1;
	g->console_fd = master;
	if (pipe2(ep, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	runner_pid = fork();
	if (runner_pid < 0)
		return err_sys(err, "fork");
	if (runner_pid == 0)
		runner(g, getppid(), ep[1]);
	g->runner = runner_pid;
	close(ep[1]);
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

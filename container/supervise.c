#include "supervise.h"
#include "../tools/base/fdio.h"
#include "pty.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

enum { P_CHILD, P_SIG, P_TIMER, P_STDIN, P_MASTER, P_N };

void supervise_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGWINCH);
}

/* Copy what is there from in to out; -1 once in is done. What out does
 * not take is dropped: the console must not stall the container when
 * vessel's stdout fails. */
static int relay(int in, int out)
{
	char buf[4096];
	ssize_t n;

	n = read(in, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	write_all(out, buf, n);
	return 0;
}

static void arm_grace(int tfd)
{
	struct itimerspec its = { .it_value = { STOP_GRACE_SECONDS, 0 } };
	struct itimerspec cur;

	/* The first stop request starts the clock; later ones don't. */
	if (timerfd_gettime(tfd, &cur) == 0 &&
	    (cur.it_value.tv_sec || cur.it_value.tv_nsec))
		return;
	timerfd_settime(tfd, 0, &its, NULL);
}

/* What a stop request (SIGTERM) becomes for PID 1: systemd takes
 * SIGTERM as "re-execute yourself" and halts on SIGRTMIN+3. */
static int stop_signal(pid_t pid)
{
	static const char deleted[] = " (deleted)";
	char path[64], exe[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return SIGTERM;
	exe[n] = '\0';
	if ((size_t)n > sizeof(deleted) - 1 &&
	    !strcmp(exe + n - (sizeof(deleted) - 1), deleted))
		exe[n - (sizeof(deleted) - 1)] = '\0';
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	return strcmp(base, "systemd") ? SIGTERM : SIGRTMIN + 3;
}

static void on_signal(struct ct *ct, int sfd, int tfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		if (ct->tty)
			pty_resize(ct->pty_master);
		return;
	}
	kill(ct->pid, si.ssi_signo == SIGTERM ? stop_signal(ct->pid) :
		      (int)si.ssi_signo);
	if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
		arm_grace(tfd);
}

static int status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	/* PID 1 of a pid namespace cannot die of a SIGINT otherwise: the
	 * kernel reports a halt or power-off by reboot(2) this way. */
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGINT)
		return 0;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

/* PID 1 is gone (and so is everything in its pid namespace): show what
 * was written last, until the pty reports the slave closed. */
static void drain(struct ct *ct)
{
	struct pollfd p = { .fd = ct->pty_master, .events = POLLIN };

	while (poll(&p, 1, 100) > 0 && relay(ct->pty_master, 1) == 0)
		;
}

int supervise(struct ct *ct, struct error *err)
{
	struct pollfd p[P_N];
	sigset_t set;
	int st, ret = -1;
	uint64_t ticks;

	memset(p, 0, sizeof(p));
	supervise_sigset(&set);
	p[P_SIG].fd = signalfd(-1, &set, SFD_CLOEXEC);
	p[P_TIMER].fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (p[P_SIG].fd < 0 || p[P_TIMER].fd < 0) {
		err_sys(err, "signalfd/timerfd");
		goto out;
	}
	p[P_CHILD].fd = ct->pidfd;
	p[P_STDIN].fd = ct->tty ? 0 : -1;
	p[P_MASTER].fd = ct->pty_master;
	for (st = 0; st < P_N; st++)
		p[st].events = POLLIN;
	for (;;) {
		if (poll(p, P_N, -1) < 0) {
			if (errno == EINTR)
				continue;
			err_sys(err, "poll");
			goto out;
		}
		if (p[P_MASTER].revents && relay(ct->pty_master, 1) < 0)
			p[P_MASTER].fd = -1;
		if (p[P_STDIN].revents && relay(0, ct->pty_master) < 0)
			p[P_STDIN].fd = -1;
		if (p[P_SIG].revents)
			on_signal(ct, p[P_SIG].fd, p[P_TIMER].fd);
		if (p[P_TIMER].revents &&
		    read(p[P_TIMER].fd, &ticks, sizeof(ticks)) > 0)
			kill(ct->pid, SIGKILL);
		if (p[P_CHILD].revents)
			break;
	}
	while (waitpid(ct->pid, &st, 0) < 0) {
		if (errno != EINTR) {
			err_sys(err, "waiting for the container");
			goto out;
		}
	}
	ct->pid = 0;
	if (ct->pty_slave >= 0) {
		close(ct->pty_slave);
		ct->pty_slave = -1;
	}
	if (p[P_MASTER].fd >= 0)
		drain(ct);
	ret = status_of(st);
out:
	if (p[P_SIG].fd >= 0)
		close(p[P_SIG].fd);
	if (p[P_TIMER].fd >= 0)
		close(p[P_TIMER].fd);
	return ret;
}

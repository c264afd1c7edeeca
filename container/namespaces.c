#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t raw_clone(unsigned long flags, bool userns, struct error *err)
{
	long pid;

	/* The raw system call with no new stack behaves like fork(): the
	 * child continues here on a copy of our stack. */
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid < 0 && userns && errno == EPERM)
		return err_sys(err, "creating the container namespaces with a "
			       "user namespace (the kernel refuses one inside "
			       "a chroot, or when user.max_user_namespaces is "
			       "0)");
	if (pid < 0)
		return err_sys(err, "creating the container namespaces "
			       "(clone)");
	return pid;
}

/* What the helper tells vessel: the child's pid, or an error. */
struct helper_msg {
	int32_t pid;
	int32_t errnum;
	char text[sizeof(((struct error *)0)->msg)];
};

static void __attribute__((noreturn)) helper_report(int fd, pid_t pid,
						    const struct error *e)
{
	struct helper_msg m;

	memset(&m, 0, sizeof(m));
	m.pid = pid;
	if (e) {
		m.errnum = e->errnum;
		snprintf(m.text, sizeof(m.text), "%s", e->msg);
	}
	while (write(fd, &m, sizeof(m)) < 0 && errno == EINTR)
		;
	_exit(pid > 0 ? 0 : 1);
}

/* vessel's side: the helper's message, then the helper reaped. */
static pid_t helper_wait(pid_t helper, int fd, struct error *err)
{
	struct helper_msg m;
	ssize_t n;

	do
		n = read(fd, &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(m))
		return err_set(err, "the container's mount helper died before "
			       "it could clone the container");
	if (m.pid > 0)
		return m.pid;
	m.text[sizeof(m.text) - 1] = '\0';
	err_set(err, "%s", m.text);
	err->errnum = m.errnum;
	return -1;
}

pid_t ns_clone(unsigned long nsflags, const struct ns_prepare *prep,
	       struct error *err)
{
	/* The cgroup namespace is the child's own step. */
	unsigned long flags = (nsflags & ~(unsigned long)CLONE_NEWCGROUP) |
			      SIGCHLD;
	bool userns = nsflags & CLONE_NEWUSER;
	struct error e;
	pid_t helper, pid;
	int fds[2];

	if (!prep)
		return raw_clone(flags, userns, err);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	helper = fork();
	if (helper < 0) {
		err_sys(err, "fork");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (helper > 0) {
		close(fds[1]);
		pid = helper_wait(helper, fds[0], err);
		close(fds[0]);
		return pid;
	}
	/* The helper: a mount namespace of its own, owned by the host's
	 * user namespace, prepared, then the container cloned from it as
	 * vessel's child (CLONE_PARENT). */
	err_clear(&e);
	close(fds[0]);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (unshare(CLONE_NEWNS) < 0) {
		err_sys(&e, "creating a mount namespace");
		helper_report(fds[1], -1, &e);
	}
	if (prep->fn(prep->arg, &e) < 0)
		helper_report(fds[1], -1, &e);
	pid = raw_clone(flags | CLONE_PARENT, userns, &e);
	if (pid == 0) {
		close(fds[1]);
		return 0;
	}
	helper_report(fds[1], pid, pid < 0 ? &e : NULL);
}

int ns_enter_cgroupns(struct error *err)
{
	if (unshare(CLONE_NEWCGROUP) < 0)
		return err_sys(err, "creating the cgroup namespace");
	return 0;
}

int ns_join(const char *path, int flag, struct error *err)
{
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "joining the namespace %s", path);
	if (setns(fd, flag) < 0)
		r = err_sys(err, "joining the namespace %s", path);
	close(fd);
	return r;
}

int ns_set_hostname(const char *hostname, struct error *err)
{
	if (sethostname(hostname, strlen(hostname)) < 0)
		return err_sys(err, "setting the hostname to '%s'", hostname);
	return 0;
}

#include "exec.h"
#include "cgroup.h"
#include "ct.h"
#include "handle.h"
#include "process.h"
#include "pty.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Does pid live in a user namespace other than ours? */
static bool other_userns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 &&
	       (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
}

/* The helper: wait for the go (cgroup joined), enter the namespaces,
 * fork the process as the caller's child, report its pid, exit. */
static void __attribute__((noreturn))
helper(struct ct *ct, int fd, const struct process_spec *ps, bool userns,
       int console_socket)
{
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
		    CLONE_NEWNET | CLONE_NEWCGROUP;
	struct error e = { 0 }, ready = { 0 };
	enum sync_kind kind;
	long pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (sync_recv(fd, &kind, NULL, &e) != 1 || kind != SYNC_GO)
		_exit(1);
	if (userns)
		flags |= CLONE_NEWUSER;
	if (setns(ct->pidfd, flags) < 0) {
		err_sys(&e, "joining the container's namespaces");
		sync_fail(fd, &e);
	}
	pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL,
		      NULL);
	if (pid < 0) {
		err_sys(&e, "forking in the container");
		sync_fail(fd, &e);
	}
	if (pid == 0) {
		struct process_spec p = *ps;
		char name[64];
		int master, slave;

		close(fd);
		p.sync_fd = -1;
		/* The terminal comes from the container's own devpts, so that
		 * its name resolves inside (tty(1), ttyname(3)). */
		if (p.spec->terminal &&
		    (pty_open(&master, &slave, name, sizeof(name), &e) < 0 ||
		     pty_send_master(console_socket, master, &e) < 0)) {
			fprintf(stderr, "vessel-runc exec: %s\n", e.msg);
			_exit(126);
		}
		if (p.spec->terminal) {
			close(master);
			close(console_socket);
			p.tty_fd = slave;
		}
		process_exec(&p, &e);
		fprintf(stderr, "vessel-runc exec: %s\n", e.msg);
		_exit(e.errnum == ENOENT ? 127 : 126);
	}
	ready.errnum = (int)pid;	/* SYNC_READY carries the pid */
	sync_send(fd, SYNC_READY, &ready);
	_exit(0);
}

pid_t container_exec(struct ct *ct, const struct container_config *c,
		     const struct ct_spec *spec,
		     const struct ct_exec_opts *o, struct error *err)
{
	struct process_spec ps = {
		.c = c, .spec = spec, .tty_fd = -1,
		.detached = true, .preserve_fds = o->preserve_fds,
	};
	int fds[2] = { -1, -1 }, r = -1;
	const char *const *dirs;
	enum sync_kind kind;
	struct error msg;
	sigset_t mask;
	char val[32];
	pid_t helper_pid, pid = -1;
	size_t i, n;

	if (container_status(ct) != CT_RUNNING)
		return err_set(err, "container %s is %s, not running",
			       ct->name,
			       container_status_name(container_status(ct)));
	if (ct->pidfd < 0)
		return err_set(err, "container %s: no pidfd for its PID 1",
			       ct->name);
	sigprocmask(SIG_SETMASK, NULL, &mask);
	ps.sigmask = &mask;
	if (spec->terminal && o->console_socket < 0)
		return err_set(err, "process.terminal is true: "
			       "--console-socket is needed");
	if (sync_pair(fds, err) < 0)
		goto out;
	helper_pid = fork();
	if (helper_pid < 0) {
		err_sys(err, "fork");
		goto out;
	}
	if (helper_pid == 0) {
		close(fds[0]);
		helper(ct, fds[1], &ps, other_userns(ct->pid),
		       o->console_socket);
	}
	close(fds[1]);
	fds[1] = -1;
	/* The helper joins the cgroup first: its child inherits it. */
	snprintf(val, sizeof(val), "%d", (int)helper_pid);
	n = ct->cg ? cgroup_dirs(ct->cg, &dirs) : 0;
	for (i = 0; i < n; i++) {
		char path[4400];
		int fd;

		snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, val, strlen(val)) < 0) {
			err_sys(err, "joining the cgroup %s", dirs[i]);
			if (fd >= 0)
				close(fd);
			kill(helper_pid, SIGKILL);
			waitpid(helper_pid, NULL, 0);
			goto out;
		}
		close(fd);
	}
	sync_send(fds[0], SYNC_GO, NULL);
	r = sync_recv(fds[0], &kind, &msg, err);
	waitpid(helper_pid, NULL, 0);
	if (r == 0) {
		err_set(err, "the exec helper died");
	} else if (r > 0 && kind == SYNC_ERROR) {
		*err = msg;
		err_prefix(err, "exec");
	} else if (r > 0 && kind == SYNC_READY && msg.errnum > 0) {
		pid = msg.errnum;
	} else if (r > 0) {
		err_set(err, "exec: unexpected message from the helper");
	}
out:
	if (fds[0] >= 0)
		close(fds[0]);
	return pid;
}

/* The rescue shell: busybox sh on the console, in a session of its own
 * with the console as its controlling terminal (so Ctrl-C works). */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int rescue_shell_spawn(const char *tty, struct error *err)
{
	char path[64];
	sigset_t none;
	pid_t pid;
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", tty);
	pid = fork();
	if (pid < 0)
		return err_sys(err, "rescue shell: fork");
	if (pid > 0)
		return pid;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	fd = open(path, O_RDWR | O_NOCTTY);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 1) < 0) {
		fprintf(stderr, "vessel-init: rescue shell: %s: %s\n", path,
			strerror(errno));
		_exit(127);
	}
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	tcsetpgrp(0, getpid());
	chdir("/");
	fprintf(stderr, "vessel-init: rescue shell on %s (vessel ps, vessel "
		"logs NAME, vessel console NAME; vessel host poweroff)\n", tty);
	execl("/bin/sh", "-sh", (char *)NULL);
	fprintf(stderr, "vessel-init: rescue shell: /bin/sh: %s\n",
		strerror(errno));
	_exit(127);
}

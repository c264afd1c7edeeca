#include "pty.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int pty_open(int *master, int *slave, char *name, size_t len,
	     struct error *err)
{
	int m, s;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return err_sys(err, "opening a pty (posix_openpt)");
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, len)) {
		err_sys(err, "setting up the pty");
		close(m);
		return -1;
	}
	s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		err_sys(err, "opening %s", name);
		close(m);
		return -1;
	}
	*master = m;
	*slave = s;
	pty_resize(m);
	return 0;
}

void pty_resize(int master)
{
	struct winsize ws;

	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

int term_raw(int fd, struct termios *saved, struct error *err)
{
	struct termios t;

	if (tcgetattr(fd, saved) < 0)
		return err_sys(err, "reading the terminal settings");
	t = *saved;
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return err_sys(err, "putting the terminal in raw mode");
	return 0;
}

void term_restore(int fd, const struct termios *saved)
{
	tcsetattr(fd, TCSADRAIN, saved);
}

int pty_send_master(int sock, int master, struct error *err)
{
	char buf[CMSG_SPACE(sizeof(int))], name[] = "/dev/ptmx";
	struct iovec iov = { name, sizeof(name) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = buf,
			     .msg_controllen = sizeof(buf) };
	struct cmsghdr *cm;

	memset(buf, 0, sizeof(buf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return err_sys(err, "sending the terminal to --console-socket");
	return 0;
}

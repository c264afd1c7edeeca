/* The hardware watchdog (host.yaml watchdog:): /dev/watchdog armed with
 * the configured timeout, fed from init's loop while it runs, and closed
 * with the magic 'V' on a clean shutdown so the board is not reset. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int watchdog_open(struct watchdog *w, double timeout, struct error *err)
{
	int t = (int)ceil(timeout);

	w->fd = open("/dev/watchdog", O_WRONLY | O_CLOEXEC);
	if (w->fd < 0)
		return err_sys(err, "watchdog: /dev/watchdog");
	/* A driver that cannot take it keeps (and reports) its own. */
	if (ioctl(w->fd, WDIOC_SETTIMEOUT, &t) < 0)
		init_log("watchdog: cannot set a %d s timeout: %s", t,
			 strerror(errno));
	if (ioctl(w->fd, WDIOC_GETTIMEOUT, &t) < 0 || t <= 0)
		t = (int)ceil(timeout);
	w->timeout = t;
	watchdog_feed(w);
	return 0;
}

void watchdog_feed(struct watchdog *w)
{
	int dummy = 0;

	if (w->fd >= 0 && ioctl(w->fd, WDIOC_KEEPALIVE, &dummy) < 0)
		(void)!write(w->fd, "\0", 1);
}

void watchdog_close(struct watchdog *w)
{
	if (w->fd < 0)
		return;
	(void)!write(w->fd, "V", 1);
	close(w->fd);
	w->fd = -1;
}

/* `vessel init`: vessel as PID 1 of the appliance (issue #14).
 *
 * Boot: the API filesystems, the console, host.yaml, the hostname,
 * modules, lo and the bridges, the data partition, the watchdog, the
 * power button, the rescue shell, then the guests (started by a child
 * process, as `vessel up` would, so that init's loop keeps running).
 *
 * The loop: signalfd (SIGCHLD: reap every orphan and respawn the shell;
 * SIGUSR2 poweroff, SIGTERM reboot, SIGINT Ctrl-Alt-Del, SIGPWR), the
 * power button, and the watchdog's feeding on every wake-up.
 *
 * Shutdown: a child stops the guests in reverse order, as `vessel down`
 * does; then every process left gets SIGTERM, then SIGKILL; sync; /data
 * unmounted; the watchdog closed with its magic character; reboot(2).
 * PID 1 never returns: a fatal error logs, stops the guests, reboots. */
#include "init.h"
#include "../base/clock.h"
#include "../guest_set.h"
#include "../manage.h"
#include "../state.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_POWER_FDS 8
#define SHELL_RESPAWN_MS 1000
#define DATA_WAIT_S 10.0
#define KILL_GRACE_MS 3000

enum phase { PH_RUNNING, PH_STOPPING, PH_FINISHING };

static struct {
	struct host_config hc;
	struct watchdog wd;
	sigset_t sigs;
	int sfd;
	int power[MAX_POWER_FDS];
	size_t npower;
	pid_t shell, starter, stopper;
	long long shell_due;		/* ms: respawn then (0: no) */
	enum phase phase;
	int action;			/* RB_POWER_OFF or RB_AUTOBOOT */
	bool data_mounted;
} in = { .sfd = -1, .wd = { .fd = -1 } };

void init_log(const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line: the children log on the same console. */
	(void)!dprintf(2, "vessel-init: %.*s", n, buf);
}

/* fds 0-2 on the console device (host.yaml console:). */
static void open_console(const char *tty)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", tty);
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		init_log("console %s: %s", path, strerror(errno));
		return;
	}
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Waits (up to 2 s) until the console has sent what was written to it:
 * reboot(2) does not drain a tty, so the last lines would be lost (seen:
 * "powering off" never reached the serial console). */
static void drain_console(void)
{
	struct timespec ms10 = {.tv_nsec = 10 * 1000 * 1000};
	int queued;

	for (int i = 0; i < 200; i++) {
		if (ioctl(2, TIOCOUTQ, &queued) < 0 || queued <= 0)
			return;
		nanosleep(&ms10, NULL);
	}
}

/* Nothing can be stopped yet (or anymore): straight to reboot(2). */
static __attribute__((noreturn)) void final_reboot(int action)
{
	sync();
	init_log("%s", action == RB_POWER_OFF ? "powering off" : "rebooting");
	drain_console();
	reboot(action);
	init_log("reboot: %s", strerror(errno));
	for (;;)
		pause();
}

/* A child of init with the signal mask and dispositions of a fresh
 * process (supervisors and shells inherit them). */
static pid_t fork_child(void)
{
	pid_t pid = fork();
	sigset_t none;

	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	return pid;
}

/* ---- the guests ---- */

static void report(enum guest_event ev, const char *name, pid_t pid,
		   const char *msg)
{
	(void)pid;
	switch (ev) {
	case GUEST_STARTED:
		init_log("started %s", name);
		break;
	case GUEST_ALREADY:
		init_log("%s: already running", name);
		break;
	case GUEST_STOPPED:
		init_log("stopped %s", name);
		break;
	case GUEST_FAILED:
		if (name)
			init_log("%s: %s", name, msg);
		else
			init_log("%s", msg);
		break;
	}
}

static __attribute__((noreturn)) void start_guests(void)
{
	struct guest_set s;
	size_t failed;

	if (guest_set_load(INIT_GUESTS_DIR, true, &s, report) < 0) {
		init_log("up: definitions have errors: no guest started");
		_exit(2);
	}
	failed = guest_set_up(&s, report);
	init_log("up: %zu guests", s.n - failed);
	guest_set_free(&s);
	_exit(failed ? 1 : 0);
}

/* The set in reverse order, then whatever else was started (from the
 * rescue shell). */
static __attribute__((noreturn)) void stop_guests(void)
{
	struct guest_set s = { 0 };
	struct error err;
	char **names;
	size_t n;

	if (guest_set_load(INIT_GUESTS_DIR, true, &s, report) == 0) {
		guest_set_down(&s, STOP_TIMEOUT_DEFAULT, false, report);
		guest_set_free(&s);
	}
	if (state_list(&names, &n, &err) == 0) {
		for (size_t i = n; i-- > 0;) {
			if (!guest_running(names[i]))
				continue;
			if (guest_stop(names[i], STOP_TIMEOUT_DEFAULT, false,
				       &err) < 0)
				init_log("%s", err.msg);
			else
				init_log("stopped %s", names[i]);
		}
		state_list_free(names, n);
	}
	_exit(0);
}

/* ---- shutdown ---- */

static void begin_shutdown(int action, const char *why)
{
	if (in.phase != PH_RUNNING) {
		init_log("%s: already shutting down", why);
		if (action == RB_AUTOBOOT || in.action == RB_AUTOBOOT)
			in.action = action;
		return;
	}
	in.phase = PH_STOPPING;
	in.action = action;
	init_log("%s: stopping guests", why);
	if (in.starter > 0)
		kill(in.starter, SIGKILL);
	in.shell_due = 0;
	in.stopper = fork_child();
	if (in.stopper == 0)
		stop_guests();
	if (in.stopper < 0) {
		init_log("fork: %s", strerror(errno));
		in.stopper = 0;
	}
}

static void reap_all(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == in.shell) {
			/* The shell led the console's session: its end hung
			 * up every open file of the tty, init's too. */
			open_console(in.hc.console);
			in.shell = 0;
			if (in.phase == PH_RUNNING)
				in.shell_due = now_ms() + SHELL_RESPAWN_MS;
		} else if (pid == in.starter) {
			in.starter = 0;
		} else if (pid == in.stopper) {
			in.stopper = 0;
		}
	}
}

static __attribute__((noreturn)) void finish_shutdown(void)
{
	struct error err;
	long long end;

	in.phase = PH_FINISHING;
	/* Guests are down; what is left (the shell, strays) goes too. */
	kill(-1, SIGTERM);
	for (end = now_ms() + KILL_GRACE_MS; now_ms() < end;) {
		reap_all();
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		watchdog_feed(&in.wd);
		usleep(50 * 1000);
	}
	kill(-1, SIGKILL);
	/* Every process is init's child by now: wait until they are all
	 * gone, the rescue shell included, whose end hangs up the console
	 * (init's fds too): then open it again. */
	for (end = now_ms() + KILL_GRACE_MS; now_ms() < end;) {
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		usleep(20 * 1000);
	}
	open_console(in.hc.console);
	sync();
	if (in.data_mounted) {
		if (init_umount(INIT_DATA_DIR, &err) < 0)
			init_log("data: %s", err.msg);
		else
			init_log("data: unmounted");
	}
	watchdog_close(&in.wd);
	final_reboot(in.action);
}

/* ---- the loop ---- */

static void on_signal(const struct signalfd_siginfo *si)
{
	switch (si->ssi_signo) {
	case SIGCHLD:
		reap_all();
		break;
	case SIGUSR2:
		begin_shutdown(RB_POWER_OFF, "poweroff requested");
		break;
	case SIGPWR:
		begin_shutdown(RB_POWER_OFF, "power failure");
		break;
	case SIGTERM:
		begin_shutdown(RB_AUTOBOOT, "reboot requested");
		break;
	case SIGINT:
		begin_shutdown(RB_AUTOBOOT, "ctrl-alt-del");
		break;
	default:
		break;
	}
}

static int poll_timeout(void)
{
	long long t = in.wd.fd >= 0 ? in.wd.timeout * 1000LL / 3 : 60000;

	if (in.shell_due) {
		long long left = in.shell_due - now_ms();

		if (left < t)
			t = left < 0 ? 0 : left;
	}
	return (int)t;
}

static void spawn_shell(void)
{
	struct error err;
	int pid;

	in.shell_due = 0;
	pid = rescue_shell_spawn(in.hc.console, &err);
	if (pid < 0) {
		init_log("%s", err.msg);
		in.shell_due = now_ms() + 10 * SHELL_RESPAWN_MS;
		return;
	}
	in.shell = pid;
}

static __attribute__((noreturn)) void loop(void)
{
	struct pollfd pfd[1 + MAX_POWER_FDS];
	struct signalfd_siginfo si;
	int bad_polls = 0;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = in.sfd, .events = POLLIN };
		for (size_t i = 0; i < in.npower; i++)
			pfd[1 + i] = (struct pollfd){ .fd = in.power[i],
						      .events = POLLIN };
		if (poll(pfd, 1 + in.npower, poll_timeout()) < 0 &&
		    errno != EINTR && ++bad_polls > 100) {
			init_log("fatal: poll: %s", strerror(errno));
			begin_shutdown(RB_AUTOBOOT, "fatal error");
		}
		watchdog_feed(&in.wd);
		if (pfd[0].revents & POLLIN)
			while (read(in.sfd, &si, sizeof(si)) == sizeof(si))
				on_signal(&si);
		for (size_t i = 0; i < in.npower; i++)
			if ((pfd[1 + i].revents & POLLIN) &&
			    power_pressed(in.power[i]))
				begin_shutdown(RB_POWER_OFF, "power button");
		reap_all();
		if (in.phase == PH_STOPPING && !in.stopper)
			finish_shutdown();
		if (in.phase == PH_RUNNING && in.shell_due &&
		    now_ms() >= in.shell_due)
			spawn_shell();
	}
}

/* ---- boot ---- */

static void boot_fatal(const char *what, const struct error *err)
{
	init_log("fatal: %s: %s", what, err->msg);
	final_reboot(RB_AUTOBOOT);	/* no guest runs yet */
}

static void load_host_config(void)
{
	struct error err;

	if (host_config_load(INIT_HOST_YAML, &in.hc, &err) == 0)
		return;
	/* Refusing to boot would not fix the file: boot with the defaults
	 * and let the rescue shell in. */
	init_log("%s; booting with the defaults", err.msg);
	if (host_config_load("/dev/null", &in.hc, &err) < 0)
		boot_fatal("host.yaml defaults", &err);
}

static void setup_signals(void)
{
	struct error err;

	sigemptyset(&in.sigs);
	sigaddset(&in.sigs, SIGCHLD);
	sigaddset(&in.sigs, SIGUSR2);
	sigaddset(&in.sigs, SIGTERM);
	sigaddset(&in.sigs, SIGINT);
	sigaddset(&in.sigs, SIGPWR);
	sigaddset(&in.sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &in.sigs, NULL);
	in.sfd = signalfd(-1, &in.sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (in.sfd < 0) {
		err_sys(&err, "signalfd");
		boot_fatal("signals", &err);
	}
	/* Ctrl-Alt-Del: SIGINT to PID 1 rather than an instant reboot. */
	reboot(RB_DISABLE_CAD);
}

static void setup_host(void)
{
	struct error err;
	int r;

	if (sethostname(in.hc.hostname, strlen(in.hc.hostname)) < 0)
		init_log("hostname %s: %s", in.hc.hostname, strerror(errno));
	else
		init_log("hostname %s", in.hc.hostname);
	if (init_modules(&in.hc, &err) < 0)
		init_log("modules: %s", err.msg);
	if (init_net(&in.hc, &err) < 0)
		init_log("network: %s", err.msg);
	/* host.yaml without data: has no data partition to look for. */
	r = in.hc.data_size ? init_data(DATA_WAIT_S, &err) : 1;
	if (r < 0)
		init_log("data: %s", err.msg);
	else if (r > 0 && in.hc.data_size)
		init_log("data: no ext4 filesystem labelled %s", INIT_DATA_LABEL);
	in.data_mounted = r == 0;
	if (in.hc.watchdog > 0) {
		if (watchdog_open(&in.wd, in.hc.watchdog, &err) < 0)
			init_log("%s", err.msg);
		else
			init_log("watchdog: %d s", in.wd.timeout);
	}
	in.npower = power_open("/dev/input", in.power, MAX_POWER_FDS);
	init_log("power button: %s", in.npower ? "ready" : "none found");
}

int init_main(int argc, char **argv)
{
	struct error err;

	(void)argc;
	(void)argv;
	umask(022);
	if (chdir("/") < 0)
		(void)0;
	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/", 0);
	if (init_root_bind(&err) < 0)
		init_log("%s (containers may not start)", err.msg);
	if (init_mount_all(&err) < 0)
		boot_fatal("mounts", &err);
	load_host_config();
	open_console(in.hc.console);
	init_log("vessel as PID 1 on %s", in.hc.console);
	setup_signals();
	setup_host();
	if (in.hc.rescue_shell)
		spawn_shell();
	in.starter = fork_child();
	if (in.starter == 0)
		start_guests();
	if (in.starter < 0) {
		in.starter = 0;
		init_log("fatal: fork: %s", strerror(errno));
		begin_shutdown(RB_AUTOBOOT, "fatal error");
	}
	loop();
}

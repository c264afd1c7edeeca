/* The supervisor of a started guest: launching it detached, running the
 * guest, and the guest-specific side of the control operations. */
#include "supervisor.h"
#include "clock.h"
#include "ctl_server.h"
#include "../container/freezer.h"
#include "control.h"
#include "state.h"
#include "../container/container.h"
#include "../vmm/machine/machine.h"
#include "../vmm/machine/snapshot.h"
#include "fdio.h"

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
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

enum sv_state { SV_STARTING, SV_RUNNING, SV_PAUSED, SV_STOPPING, SV_EXITED };

static const char *const state_names[] = {
	[SV_STARTING] = "starting", [SV_RUNNING] = "running",
	[SV_PAUSED] = "paused", [SV_STOPPING] = "stopping",
	[SV_EXITED] = "exited",
};

struct sv {
	const struct guest_config *cfg;
	bool vm;
	char *definition;               /* cfg->path, absolute */
	pthread_mutex_t lock;           /* everything below */
	enum sv_state state;
	long long started_ms;           /* CLOCK_MONOTONIC, when running */
	time_t started_wall;
	int status_fd;                  /* to `vessel start`; -1 once told */
	long long deadline_ms;          /* hard stop then; 0: none */
	struct vm_control vmc;          /* VM */
	pid_t runner;                   /* container: runs container_run() */
	pid_t pid1;                     /* container: its PID 1, once exec'd */
	int pidfd1;
	int console_fd;                 /* our end of the console input */
	struct stat self_exe;
	struct ctl_server *srv;
	const char *restore;            /* VM: continue this snapshot */
};

/* Tell `vessel start` how it went, once. With sv->lock held. */
static void report(struct sv *sv, const char *error)
{
	if (sv->status_fd < 0)
		return;
	if (error)
		dprintf(sv->status_fd, "error %s\n", error);
	else
		dprintf(sv->status_fd, "ok %d\n", (int)getpid());
	close(sv->status_fd);
	sv->status_fd = -1;
}

/* With sv->lock held. */
static void set_running(struct sv *sv)
{
	sv->state = SV_RUNNING;
	sv->started_ms = now_ms();
	sv->started_wall = time(NULL);
	report(sv, NULL);
}

static void on_vm_started(void *opaque)
{
	struct sv *sv = opaque;

	pthread_mutex_lock(&sv->lock);
	if (sv->state == SV_STARTING)
		set_running(sv);
	pthread_mutex_unlock(&sv->lock);
}

/* ---- containers: finding PID 1 ----------------------------------------- */

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
static pid_t find_pid1(const struct sv *sv)
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
		    parent_of(de->d_name) != sv->runner)
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/exe", de->d_name);
		if (stat(path, &st) == 0 && (st.st_dev != sv->self_exe.st_dev ||
					     st.st_ino != sv->self_exe.st_ino))
			found = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return found;
}

static void ct_signal(struct sv *sv, int sig)
{
	if (sv->pidfd1 >= 0)
		syscall(SYS_pidfd_send_signal, sv->pidfd1, sig, NULL, 0);
}

/* ---- control operations (server thread) -------------------------------- */

/* With sv->lock held. */
static void hard_stop(struct sv *sv)
{
	struct error ignored;

	sv->deadline_ms = 0;
	sv->state = SV_STOPPING;
	if (sv->vm) {
		vm_control_stop(&sv->vmc);
		return;
	}
	freezer_set(sv->cfg->name, sv->pid1, false, &ignored);
	ct_signal(sv, SIGKILL);
}

static void op_tick(void *opaque)
{
	struct sv *sv = opaque;
	pid_t pid;

	pthread_mutex_lock(&sv->lock);
	if (!sv->vm && sv->state == SV_STARTING && (pid = find_pid1(sv)) > 0) {
		sv->pid1 = pid;
		sv->pidfd1 = syscall(SYS_pidfd_open, pid, 0);
		set_running(sv);
	}
	if (sv->deadline_ms && now_ms() >= sv->deadline_ms) {
		ctl_server_note(sv->srv, "stop timeout: stopping it hard");
		hard_stop(sv);
	}
	pthread_mutex_unlock(&sv->lock);
}

static void op_status(void *opaque, struct json_object *o)
{
	struct sv *sv = opaque;
	const struct guest_config *cfg = sv->cfg;

	pthread_mutex_lock(&sv->lock);
	json_object_object_add(o, "name", json_object_new_string(cfg->name));
	json_object_object_add(o, "kind", json_object_new_string(sv->vm ?
							"vm" : "container"));
	json_object_object_add(o, "state",
			       json_object_new_string(state_names[sv->state]));
	if (sv->vm) {
		json_object_object_add(o, "vcpus", json_object_new_int(cfg->vm.vcpus));
		json_object_object_add(o, "memory",
				       json_object_new_int64(cfg->vm.memory));
	} else {
		json_object_object_add(o, "cpus", json_object_new_double(cfg->ct.cpus));
		json_object_object_add(o, "memory",
				       json_object_new_int64(cfg->ct.memory));
	}
	json_object_object_add(o, "uptime", json_object_new_int64(sv->started_ms ?
				(now_ms() - sv->started_ms) / 1000 : 0));
	json_object_object_add(o, "started", json_object_new_int64(sv->started_wall));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "definition", json_object_new_string(
				       sv->definition ? sv->definition : cfg->path));
	pthread_mutex_unlock(&sv->lock);
}

/* With sv->lock held. */
static int check_started(struct sv *sv, struct error *err)
{
	if (sv->state == SV_STARTING)
		return err_set(err, "%s is still starting", sv->cfg->name);
	if (sv->state == SV_EXITED)
		return err_set(err, "%s has stopped", sv->cfg->name);
	return 0;
}

static int op_stop(void *opaque, double timeout, bool force, struct error *err)
{
	struct sv *sv = opaque;
	long long deadline = now_ms() + (long long)(timeout * 1000);
	char note[128];
	int r = 0;

	pthread_mutex_lock(&sv->lock);
	if (check_started(sv, err) < 0) {
		pthread_mutex_unlock(&sv->lock);
		return -1;
	}
	if (force || timeout == 0) {
		ctl_server_note(sv->srv, "stop --force: stopping it now");
		hard_stop(sv);
		pthread_mutex_unlock(&sv->lock);
		return 0;
	}
	if (sv->vm) {
		if (sv->state == SV_PAUSED)
			vm_control_pause(&sv->vmc, false);
		r = vm_control_power_button(&sv->vmc);
		snprintf(note, sizeof(note), "stop: power button pressed%s; hard "
			 "stop in %g s", r == 0 ? " (the guest has not enabled "
			 "it)" : "", timeout);
	} else {
		if (sv->state == SV_PAUSED)
			freezer_set(sv->cfg->name, sv->pid1, false, err);
		ct_signal(sv, SIGTERM);
		snprintf(note, sizeof(note), "stop: SIGTERM sent to PID 1; "
			 "SIGKILL in %g s", timeout);
	}
	ctl_server_note(sv->srv, note);
	sv->state = SV_STOPPING;
	if (!sv->deadline_ms || deadline < sv->deadline_ms)
		sv->deadline_ms = deadline;
	pthread_mutex_unlock(&sv->lock);
	return 0;
}

static int op_pause(void *opaque, bool pause, struct error *err)
{
	struct sv *sv = opaque;
	int r = 0;

	pthread_mutex_lock(&sv->lock);
	if (check_started(sv, err) < 0) {
		r = -1;
	} else if (sv->state == SV_STOPPING) {
		r = err_set(err, "%s is stopping", sv->cfg->name);
	} else if (pause != (sv->state == SV_PAUSED)) {
		if (sv->vm && vm_control_pause(&sv->vmc, pause) < 0)
			r = err_set(err, "%s is between two boots; try again",
				    sv->cfg->name);
		else if (!sv->vm)
			r = freezer_set(sv->cfg->name, sv->pid1, pause, err);
		if (r == 0)
			sv->state = pause ? SV_PAUSED : SV_RUNNING;
	}
	pthread_mutex_unlock(&sv->lock);
	return r;
}

/* Copy the definition the guest runs (RUN/NAME/guest.yaml) to path. */
static int copy_file(const char *from, const char *to, struct error *err)
{
	char buf[65536];
	int in, out, ret = -1;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_sys(err, "opening %s", from);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		err_sys(err, "creating %s", to);
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, n) < 0)
			break;
	if (n == 0 && fsync(out) == 0)
		ret = 0;
	else
		err_sys(err, "copying %s to %s", from, to);
	close(in);
	close(out);
	return ret;
}

static int op_snapshot(void *opaque, const char *dir, bool stop, bool compress,
		       struct error *err)
{
	struct sv *sv = opaque;
	struct vm_snapshot_opts o = {
		.dir = dir, .compress = compress, .config_dir = sv->cfg->dir,
	};
	char def[STATE_PATH_MAX], conf[4200];
	int r;

	pthread_mutex_lock(&sv->lock);
	r = check_started(sv, err);
	if (r == 0 && sv->state == SV_STOPPING)
		r = err_set(err, "%s is stopping", sv->cfg->name);
	pthread_mutex_unlock(&sv->lock);
	if (r < 0)
		return -1;
	if (!sv->vm)
		return err_set(err, "a container has no snapshots");
	snprintf(conf, sizeof(conf), "%s/" SNAPSHOT_CONFIG, dir);
	if (state_path(def, sizeof(def), sv->cfg->name, STATE_DEF, err) < 0 ||
	    copy_file(def, conf, err) < 0)
		return -1;
	if (vm_control_snapshot(&sv->vmc, &o, stop, err) < 0) {
		unlink(conf);
		return -1;
	}
	ctl_server_note(sv->srv, stop ? "snapshot taken; stopping" :
			"snapshot taken");
	if (stop) {
		pthread_mutex_lock(&sv->lock);
		sv->state = SV_STOPPING;
		pthread_mutex_unlock(&sv->lock);
	}
	return 0;
}

/* A container's console is a pty: pass the client's size on. */
static void op_resize(void *opaque, unsigned rows, unsigned cols)
{
	struct sv *sv = opaque;
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	if (sv->vm)
		return;
	ioctl(sv->console_fd, TIOCSWINSZ, &ws);
	kill(sv->runner, SIGWINCH);     /* container_run() copies it inward */
}

static const struct ctl_ops sv_ops = {
	.status = op_status, .stop = op_stop, .pause = op_pause,
	.snapshot = op_snapshot, .resize = op_resize, .tick = op_tick,
};

/* ---- the supervisor process -------------------------------------------- */

static const char *vm_outcome(const struct vm_run_result *res, char *buf,
			      size_t len)
{
	switch (res->result) {
	case VM_RESULT_POWEROFF:
		return "the guest powered off";
	case VM_RESULT_REBOOT:
		return "the guest rebooted (on_reboot: exit)";
	case VM_RESULT_CRASH:
		return "the guest crashed";
	case VM_RESULT_STOPPED:
		break;
	}
	if (res->stop_signal)
		snprintf(buf, len, "the guest was stopped by signal %d",
			 res->stop_signal);
	else
		snprintf(buf, len, "the guest was stopped");
	return buf;
}

static int start_server(struct sv *sv, int listen_fd, int out_fd,
			struct error *err)
{
	char log[STATE_PATH_MAX];
	struct ctl_server_params p = {
		.listen_fd = listen_fd, .owner = getuid(), .out_fd = out_fd,
		.in_fd = sv->console_fd, .log_path = log, .ops = &sv_ops,
		.opaque = sv,
	};

	if (state_path(log, sizeof(log), sv->cfg->name, STATE_LOG, err) < 0)
		return -1;
	return ctl_server_start(&sv->srv, &p, err);
}

/* Runs the VM; returns a line for the console, or -1 with err. */
static int run_vm(struct sv *sv, int listen_fd, char *msg, size_t len,
		  struct error *err)
{
	struct vm_config vmcfg = sv->cfg->vm;
	struct vm_snapshot snap;
	struct vm_run_result res;
	struct vm_run_opts opts;
	int in[2], out[2], r, saved_err;

	if (pipe2(in, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return err_sys(err, "pipe");
	}
	sv->console_fd = in[1];
	vm_control_init(&sv->vmc, on_vm_started, sv);
	if (start_server(sv, listen_fd, out[0], err) < 0) {
		close(in[0]);
		close(out[1]);
		return -1;
	}
	opts = (struct vm_run_opts){ .in_fd = in[0], .out_fd = out[1],
				     .control = &sv->vmc };
	vmcfg.name = sv->cfg->name;
	if (sv->restore) {
		if (vm_snapshot_open(&snap, sv->restore, err) < 0 ||
		    vm_snapshot_check(&snap, &vmcfg, err) < 0) {
			vm_snapshot_close(&snap);
			close(in[0]);
			close(out[1]);
			return -1;
		}
		opts.restore = &snap;
	}
	/* What the VMM itself reports while the guest runs (a crash's
	 * register dump, warnings) joins the console stream: `vessel logs`
	 * and an attached console show it. */
	saved_err = dup(2);
	dup2(out[1], 2);
	r = vm_run(&vmcfg, &opts, &res, err);
	if (sv->restore)
		vm_snapshot_close(&snap);
	if (saved_err >= 0) {
		dup2(saved_err, 2);
		close(saved_err);
	}
	close(in[0]);
	close(out[1]);          /* the pump sees the end of the output */
	if (r == 0) {
		char buf[64];

		snprintf(msg, len, "%s", vm_outcome(&res, buf, sizeof(buf)));
	}
	return r;
}

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

/* Close every fd from 3 up except the sorted keep[]. */
static void close_except(const int *keep, int n)
{
	unsigned lo = 3;

	for (int i = 0; i < n; i++) {
		if ((unsigned)keep[i] > lo)
			close_range(lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	close_range(lo, ~0U, 0);
}

/* The runner: container_run() in a process of its own, forked before
 * the supervisor starts threads (the container's setup forks, and a fork
 * of a threaded process may inherit a lock some other thread held).
 * Its stdin and stdout are the console pty's slave. Exits with the
 * container's status; an error message goes to errfd first. */
static void __attribute__((noreturn)) runner(const struct sv *sv, pid_t parent,
					     const sigset_t *mask, int errfd)
{
	struct error err;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
	prctl(PR_SET_NAME, "vessel-runner", 0, 0, 0);
	/* PID 1 inherits this mask: the ordinary one. container_run()
	 * blocks the signals it forwards itself. */
	sigprocmask(SIG_SETMASK, mask, NULL);
	err_clear(&err);
	r = container_run(sv->cfg, &err);
	if (r < 0 && write(errfd, err.msg, strlen(err.msg)) < 0)
		_exit(255);
	_exit(r < 0 ? 255 : r);
}

/* Wait for the runner, passing on the signals meant for the container. */
static int wait_runner(pid_t pid, const sigset_t *sigs)
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
		    read(p[1].fd, &si, sizeof(si)) == sizeof(si))
			kill(pid, si.ssi_signo);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (p[0].fd >= 0)
		close(p[0].fd);
	if (p[1].fd >= 0)
		close(p[1].fd);
	return st;
}

static int run_container(struct sv *sv, int listen_fd, const sigset_t *old,
			 const sigset_t *blocked, char *msg, size_t len,
			 struct error *err)
{
	int master = -1, null, ep[2], st;
	char buf[sizeof(err->msg)];
	ssize_t n;

	if (console_pty(&master, err) < 0)
		return -1;
	sv->console_fd = master;
	if (pipe2(ep, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	sv->runner = fork();
	if (sv->runner < 0)
		return err_sys(err, "fork");
	if (sv->runner == 0) {
		/* Nothing of the supervisor's: the lock, the socket, the
		 * status pipe, the pty master. */
		close_except(&ep[1], 1);
		runner(sv, getppid(), old, ep[1]);
	}
	close(ep[1]);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	dup2(null, 0);          /* the runner has the slave: the pump sees */
	dup2(null, 1);          /* EIO once the runner is gone */
	close(null);
	if (start_server(sv, listen_fd, master, err) < 0) {
		kill(sv->runner, SIGKILL);
		wait_runner(sv->runner, blocked);
		close(ep[0]);
		return -1;
	}
	st = wait_runner(sv->runner, blocked);
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
	return 0;
}

static void sort3(int *v)
{
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (v[j] < v[i]) {
				int t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
}

static void become_daemon(const char *name, int lock_fd, int listen_fd,
			  int status_fd)
{
	int keep[3] = { lock_fd, listen_fd, status_fd }, null;
	char comm[16], path[STATE_PATH_MAX];
	struct error ignored;
	FILE *f;

	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	sort3(keep);
	close_except(keep, 3);
	if (chdir("/") < 0) {
		/* config paths are absolute: the directory does not matter */
	}
	umask(077);
	snprintf(comm, sizeof(comm), "vessel:%s", name);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (state_path(path, sizeof(path), name, STATE_PID, &ignored) == 0 &&
	    (f = fopen(path, "we"))) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

static void __attribute__((noreturn)) supervise(const struct guest_config *cfg,
						const char *restore,
						int lock_fd, int listen_fd,
						int status_fd)
{
	struct sv sv = {
		.cfg = cfg, .vm = cfg->kind == GUEST_VM, .status_fd = status_fd,
		.pidfd1 = -1, .console_fd = -1, .restore = restore,
	};
	sigset_t block, old;
	struct error err;
	char msg[256] = "";
	int r;

	err_clear(&err);
	sv.definition = realpath(cfg->path, NULL);
	become_daemon(cfg->name, lock_fd, listen_fd, status_fd);
	pthread_mutex_init(&sv.lock, NULL);
	stat("/proc/self/exe", &sv.self_exe);
	/* The control and console threads never take signals. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (sv.vm)
		r = run_vm(&sv, listen_fd, msg, sizeof(msg), &err);
	else
		r = run_container(&sv, listen_fd, &old, &block, msg, sizeof(msg),
				  &err);
	pthread_mutex_lock(&sv.lock);
	sv.state = SV_EXITED;
	sv.deadline_ms = 0;
	pthread_mutex_unlock(&sv.lock);
	if (sv.srv) {
		ctl_server_note(sv.srv, r < 0 ? err.msg : msg);
		ctl_server_finish(sv.srv);      /* closes listen_fd */
	} else {
		close(listen_fd);
	}
	if (!sv.vm)
		freezer_remove(cfg->name);
	state_remove(cfg->name);
	pthread_mutex_lock(&sv.lock);
	/* Failed before it ran, or (a quick container) ran and ended. */
	report(&sv, r < 0 ? err.msg : NULL);
	pthread_mutex_unlock(&sv.lock);
	_exit(r < 0 ? 1 : 0);
}

/* ---- `vessel start` ----------------------------------------------------- */

static int copy_definition(const struct guest_config *cfg, struct error *err)
{
	char path[STATE_PATH_MAX], buf[65536];
	int in, out = -1, ret = -1;
	ssize_t n;

	if (state_path(path, sizeof(path), cfg->name, STATE_DEF, err) < 0)
		return -1;
	in = open(cfg->path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_sys(err, "opening %s", cfg->path);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		err_sys(err, "creating %s", path);
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			err_sys(err, "writing %s", path);
			goto out;
		}
	if (n < 0) {
		err_sys(err, "reading %s", cfg->path);
		goto out;
	}
	ret = 0;
out:
	close(in);
	if (out >= 0)
		close(out);
	return ret;
}

static int listen_socket(const char *name, struct error *err)
{
	struct sockaddr_un sa;
	const char *path = sa.sun_path;
	int fd;

	if (control_addr(name, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(err, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, SOMAXCONN) < 0) {
		err_sys(err, "control socket %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the supervisor's "ok PID" or "error MESSAGE" (or end-of-file). */
static int read_status(int fd, pid_t *pid, struct error *err)
{
	char buf[sizeof(err->msg) + 16];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!strncmp(buf, "ok ", 3)) {
		*pid = (pid_t)atoi(buf + 3);
		return 0;
	}
	if (!strncmp(buf, "error ", 6))
		return err_set(err, "%s", buf + 6);
	return err_set(err, "the supervisor died while starting the guest");
}

int supervisor_start(const struct guest_config *cfg, const char *restore,
		     pid_t *pid, struct error *err)
{
	int lock_fd, listen_fd, st[2], ret, fd;
	pid_t child, g;

	/* With stdin, stdout or stderr closed, the lock or the socket could
	 * land on 0..2, which the supervisor points at /dev/null. */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if (state_claim(cfg->name, &lock_fd, err) < 0)
		return -1;
	if (copy_definition(cfg, err) < 0 ||
	    (listen_fd = listen_socket(cfg->name, err)) < 0)
		goto fail;
	if (pipe2(st, O_CLOEXEC) < 0) {
		err_sys(err, "pipe");
		close(listen_fd);
		goto fail;
	}
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child == 0) {
		close(st[0]);
		setsid();
		g = fork();
		if (g != 0)
			_exit(g < 0);
		supervise(cfg, restore, lock_fd, listen_fd, st[1]);
	}
	close(st[1]);
	close(listen_fd);
	close(lock_fd);
	if (child < 0) {
		close(st[0]);
		err_sys(err, "fork");
		state_remove(cfg->name);
		return -1;
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	ret = read_status(st[0], pid, err);
	close(st[0]);
	if (ret < 0)
		state_probe(cfg->name, &(struct error){ 0 }); /* clean if dead */
	return ret;
fail:
	close(lock_fd);
	state_remove(cfg->name);
	return -1;
}

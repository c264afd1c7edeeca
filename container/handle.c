/* The container handle (handle.h): checks, setup on the host, the
 * child's setup steps in order up to the sync point, then start, kill,
 * pause, wait and destroy. Parent and child synchronise over a
 * socketpair (sync.h); every failure in the child is reported back with
 * its message. */
#include "handle.h"
#include "cgroup.h"
#include "ct.h"
#include "ct_state.h"
#include "freezer.h"
#include "idmap.h"
#include "janitor.h"
#include "seccomp_cache.h"
#include "namespaces.h"
#include "oci_hooks.h"
#include "process.h"
#include "pty.h"
#include "rmtree.h"
#include "rootfs.h"
#include "supervise.h"
#include "sync.h"
#include "tarball.h"
#include "veth.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_WAIT_MS 10000

static int check_rootfs(const struct ct *ct, struct error *err)
{
	const char *rootfs = ct->c->rootfs;
	struct stat st;

	if (!rootfs || !*rootfs)
		return err_set(err, "rootfs: not set");
	if (stat(rootfs, &st) < 0)
		return err_sys(err, "rootfs '%s'", rootfs);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return err_set(err, "rootfs '%s' is neither a directory nor a "
			       ".tar/.tar.gz archive", rootfs);
	if (S_ISDIR(st.st_mode) && ct->c->userns)
		return idmap_check_rootfs(rootfs, err);
	return 0;
}

static int preflight(const struct ct *ct, struct error *err)
{
	const struct container_config *c = ct->c;
	struct stat st;
	size_t i;

	if (geteuid() != 0)
		return err_set(err, c->userns ?
			       "containers need root: even with userns: true, "
			       "vessel writes a 65536-id map (container 0-65535 "
			       "-> host 100000-165535), which only root may do; "
			       "run vessel as root" :
			       "containers need root (namespaces, mounts, "
			       "cgroups); run vessel as root");
	if (!c->ncommand || !c->command || !c->command[0])
		return err_set(err, "command: empty");
	if (ct->hostname && strlen(ct->hostname) > 64)
		return err_set(err, "hostname: longer than 64 characters");
	if (check_rootfs(ct, err) < 0)
		return -1;
	for (i = 0; i < c->nmounts; i++) {
		if (stat(c->mounts[i].source, &st) < 0)
			return err_sys(err, "mounts[%zu].source '%s'", i,
				       c->mounts[i].source);
		if (!c->mounts[i].target || c->mounts[i].target[0] != '/')
			return err_set(err, "mounts[%zu].target must be an "
				       "absolute path", i);
	}
	for (i = 0; i < c->nnets; i++)
		if (veth_check_bridge(c->nets[i].bridge, err) < 0)
			return -1;
	return 0;
}

int ct_cleanup(struct ct *ct, struct error *err)
{
	char name[IF_NAMESIZE];
	struct error e2;
	int ret = 0;
	size_t i;

	if (ct->cg) {
		if (cgroup_destroy(ct->cg, err) < 0)
			ret = -1;
		else {
			cgroup_free(ct->cg);
			ct->cg = NULL;
		}
	}
	for (i = 0; ct->c && ct->veth_pid && i < ct->c->nnets; i++) {
		veth_host_name(name, sizeof(name), ct->veth_pid, i);
		if (veth_delete(name, ret ? &e2 : err) < 0)
			ret = -1;
	}
	ct->veth_pid = 0;
	if (ct->unpack_dir && ct->cg) {
		/* The cgroup still has processes, which may be in the tree. */
		if (!ret)
			ret = err_set(err, "not removing %s: the container's "
				      "cgroup still has processes",
				      ct->unpack_dir);
	} else if (ct->unpack_dir) {
		if (rmtree(ct->unpack_dir, ret ? &e2 : err) < 0)
			ret = -1;
		free(ct->unpack_dir);
		free(ct->unpack_root);
		ct->unpack_dir = ct->unpack_root = NULL;
	}
	return ret;
}

static bool create_hooks(const struct ct_spec *s)
{
	return s->hooks && (s->hooks->n[HOOK_PRESTART] ||
			    s->hooks->n[HOOK_CREATE_RUNTIME]);
}

static bool has_hooks(const struct ct_spec *s, enum oci_hook_stage stage)
{
	return s->hooks && s->hooks->n[stage];
}

/* Creator: SYNC_GO or SYNC_DETACH to the child, with what the state its
 * hooks get needs and it cannot know: the container's PID as the host
 * sees it (the child is 1 in its namespace) and the created time. */
static int send_child(struct ct *ct, enum sync_kind kind)
{
	struct error m;

	err_clear(&m);
	snprintf(m.msg, sizeof(m.msg), "%d %s", (int)ct->pid,
		 ct->created ? ct->created : "");
	return sync_send(ct->sock, kind, &m);
}

/* Child: the creator's next message (send_child); 1, or 0 at
 * end-of-file, -1 on failure. */
static int child_recv(struct ct *ct, enum sync_kind *kind,
		      struct error *err)
{
	char created[64] = "";
	struct error m;
	int pid, r;

	r = sync_recv(ct->child_sock, kind, &m, err);
	if (r == 1 && sscanf(m.msg, "%d %63s", &pid, created) >= 1 &&
	    pid > 0) {
		ct->pid = pid;
		if (created[0]) {
			free(ct->created);
			ct->created = strdup(created);
		}
	}
	return r;
}

/* Child: the stage's hooks, in the container's namespaces, with the
 * state the creator's hooks get. */
static int child_hooks(struct ct *ct, enum oci_hook_stage stage,
		       const char *status, struct error *err)
{
	char *state;
	int r;

	if (!has_hooks(ct->spec, stage))
		return 0;
	state = ct_state_oci_text(ct, status);
	if (!state)
		return err_set(err, "out of memory");
	r = oci_hooks_run(ct->spec->hooks, stage, state, err);
	free(state);
	return r;
}

/* rootfs_spec.before_pivot: the mounts are made, pivot_root is next. */
static int create_container_hooks(void *arg, struct error *err)
{
	return child_hooks(arg, HOOK_CREATE_CONTAINER, "creating", err);
}

/* The child's steps up to the sync point, in the order of the OCI
 * runtime (DESIGN.md). */
static int child_setup(struct ct *ct, const struct rootfs_spec *rs,
		       struct error *err)
{
	enum sync_kind kind;
	const struct ct_spec *s = ct->spec;
	size_t i;

	for (i = 0; i < s->njoins; i++)
		if (ns_join(s->joins[i].path, s->joins[i].flag, err) < 0)
			return -1;
	if ((s->ns_new & CLONE_NEWUSER) && idmap_become_root(err) < 0)
		return -1;
	if ((s->ns_new & CLONE_NEWCGROUP) && ns_enter_cgroupns(err) < 0)
		return -1;
	if (ct->hostname && ns_set_hostname(ct->hostname, err) < 0)
		return -1;
	if (!s->oci && veth_setup_inside(ct->c->nets, ct->c->nnets, err) < 0)
		return -1;
	/* The namespaces exist: the creator runs the prestart and
	 * createRuntime hooks now, before the rootfs is set up. */
	if (create_hooks(s) &&
	    (sync_send(ct->child_sock, SYNC_HOOKS, NULL) < 0 ||
	     child_recv(ct, &kind, err) != 1 ||
	     kind != SYNC_GO))
		_exit(1);
	if (!s->oci && !ct->c->userns && rootfs_prepare(rs, err) < 0)
		return -1;
	return rootfs_setup(rs, err);
}

/* Detached: block until `start` opens the exec fifo for reading, run
 * the startContainer hooks, and tell start how it went (start_fifo):
 * "0" (no such hooks), or "h" at once and then "0", or "!" and the
 * failed hook's error. */
static int wait_fifo(struct ct *ct, struct error *err)
{
	bool hooks = has_hooks(ct->spec, HOOK_START_CONTAINER);
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", ct->fifo_fd);
	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return err_sys(err, "opening the exec fifo");
	close(ct->fifo_fd);
	if (hooks && write(fd, "h", 1) != 1) {
		close(fd);
		return err_sys(err, "writing the exec fifo");
	}
	if (hooks && child_hooks(ct, HOOK_START_CONTAINER, "created",
				 err) < 0) {
		dprintf(fd, "!%s", err->msg);
		close(fd);
		return -1;
	}
	if (write(fd, "0", 1) != 1)
		err_sys(err, "writing the exec fifo");
	close(fd);
	return 0;
}

static void __attribute__((noreturn)) child(struct ct *ct)
{
	struct rootfs_spec rs = {
		.rootfs = ct->rootfs, .c = ct->c, .spec = ct->spec,
		.console = ct->pty_master >= 0 ? ct->pty_name : NULL,
		.cgroup2 = cgroup_unified_dir(ct->cg) != NULL,
		.cgroup_rw = ct->c->userns,
		.before_pivot = create_container_hooks, .arg = ct,
	};
	struct process_spec ps = {
		.c = ct->c, .spec = ct->spec, .hostname = ct->hostname,
		.tty_fd = ct->tty ? ct->pty_slave : -1,
		.sigmask = &ct->child_mask, .sync_fd = ct->child_sock,
		.detached = ct->detached, .preserve_fds = ct->preserve_fds,
		.filter = ct->seccomp.insns ? &ct->seccomp : NULL,
	};
	int fd = ct->child_sock;
	struct process_prep prep;
	enum sync_kind kind;
	struct error err;

	err_clear(&err);
	/* Die with vessel. If it is already gone, the read below sees
	 * end-of-file. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	close(ct->sock);
	/* The flock is the creator's (the open file is shared); the console
	 * socket is its caller's, which waits for it to close. */
	if (ct->lock_fd >= 0)
		close(ct->lock_fd);
	if (ct->console_socket >= 0)
		close(ct->console_socket);
	if (ct->pty_master >= 0)
		close(ct->pty_master);
	if (!ct->tty && ct->pty_slave >= 0)
		close(ct->pty_slave);
	if (child_recv(ct, &kind, &err) != 1 || kind != SYNC_GO)
		_exit(1);
	if (child_setup(ct, &rs, &err) < 0)
		sync_fail(fd, &err);
	/* A detached PID 1 outlives its creator from here on; if the
	 * creator dies before it says so, the recv sees end-of-file. */
	if (ct->detached)
		prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	/* Detached, all that can be done before start is done now, in
	 * create's time, as crun and runc do: start then only lets the
	 * command run. */
	if (ct->detached && process_prepare(&ps, &prep, &err) < 0)
		sync_fail(fd, &err);
	if (sync_send(fd, SYNC_READY, NULL) < 0 ||
	    child_recv(ct, &kind, &err) != 1)
		_exit(1);
	if (kind == SYNC_DETACH && ct->detached) {
		close(fd);
		ps.sync_fd = -1;
		if (wait_fifo(ct, &err) == 0)
			process_exec_prepared(&ps, &prep, &err);
		fprintf(stderr, "vessel-runc: %s\n", err.msg);
		_exit(err.errnum == ENOENT ? 127 : 126);
	}
	if (kind != SYNC_GO || ct->detached)
		_exit(1);
	if (child_hooks(ct, HOOK_START_CONTAINER, "created", &err) == 0)
		process_exec(&ps, &err);
	sync_fail(fd, &err);
}

/* With userns: true, the mounts whose flags must hold are made before
 * the clone (namespaces.h), by a helper acting as the container's root
 * for files: what it creates in the rootfs (missing mount points) is the
 * container's, and it reaches what that root could reach. */
static int prepare_userns_mounts(void *arg, struct error *err)
{
	const struct rootfs_spec *rs = arg;
	int r;

	setfsgid(IDMAP_HOST_BASE);
	setfsuid(IDMAP_HOST_BASE);
	r = rootfs_prepare(rs, err);
	setfsuid(0);
	setfsgid(0);
	return r;
}

/* The child went away without a word: say how. */
static int setup_died(struct ct *ct, struct error *err)
{
	int st = 0;

	while (waitpid(ct->pid, &st, 0) < 0 && errno == EINTR)
		;
	ct->pid = 0;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && ct->c->memory)
		return err_set(err, "the container's setup process was killed "
			       "(SIGKILL) before it could run the command; is "
			       "memory: %llu too small?",
			       (unsigned long long)ct->c->memory);
	if (WIFSIGNALED(st))
		return err_set(err, "the container's setup process was killed "
			       "by signal %d before it could run the command",
			       WTERMSIG(st));
	return err_set(err, "the container's setup process exited with "
		       "status %d before it could run the command",
		       WEXITSTATUS(st));
}

/* One message from the child: 0 for want, -1 with the child's error,
 * or how it died. */
static int expect(struct ct *ct, enum sync_kind want, struct error *err)
{
	struct error msg;
	enum sync_kind kind;
	int r;

	r = sync_recv(ct->sock, &kind, &msg, err);
	if (r == 0)
		return setup_died(ct, err);
	if (r < 0)
		return -1;
	if (kind == want)
		return 0;
	if (kind == SYNC_ERROR) {
		*err = msg;
		return err_prefix(err, "setting up the container");
	}
	return err_set(err, "unexpected message %d from the container's "
		       "setup process", (int)kind);
}

static int write_oom_score(pid_t pid, int adj, struct error *err)
{
	char path[64], val[16];
	int fd, n, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	n = snprintf(val, sizeof(val), "%d", adj);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, (size_t)n) != n)
		r = err_sys(err, "process.oomScoreAdj: writing %s", path);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Host-side steps while the child waits, then let it set itself up. */
static int host_steps(struct ct *ct, struct error *err)
{
	const struct ct_spec *s = ct->spec;
	size_t i;

	if (s->oci && (s->ns_new & CLONE_NEWUSER) &&
	    idmap_write_spec(ct->pid, s, err) < 0)
		return -1;
	if (!s->oci && ct->c->userns && idmap_write(ct->pid, err) < 0)
		return -1;
	if (s->has_oom_score_adj &&
	    write_oom_score(ct->pid, s->oom_score_adj, err) < 0)
		return -1;
	if (ct->cg && cgroup_attach(ct->cg, ct->pid, err) < 0)
		return -1;
	for (i = 0; i < ct->c->nnets; i++) {
		char host[IF_NAMESIZE];

		veth_host_name(host, sizeof(host), ct->pid, i);
		if (veth_create(host, i, ct->pid, ct->c->nets[i].bridge,
				err) < 0)
			return err_prefix(err, "nets[%zu]", i);
	}
	if (send_child(ct, SYNC_GO) < 0)
		return err_sys(err, "starting the container");
	if (create_hooks(s)) {
		char *state;
		int r;

		if (expect(ct, SYNC_HOOKS, err) < 0)
			return -1;
		state = ct_state_oci_text(ct, "creating");
		r = !state ? err_set(err, "out of memory") :
		    oci_hooks_run(s->hooks, HOOK_PRESTART, state, err) < 0 ||
		    oci_hooks_run(s->hooks, HOOK_CREATE_RUNTIME, state, err) < 0 ?
		    -1 : 0;
		free(state);
		if (r < 0)
			return -1;
		if (send_child(ct, SYNC_GO) < 0)
			return err_sys(err, "starting the container");
	}
	return expect(ct, SYNC_READY, err);
}

/* The pty master to the OCI console socket (SCM_RIGHTS). */
static int open_pty(struct ct *ct, struct error *err)
{
	struct error ignored;

	if (ct->detached) {
		if (!ct->spec->terminal)
			return 0;
		if (ct->console_socket < 0)
			return err_set(err, "process.terminal is true: "
				       "--console-socket is needed");
		ct->tty = true;
		return pty_open(&ct->pty_master, &ct->pty_slave, ct->pty_name,
				sizeof(ct->pty_name), err);
	}
	/* Without a terminal the pty is only /dev/console: no pty to be
	 * had means no console. */
	ct->tty = isatty(0);
	if (pty_open(&ct->pty_master, &ct->pty_slave, ct->pty_name,
		     sizeof(ct->pty_name), ct->tty ? err : &ignored) < 0 &&
	    ct->tty)
		return -1;
	/* The container's root must be able to open its console. */
	if (ct->c->userns && ct->pty_slave >= 0 &&
	    fchown(ct->pty_slave, IDMAP_HOST_BASE, IDMAP_HOST_BASE) < 0)
		return err_sys(err, "handing the console %s to the container's "
			       "root", ct->pty_name);
	return 0;
}

/* Clone and set up until the child waits at the sync point. */
static int clone_child(struct ct *ct, struct error *err)
{
	struct rootfs_spec rs = { .rootfs = ct->rootfs, .c = ct->c,
				  .spec = ct->spec };
	struct ns_prepare prep = { prepare_userns_mounts, &rs };
	int fds[2];
	pid_t pid;

	if (sync_pair(fds, err) < 0)
		return -1;
	ct->sock = fds[0];
	ct->child_sock = fds[1];
	pid = ns_clone(ct->spec->ns_new, !ct->spec->oci && ct->c->userns ?
		       &prep : NULL, err);
	if (pid < 0)
		return -1;
	if (pid == 0)
		child(ct);
	ct->pid = pid;
	ct->veth_pid = pid;	/* before the janitor copies ct */
	close(ct->child_sock);
	ct->child_sock = -1;
	if (ct->fifo_fd >= 0) {
		close(ct->fifo_fd);
		ct->fifo_fd = -1;
	}
	ct->pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (ct->pidfd < 0)
		return err_sys(err, "pidfd_open");
	if (!ct->detached && janitor_start(ct, &ct->jan, err) < 0)
		return -1;
	return host_steps(ct, err);
}

static struct ct *ct_new(void)
{
	struct ct *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	ct->pty_master = ct->pty_slave = ct->sock = ct->child_sock = -1;
	ct->pidfd = ct->console_socket = ct->fifo_fd = ct->lock_fd = -1;
	ct->late_hooks = -1;
	return ct;
}

struct ct *ct_alloc(void)
{
	return ct_new();
}

int container_create(const struct container_config *c,
		     const struct ct_create_opts *o, struct ct **out,
		     struct error *err)
{
	struct ct *ct = ct_new();
	struct error ignored;

	*out = NULL;
	if (!ct)
		return err_set(err, "out of memory");
	ct->c = c;
	ct->name = o->id ? o->id : c->name && *c->name ? c->name :
		   "container";
	if (o->spec) {
		ct->spec = o->spec;
	} else {
		ct_spec_default(&ct->default_spec, c->userns);
		ct->spec = &ct->default_spec;
	}
	ct->hostname = c->hostname && *c->hostname ?
		       c->hostname : ct->spec->oci ? NULL : ct->name;
	ct->rootfs = c->rootfs;
	ct->detached = o->detached;
	ct->console_socket = o->console_socket;
	ct->preserve_fds = o->preserve_fds;
	if (o->child_mask)
		ct->child_mask = *o->child_mask;
	else
		sigprocmask(SIG_SETMASK, NULL, &ct->child_mask);
	if (preflight(ct, err) < 0) {
		container_release(ct);
		return -1;
	}
	if (o->detached && ct_state_prepare(ct, o, err) < 0)
		goto fail;
	/* Compiled in the state root's cache: engines give most containers
	 * the same profile. */
	if (o->detached && ct->spec->seccomp == CT_SECCOMP_PROFILE &&
	    seccomp_cache_get(o->state_root, ct->spec->seccomp_profile,
			      &ct->seccomp, err) < 0)
		goto fail;
	if (!ct->spec->oci) {
		tarball_sweep();
		if (tarball_is_archive(ct->c->rootfs)) {
			if (tarball_unpack(ct->c->rootfs, ct->name,
					   ct->c->userns ? IDMAP_HOST_BASE : 0,
					   &ct->unpack_dir, &ct->unpack_root,
					   err) < 0)
				goto fail;
			ct->rootfs = ct->unpack_root;
		}
	}
	if (cgroup_create_at(ct->name, ct->spec->cgroup_path, ct->c, &ct->cg,
			     err) < 0 ||
	    (!ct->spec->oci && ct->c->userns &&
	     cgroup_delegate(ct->cg, IDMAP_HOST_BASE, IDMAP_HOST_BASE,
			     err) < 0) ||
	    (ct->spec->memory_swap && ct->c->memory &&
	     cgroup_set_swap(ct->cg, ct->c->memory, ct->spec->memory_swap,
			     err) < 0) ||
	    (ct->spec->cpu_shares &&
	     cgroup_set_cpu_shares(ct->cg, ct->spec->cpu_shares, err) < 0))
		goto fail;
	if (open_pty(ct, err) < 0 || clone_child(ct, err) < 0)
		goto fail;
	if (ct->detached) {
		if (ct->tty && pty_send_master(ct->console_socket,
					    ct->pty_master, err) < 0)
			goto fail;
		if (ct_state_save(ct, err) < 0)
			goto fail;
		if (send_child(ct, SYNC_DETACH) < 0) {
			err_sys(err, "letting the container wait for start");
			goto fail;
		}
	}
	*out = ct;
	return 0;
fail:
	container_destroy(ct, &ignored);
	return -1;
}

/* Detached: open the exec fifo for reading, which lets PID 1 go on, and
 * read its answer (wait_fifo). Once it said "h" its startContainer hooks
 * run, bounded by their own timeouts: wait for the rest or its end. */
static int start_fifo(struct ct *ct, struct error *err)
{
	struct pollfd p[2];
	char path[4200], buf[sizeof(err->msg)];
	int fd, timeout = START_WAIT_MS;
	size_t len = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/exec.fifo", ct->state_dir);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, "opening %s", path);
	p[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = ct->pidfd, .events = POLLIN };
	while (len < sizeof(buf) - 1) {
		if (poll(p, ct->pidfd >= 0 ? 2 : 1, timeout) <= 0 ||
		    !(p[0].revents & (POLLIN | POLLHUP)))
			break;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (buf[0] == '0' || (buf[0] == 'h' && len > 1 &&
				      buf[1] == '0')) {
			close(fd);
			unlink(path);
			return 0;
		}
		if (buf[0] != 'h')
			break;
		timeout = -1;
	}
	buf[len] = '\0';
	close(fd);
	if (len > 1 && buf[0] == 'h' && buf[1] == '!')
		return err_set(err, "container %s: %s", ct->name, buf + 2);
	return err_set(err, "container %s: its process did not take the "
		       "start (it exited, or took longer than %d ms)",
		       ct->name, START_WAIT_MS);
}

int container_start(struct ct *ct, struct error *err)
{
	enum ct_status st;

	if (ct->state_dir) {
		st = container_status(ct);
		if (st != CT_CREATED)
			return err_set(err, "container %s is %s, not created",
				       ct->name, container_status_name(st));
		if (start_fifo(ct, err) < 0)
			return -1;
		ct->started = true;
		return 0;
	}
	if (ct->started || ct->sock < 0)
		return err_set(err, "container %s: already started", ct->name);
	if (send_child(ct, SYNC_GO) < 0)
		return err_sys(err, "starting the container");
	ct->started = true;
	/* SYNC_EXEC, then end-of-file once the exec closed the socket, or
	 * the error of a failed exec. */
	if (expect(ct, SYNC_EXEC, err) < 0)
		return -1;
	{
		enum sync_kind kind;
		struct error msg;
		int r = sync_recv(ct->sock, &kind, &msg, err);

		if (r < 0)
			return -1;
		if (r > 0) {
			*err = msg;
			return err_prefix(err, "setting up the container");
		}
	}
	return 0;
}

int container_wait(struct ct *ct, struct error *err)
{
	struct termios saved;
	bool raw = false;
	int ret;

	if (ct->detached || ct->pid <= 0)
		return err_set(err, "container %s: only its creator can wait "
			       "for it", ct->name);
	if (ct->tty) {
		close(ct->pty_slave);
		ct->pty_slave = -1;
		raw = term_raw(0, &saved, err) == 0;
	}
	ret = supervise(ct, err);
	if (raw)
		term_restore(0, &saved);
	return ret;
}

int container_kill(struct ct *ct, int sig, bool all, struct error *err)
{
	enum ct_status st = container_status(ct);

	if (st == CT_STOPPED && !all)
		return err_set(err, "container %s is not running", ct->name);
	if (all)
		return ct->cg ? cgroup_signal(ct->cg, sig, err) : 0;
	if (ct->pidfd >= 0 &&
	    syscall(SYS_pidfd_send_signal, ct->pidfd, sig, NULL, 0) == 0)
		return 0;
	if (kill(ct->pid, sig) < 0)
		return err_sys(err, "sending signal %d to %d", sig,
			       (int)ct->pid);
	return 0;
}

int container_pause(struct ct *ct, bool pause, struct error *err)
{
	enum ct_status st = container_status(ct);
	const char *v2 = ct->cg && cgroup_is_v2(ct->cg) ?
			 cgroup_unified_dir(ct->cg) : NULL;

	if (st != (pause ? CT_RUNNING : CT_PAUSED))
		return err_set(err, "container %s is %s, not %s", ct->name,
			       container_status_name(st),
			       pause ? "running" : "paused");
	if (v2)
		return freezer_set_v2(v2, pause, err);
	return freezer_set(ct->name, ct->pid, pause, err);
}

static void kill_child(struct ct *ct)
{
	if (ct->pid <= 0)
		return;
	if (ct->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, ct->pidfd, SIGKILL, NULL, 0);
	if (!ct->state_dir || ct->c) {
		/* Our own child: reap it. */
		kill(ct->pid, SIGKILL);
		while (waitpid(ct->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	ct->pid = 0;
}

int container_destroy(struct ct *ct, struct error *err)
{
	bool v2;
	int ret = 0;

	if (!ct)
		return 0;
	/* A v1 freezer cgroup is made only for a container without a v2
	 * one (container_pause): none to look for otherwise. */
	v2 = ct->cg && cgroup_is_v2(ct->cg);
	/* A paused container must thaw to die (cgroup v1). */
	if (ct->state_dir && container_status(ct) == CT_PAUSED) {
		struct error ignored;

		container_pause(ct, false, &ignored);
	}
	kill_child(ct);
	if (ct_cleanup(ct, err) < 0)
		ret = -1;
	janitor_dismiss(&ct->jan);
	if (ct->state_dir) {
		if (!v2)
			freezer_remove(ct->name);
		ct_state_remove(ct);
	}
	container_release(ct);
	return ret;
}

void container_release(struct ct *ct)
{
	if (!ct)
		return;
	if (ct->sock >= 0)
		close(ct->sock);
	if (ct->child_sock >= 0)
		close(ct->child_sock);
	if (ct->pidfd >= 0)
		close(ct->pidfd);
	if (ct->pty_master >= 0)
		close(ct->pty_master);
	if (ct->pty_slave >= 0)
		close(ct->pty_slave);
	if (ct->fifo_fd >= 0)
		close(ct->fifo_fd);
	if (ct->lock_fd >= 0)
		close(ct->lock_fd);
	if (ct->cg)
		cgroup_free(ct->cg);
	free(ct->unpack_dir);
	free(ct->unpack_root);
	free(ct->state_dir);
	free(ct->id_buf);
	free(ct->rootfs_buf);
	free(ct->bundle);
	free(ct->created);
	free(ct->annotations);
	seccomp_prog_free(&ct->seccomp);
	free(ct);
}

pid_t container_pid(const struct ct *ct)
{
	return ct->pid;
}

const char *container_id(const struct ct *ct)
{
	return ct->name;
}

const char *container_status_name(enum ct_status s)
{
	switch (s) {
	case CT_CREATED:
		return "created";
	case CT_RUNNING:
		return "running";
	case CT_PAUSED:
		return "paused";
	case CT_STOPPED:
		break;
	}
	return "stopped";
}

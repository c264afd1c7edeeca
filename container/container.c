/* container_run: checks, setup on the host, the child's setup steps in
 * order, supervision and cleanup. Parent and child synchronise over a
 * socketpair (sync.h); every failure in the child is reported back with
 * its message and ends the run. */
#include "container.h"
#include "cgroup.h"
#include "ct.h"
#include "idmap.h"
#include "janitor.h"
#include "namespaces.h"
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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

	if (ct->cfg->kind != GUEST_CONTAINER)
		return err_set(err, "not a container (kind: container)");
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
	if (strlen(ct->hostname) > 64)
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
	for (i = 0; ct->veth_pid && i < ct->c->nnets; i++) {
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

static void __attribute__((noreturn)) child(struct ct *ct,
					    const sigset_t *mask)
{
	struct rootfs_spec rs = {
		.rootfs = ct->rootfs, .c = ct->c,
		.console = ct->pty_master >= 0 ? ct->pty_name : NULL,
		.cgroup2 = cgroup_unified_dir(ct->cg) != NULL,
		.cgroup_rw = ct->c->userns,
	};
	struct process_spec ps = {
		.c = ct->c, .hostname = ct->hostname,
		.tty_fd = ct->tty ? ct->pty_slave : -1, .sigmask = mask,
		.sync_fd = ct->child_sock,
	};
	int fd = ct->child_sock;
	enum sync_kind kind;
	struct error err;

	err_clear(&err);
	/* Die with vessel. If it is already gone, the read below sees
	 * end-of-file. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	close(ct->sock);
	if (ct->pty_master >= 0)
		close(ct->pty_master);
	if (!ct->tty && ct->pty_slave >= 0)
		close(ct->pty_slave);
	if (sync_recv(fd, &kind, NULL, &err) != 1 || kind != SYNC_GO)
		_exit(1);
	if ((ct->c->userns && idmap_become_root(&err) < 0) ||
	    ns_enter_cgroupns(&err) < 0 ||
	    ns_set_hostname(ct->hostname, &err) < 0 ||
	    veth_setup_inside(ct->c->nets, ct->c->nnets, &err) < 0 ||
	    (!ct->c->userns && rootfs_prepare(&rs, &err) < 0) ||
	    rootfs_setup(&rs, &err) < 0 ||
	    process_exec(&ps, &err) < 0)
		sync_fail(fd, &err);
	_exit(1);
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

/* The child went away without a word before exec: say how. */
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

/* Host-side steps while the child waits, then let it go and wait for
 * its exec (end-of-file) or its error. */
static int start_child(struct ct *ct, struct error *err)
{
	struct error msg;
	enum sync_kind kind;
	size_t i;
	int r;

	if (ct->c->userns && idmap_write(ct->pid, err) < 0)
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
	if (sync_send(ct->sock, SYNC_GO, NULL) < 0)
		return err_sys(err, "starting the container");
	r = sync_recv(ct->sock, &kind, &msg, err);
	if (r > 0 && kind == SYNC_EXEC)
		r = sync_recv(ct->sock, &kind, &msg, err);	/* exec'd? */
	else if (r == 0)
		return setup_died(ct, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		*err = msg;
		return err_prefix(err, "setting up the container");
	}
	return 0;
}

static void kill_child(struct ct *ct)
{
	if (ct->pid <= 0)
		return;
	kill(ct->pid, SIGKILL);
	while (waitpid(ct->pid, NULL, 0) < 0 && errno == EINTR)
		;
	ct->pid = 0;
}

/* Everything from the clone to PID 1's exit. */
static int run(struct ct *ct, const sigset_t *oldmask, struct error *err)
{
	struct rootfs_spec rs = { .rootfs = ct->rootfs, .c = ct->c };
	struct ns_prepare prep = { prepare_userns_mounts, &rs };
	struct janitor jan = { 0 };
	struct termios saved;
	bool raw = false;
	int fds[2], ret = -1;
	pid_t pid;

	if (sync_pair(fds, err) < 0)
		return -1;
	ct->sock = fds[0];
	ct->child_sock = fds[1];
	pid = ns_clone(ct->c->userns, ct->c->userns ? &prep : NULL, err);
	if (pid < 0)
		goto out;
	if (pid == 0)
		child(ct, oldmask);
	ct->pid = pid;
	ct->veth_pid = pid;	/* before the janitor copies ct */
	close(ct->child_sock);
	ct->child_sock = -1;
	ct->pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (ct->pidfd < 0) {
		err_sys(err, "pidfd_open");
		goto out;
	}
	if (janitor_start(ct, &jan, err) < 0 || start_child(ct, err) < 0)
		goto out;
	if (ct->tty) {
		close(ct->pty_slave);
		ct->pty_slave = -1;
		raw = term_raw(0, &saved, err) == 0;
	}
	ret = supervise(ct, err);
out:
	if (raw)
		term_restore(0, &saved);
	kill_child(ct);
	if (ret < 0) {
		struct error ignored;

		ct_cleanup(ct, &ignored);
	} else if (ct_cleanup(ct, err) < 0) {
		err_prefix(err, "the container exited with status %d, but "
			   "cleaning up failed", ret);
		ret = -1;
	}
	janitor_dismiss(&jan);
	close(ct->sock);
	if (ct->child_sock >= 0)
		close(ct->child_sock);
	if (ct->pidfd >= 0)
		close(ct->pidfd);
	return ret;
}

int container_run(const struct guest_config *cfg, struct error *err)
{
	struct ct ct = {
		.cfg = cfg, .c = &cfg->ct, .name = cfg->name,
		.pty_master = -1, .pty_slave = -1, .sock = -1,
		.child_sock = -1, .pidfd = -1,
	};
	static const int fwd[] = { SIGINT, SIGTERM, SIGQUIT };
	enum { NFWD = sizeof(fwd) / sizeof(fwd[0]) };
	struct sigaction old[NFWD];
	struct error ignored;
	sigset_t block, oldmask;
	int ret = -1;
	size_t i;

	if (!ct.name || !*ct.name)
		ct.name = "container";
	ct.hostname = cfg->ct.hostname && *cfg->ct.hostname ?
		      cfg->ct.hostname : ct.name;
	ct.rootfs = cfg->ct.rootfs;
	if (preflight(&ct, err) < 0)
		return -1;
	tarball_sweep();
	if (tarball_is_archive(ct.c->rootfs)) {
		if (tarball_unpack(ct.c->rootfs, ct.name, ct.c->userns ?
				   IDMAP_HOST_BASE : 0, &ct.unpack_dir,
				   &ct.unpack_root, err) < 0)
			goto out;
		ct.rootfs = ct.unpack_root;
	}
	if (cgroup_create(ct.name, ct.c, &ct.cg, err) < 0 ||
	    (ct.c->userns && cgroup_delegate(ct.cg, IDMAP_HOST_BASE,
					     IDMAP_HOST_BASE, err) < 0))
		goto out;
	/* Without a terminal the pty is only /dev/console: no pty to be had
	 * means no console. */
	ct.tty = isatty(0);
	if (pty_open(&ct.pty_master, &ct.pty_slave, ct.pty_name,
		     sizeof(ct.pty_name), ct.tty ? err : &ignored) < 0 &&
	    ct.tty)
		goto out;
	/* The container's root must be able to open its console. */
	if (ct.c->userns && ct.pty_slave >= 0 &&
	    fchown(ct.pty_slave, IDMAP_HOST_BASE, IDMAP_HOST_BASE) < 0) {
		err_sys(err, "handing the console %s to the container's root",
			ct.pty_name);
		goto out;
	}
	supervise_sigset(&block);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	/* A shell starts background jobs with SIGINT and SIGQUIT ignored;
	 * ignored signals never reach the signalfd, so take them back for
	 * the run (they stay blocked: nothing is delivered to vessel). */
	for (i = 0; i < NFWD; i++)
		sigaction(fwd[i], &(struct sigaction){ .sa_handler = SIG_DFL },
			  &old[i]);
	ret = run(&ct, &oldmask, err);
	/* Signals that came too late were meant for the container. */
	while (sigtimedwait(&block, NULL, &(struct timespec){ 0 }) > 0)
		;
	for (i = 0; i < NFWD; i++)
		sigaction(fwd[i], &old[i], NULL);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
out:
	if (ret < 0)
		ct_cleanup(&ct, &ignored);
	if (ct.pty_master >= 0)
		close(ct.pty_master);
	if (ct.pty_slave >= 0)
		close(ct.pty_slave);
	return ret;
}

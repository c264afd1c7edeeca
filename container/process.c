#include "process.h"
#include "caps.h"
#include "oci_seccomp.h"
#include "seccomp_filter.h"
#include "seccomp_prog.h"
#include "sync.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:" \
		     "/usr/bin:/sbin:/bin"

extern char **environ;

static int stdio(int tty_fd, struct error *err)
{
	int fd;

	if (setsid() < 0)
		return err_sys(err, "setsid");
	if (tty_fd < 0)
		return 0;
	if (ioctl(tty_fd, TIOCSCTTY, 0) < 0)
		return err_sys(err, "making the pty the controlling terminal");
	for (fd = 0; fd < 3; fd++)
		if (dup2(tty_fd, fd) < 0)
			return err_sys(err, "dup2 pty");
	if (tty_fd > 2)
		close(tty_fd);
	return 0;
}

/* One rlimit; a hard limit above the current one is capped to it where
 * raising it is not allowed (inside a user namespace). */
static int rlimit_set(const struct ct_rlimit *l, struct error *err)
{
	struct rlimit want = { l->soft, l->hard }, cur;

	if (setrlimit(l->resource, &want) == 0)
		return 0;
	if (errno != EPERM || getrlimit(l->resource, &cur) < 0)
		return err_sys(err, "setting rlimit %d", l->resource);
	want.rlim_max = cur.rlim_max;
	if (want.rlim_cur > want.rlim_max)
		want.rlim_cur = want.rlim_max;
	if (setrlimit(l->resource, &want) < 0)
		return err_sys(err, "setting rlimit %d", l->resource);
	return 0;
}

static int rlimits(const struct ct_spec *s, struct error *err)
{
	size_t i;

	for (i = 0; i < s->nrlimits; i++)
		if (rlimit_set(&s->rlimits[i], err) < 0)
			return -1;
	return 0;
}

/* Replace the entry with the same name as kv, or append it. */
static void env_set(char **env, size_t *n, char *kv)
{
	size_t i, klen = strcspn(kv, "=");

	for (i = 0; i < *n; i++) {
		if (!strncmp(env[i], kv, klen) && env[i][klen] == '=') {
			env[i] = kv;
			return;
		}
	}
	env[(*n)++] = kv;
}

static char **build_env(const struct process_spec *p, struct error *err)
{
	static char home[] = "HOME=/root", home_user[] = "HOME=/",
		    path[] = DEFAULT_PATH, term[] = "TERM=xterm",
		    container[] = "container=vessel";
	const struct container_config *c = p->c;
	char **env, *host;
	size_t i, n = 0;

	if (p->spec->oci) {	/* process.env, exactly */
		env = calloc(c->nenv + 1, sizeof(*env));
		if (!env)
			err_set(err, "out of memory");
		for (i = 0; env && i < c->nenv; i++)
			env[i] = c->env[i];
		return env;
	}
	env = calloc(c->nenv + 6, sizeof(*env));
	host = malloc(strlen(p->hostname) + sizeof("HOSTNAME="));
	if (!env || !host) {
		free(env);
		free(host);
		err_set(err, "out of memory");
		return NULL;
	}
	sprintf(host, "HOSTNAME=%s", p->hostname);
	env[n++] = path;
	env[n++] = c->uid == 0 ? home : home_user;
	env[n++] = host;
	env[n++] = container;
	if (p->tty_fd >= 0)
		env[n++] = term;
	for (i = 0; i < c->nenv; i++)
		if (strchr(c->env[i], '='))
			env_set(env, &n, c->env[i]);
	env[n] = NULL;
	return env;
}

static int set_user(const struct process_spec *p, struct error *err)
{
	const struct container_config *c = p->c;

	if (setgroups(p->spec->ngroups, p->spec->groups) < 0)
		return err_sys(err, "setting the supplementary groups");
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		return err_sys(err, "switching to gid %u", (unsigned)c->gid);
	if (setresuid(c->uid, c->uid, c->uid) < 0)
		return err_sys(err, "switching to uid %u", (unsigned)c->uid);
	/* A credential change clears the parent-death signal. */
	if (!p->detached && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return err_sys(err, "PR_SET_PDEATHSIG");
	return 0;
}

static void default_signals(const sigset_t *mask)
{
	struct sigaction sa;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* fails for KILL, STOP */
	sigprocmask(SIG_SETMASK, mask, NULL);
}

/* command[] is counted, not NULL-terminated. */
static char **build_argv(const struct container_config *c, struct error *err)
{
	char **argv = calloc(c->ncommand + 1, sizeof(*argv));
	size_t i;

	if (!argv) {
		err_set(err, "out of memory");
		return NULL;
	}
	for (i = 0; i < c->ncommand; i++)
		argv[i] = c->command[i];
	return argv;
}

/* The filter: the one compiled at create, or built here. */
static int filter_build(const struct process_spec *p, struct seccomp_prog *out,
			struct error *err)
{
	struct sock_fprog fprog;

	*out = (struct seccomp_prog){ 0 };
	if (p->filter) {
		*out = *p->filter;
		out->owned = false;
		return 0;
	}
	switch (p->spec->seccomp) {
	case CT_SECCOMP_DEFAULT:
		if (seccomp_build(p->c->userns, &fprog, err) < 0)
			return -1;
		out->insns = fprog.filter;
		out->len = fprog.len;
		return 0;
	case CT_SECCOMP_PROFILE:
		return oci_seccomp_compile(p->spec->seccomp_profile, out, err);
	case CT_SECCOMP_NONE:
		break;
	}
	return 0;
}

/* name as execvp would find it in env's PATH: the first regular file
 * there that may be executed, or NULL (none, or a name with a slash). A
 * shortcut only: should exec fail, execvp searches again. */
static char *find_command(const char *name, char *const *env)
{
	const char *path = NULL, *dir, *end;
	char buf[4096];
	struct stat st;
	size_t i;

	for (i = 0; env[i]; i++)
		if (!strncmp(env[i], "PATH=", 5))
			path = env[i] + 5;
	if (!path || !*name || strchr(name, '/'))
		return NULL;
	for (dir = path; ; dir = end + 1) {
		int dl;

		end = strchrnul(dir, ':');
		dl = (int)(end - dir);
		if ((size_t)snprintf(buf, sizeof(buf), "%.*s/%s", dl ? dl : 1,
				     dl ? dir : ".", name) < sizeof(buf) &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return strdup(buf);
		if (!*end)
			return NULL;
	}
}

/* Capabilities around the switch to the container's user. */
static int credentials(const struct process_spec *p, struct error *err)
{
	const struct ct_spec *s = p->spec;
	uint64_t root_set = p->c->uid == 0 ? s->cap_bounding : 0;

	if (caps_drop_bounding(s->cap_bounding, err) < 0)
		return -1;
	/* Explicit sets survive the switch to a non-root uid. */
	if (s->caps_explicit && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return err_sys(err, "PR_SET_KEEPCAPS");
	if (set_user(p, err) < 0)
		return -1;
	if (!s->caps_explicit)
		return caps_apply(root_set, err);
	return caps_set(s->cap_effective, s->cap_permitted,
			s->cap_inheritable, s->cap_ambient, err);
}

int process_prepare(const struct process_spec *p, struct process_prep *pp,
		    struct error *err)
{
	const struct container_config *c = p->c;
	const struct ct_spec *s = p->spec;

	*pp = (struct process_prep){ 0 };
	if (stdio(p->tty_fd, err) < 0)
		return -1;
	close_range(3 + (unsigned)p->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
	if (rlimits(s, err) < 0)
		return -1;
	pp->env = build_env(p, err);
	pp->argv = build_argv(c, err);
	if (!pp->env || !pp->argv)
		return -1;
	if (s->oci)
		umask(s->has_umask ? s->umask : 022);
	if (s->cwd && chdir(s->cwd) < 0)
		return err_sys(err, "process.cwd '%s'", s->cwd);
	if (filter_build(p, &pp->filter, err) < 0)
		return -1;
	pp->path = find_command(pp->argv[0], pp->env);
	return 0;
}

int process_exec_prepared(const struct process_spec *p,
			  struct process_prep *pp, struct error *err)
{
	const struct ct_spec *s = p->spec;

	/* Without no_new_privs loading a filter takes CAP_SYS_ADMIN: load
	 * it while the process still has it. */
	if (!s->no_new_privs && seccomp_prog_load(&pp->filter, err) < 0)
		return -1;
	if (credentials(p, err) < 0)
		return -1;
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_sys(err, "PR_SET_NO_NEW_PRIVS");
	if (s->no_new_privs && seccomp_prog_load(&pp->filter, err) < 0)
		return -1;
	default_signals(p->sigmask);
	environ = pp->env;
	if (p->sync_fd >= 0)
		sync_send(p->sync_fd, SYNC_EXEC, NULL);
	if (pp->path)
		execv(pp->path, pp->argv);
	execvp(pp->argv[0], pp->argv);
	return err_sys(err, "executing '%s' in the container",
		       p->c->command[0]);
}

int process_exec(const struct process_spec *p, struct error *err)
{
	struct process_prep pp;

	if (process_prepare(p, &pp, err) < 0)
		return -1;
	return process_exec_prepared(p, &pp, err);
}

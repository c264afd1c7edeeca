#include "oci_hooks.h"
#include "oci_json.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* In enum oci_hook_stage's order; also the keys of "hooks". */
static const char *const stage_names[HOOK_NSTAGES + 1] = {
	"prestart", "createRuntime", "createContainer", "startContainer",
	"poststart", "poststop", NULL,
};

static int parse_hook(json_object *o, const char *where, struct oci_hook *h,
		      struct error *err)
{
	static const char *const keys[] = { "path", "args", "env", "timeout",
					    NULL };
	char sub[96];
	int64_t t = 0;

	if (!o || !json_object_is_type(o, json_type_object))
		return err_input(err, "%s: must be an object", where);
	snprintf(sub, sizeof(sub), "%s.path", where);
	if (oj_check_keys(o, where, keys, err) < 0 ||
	    oj_string(oj_get(o, "path"), sub, &h->path, err) < 0)
		return -1;
	if (!h->path || h->path[0] != '/')
		return err_input(err, "%s: must be an absolute path", sub);
	snprintf(sub, sizeof(sub), "%s.args", where);
	if (oj_strv(oj_get(o, "args"), sub, &h->args, &h->nargs, err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.env", where);
	if (oj_strv(oj_get(o, "env"), sub, &h->env, &h->nenv, err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.timeout", where);
	if (oj_i64(oj_get(o, "timeout"), sub, 1, 3600, &t, err) < 0)
		return -1;
	h->timeout = (int)t;
	return 0;
}

int oci_hooks_parse(json_object *obj, struct oci_hooks *out,
		    struct error *err)
{
	char where[64];
	size_t s, i, n;

	memset(out, 0, sizeof(*out));
	if (!obj)
		return 0;
	if (oj_check_keys(obj, "hooks", stage_names, err) < 0)
		return -1;
	for (s = 0; s < HOOK_NSTAGES; s++) {
		json_object *a = oj_get(obj, stage_names[s]);

		snprintf(where, sizeof(where), "hooks.%s", stage_names[s]);
		if (oj_array(a, where, &n, err) < 0)
			return -1;
		if (n > OCI_MAX_HOOKS)
			return err_input(err, "%s: more than %d hooks", where,
					 OCI_MAX_HOOKS);
		out->h[s] = calloc(n ? n : 1, sizeof(**out->h));
		if (!out->h[s])
			return err_set(err, "out of memory");
		for (i = 0; i < n; i++) {
			snprintf(where, sizeof(where), "hooks.%s[%zu]",
				 stage_names[s], i);
			out->n[s] = i + 1;
			if (parse_hook(json_object_array_get_idx(a, i), where,
				       &out->h[s][i], err) < 0)
				return -1;
		}
	}
	return 0;
}

void oci_hooks_free(struct oci_hooks *hk)
{
	size_t s, i;

	for (s = 0; s < HOOK_NSTAGES; s++) {
		for (i = 0; i < hk->n[s]; i++) {
			free(hk->h[s][i].path);
			oj_strv_free(hk->h[s][i].args, hk->h[s][i].nargs);
			oj_strv_free(hk->h[s][i].env, hk->h[s][i].nenv);
		}
		free(hk->h[s]);
	}
	memset(hk, 0, sizeof(*hk));
}

static int run_one(const struct oci_hook *h, const char *where,
		   const char *state, struct error *err)
{
	struct pollfd p;
	char *none[] = { NULL }, *argv0[] = { h->path, NULL };
	int fds[2], st = 0, pfd;
	size_t len = strlen(state);
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_sys(err, "%s: pipe", where);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return err_sys(err, "%s: fork", where);
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		execve(h->path, h->nargs ? h->args : argv0,
		       h->nenv ? h->env : none);
		_exit(127);
	}
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	if (write(fds[1], state, len) < 0 && errno != EPIPE)
		st = -1;
	close(fds[1]);
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	p = (struct pollfd){ .fd = pfd, .events = POLLIN };
	if (pfd >= 0 && h->timeout &&
	    poll(&p, 1, h->timeout * 1000) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pfd);
		return err_set(err, "%s (%s): timed out after %d s", where,
			       h->path, h->timeout);
	}
	if (pfd >= 0)
		close(pfd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st))
		return err_set(err, "%s (%s): killed by signal %d", where,
			       h->path, WTERMSIG(st));
	return err_set(err, "%s (%s): exited with status %d", where, h->path,
		       WEXITSTATUS(st));
}

int oci_hooks_run(const struct oci_hooks *hk, enum oci_hook_stage stage,
		  const char *state, struct error *err)
{
	char where[64];
	size_t i;

	for (i = 0; hk && i < hk->n[stage]; i++) {
		snprintf(where, sizeof(where), "hooks.%s[%zu]",
			 stage_names[stage], i);
		if (run_one(&hk->h[stage][i], where, state, err) < 0)
			return -1;
	}
	return 0;
}

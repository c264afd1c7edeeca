/* `vessel oci ...` and `vessel-runc ...` (the same binary under that
 * name): the OCI runtime command line that runc defined and crun
 * follows, as podman's conmon, containerd's runc shim and go-runc call
 * it, over the container handle (container/handle.h).
 *
 *   vessel-runc [--root DIR] [--log FILE] [--log-format text|json]
 *               [--debug] [--systemd-cgroup] COMMAND [OPTIONS] ID
 *
 * State: DIR/ID (default /run/vessel-runc; ct_state.h). Errors go to
 * stderr and, with --log, to FILE as well (one line; JSON objects with
 * level, msg and time for --log-format json, as conmon reads them).
 * Exit status 0, or 1 on any error. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/error.h"
#include "oci_cli.h"
#include "../container/cgroup.h"
#include "../container/ct.h"
#include "../container/ct_state.h"
#include "../container/exec.h"
#include "../container/oci_hooks.h"
#include "../container/handle.h"
#include "../container/oci_spec.h"

#ifndef VESSEL_VERSION
#define VESSEL_VERSION "0.1"
#endif
#define OCI_SPEC_VERSION "1.0.2"
#define DEFAULT_ROOT "/run/vessel-runc"

struct oci_cli {
	const char *prog;		/* "vessel-runc" or "vessel oci" */
	const char *root;
	const char *log;
	bool json_log;
	bool debug;
};

static void log_line(const struct oci_cli *g, const char *level,
		     const char *msg)
{
	char ts[64];
	time_t t = time(NULL);
	struct tm tm;
	FILE *f;

	if (!g->log)
		return;
	f = fopen(g->log, "ae");
	if (!f)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (g->json_log) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "level", json_object_new_string(level));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		json_object_object_add(o, "time", json_object_new_string(ts));
		fprintf(f, "%s\n", json_object_to_json_string_ext(
				o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", ts, level, msg);
	}
	fclose(f);
}

static int fail(const struct oci_cli *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(const struct oci_cli *g, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", g->prog, msg);
	log_line(g, "error", msg);
	return 1;
}

static int fail_err(const struct oci_cli *g, const struct error *err)
{
	return fail(g, "%s", err->msg);
}

/* "--name=value" or "--name value": the value, advancing *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (!strcmp(argv[*i], name) && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static bool is_opt(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

/* ---- create ------------------------------------------------------------ */

static int connect_console(const char *path, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_input(err, "--console-socket: path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(err, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_sys(err, "--console-socket %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int write_pid_file(const char *path, pid_t pid, struct error *err)
{
	char tmp[4200], val[32];
	int fd, n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_input(err, "--pid-file: path too long");
	n = snprintf(val, sizeof(val), "%d", (int)pid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, val, (size_t)n) != n) {
		if (fd >= 0)
			close(fd);
		return err_sys(err, "--pid-file %s", path);
	}
	close(fd);
	if (rename(tmp, path) < 0)
		return err_sys(err, "--pid-file %s", path);
	return 0;
}

static int cmd_create(const struct oci_cli *g, int argc, char **argv)
{
	const char *bundle = ".", *pid_file = NULL, *console = NULL, *id = NULL;
	struct ct_create_opts o = { .console_socket = -1, .detached = true };
	struct oci_config oc;
	struct error err = { 0 };
	char abs[4096];
	struct ct *ct;
	int i, r;
	const char *v;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--bundle")) ||
		    (v = opt_value(argc, argv, &i, "-b")))
			bundle = v;
		else if ((v = opt_value(argc, argv, &i, "--pid-file")))
			pid_file = v;
		else if ((v = opt_value(argc, argv, &i, "--console-socket")))
			console = v;
		else if ((v = opt_value(argc, argv, &i, "--preserve-fds")))
			o.preserve_fds = atoi(v);
		else if (is_opt(argv[i], "--no-pivot") ||
			 is_opt(argv[i], "--no-new-keyring"))
			;	/* vessel always pivots; keyrings: see README */
		else if (argv[i][0] == '-')
			return fail(g, "create: unknown option %s", argv[i]);
		else if (!id)
			id = argv[i];
		else
			return fail(g, "create: one ID only");
	}
	if (!id)
		return fail(g, "create: no container ID");
	if (o.preserve_fds < 0 || o.preserve_fds > 1024)
		return fail(g, "--preserve-fds: 0..1024");
	if (ct_id_check(id, &err) < 0)
		return fail_err(g, &err);
	if (!realpath(bundle, abs))
		return fail(g, "--bundle %s: %s", bundle, strerror(errno));
	if (oci_spec_load(abs, &oc, stderr, &err) < 0)
		return fail(g, "%s/config.json: %s", abs, err.msg);
	if (console) {
		o.console_socket = connect_console(console, &err);
		if (o.console_socket < 0) {
			oci_spec_free(&oc);
			return fail_err(g, &err);
		}
	}
	o.id = id;
	o.spec = &oc.spec;
	o.state_root = g->root;
	o.bundle = abs;
	o.annotations = oc.annotations;
	r = container_create(&oc.ct, &o, &ct, &err);
	if (r == 0 && pid_file && write_pid_file(pid_file, container_pid(ct),
						 &err) < 0) {
		container_destroy(ct, &(struct error){ 0 });
		r = -1;
	} else if (r == 0) {
		container_release(ct);
	}
	if (o.console_socket >= 0)
		close(o.console_socket);
	oci_spec_free(&oc);
	return r < 0 ? fail_err(g, &err) : 0;
}

/* ---- commands on one loaded container ---------------------------------- */

static int load(const struct oci_cli *g, const char *id, struct ct **ct)
{
	struct error err = { 0 };

	if (container_load(g->root, id, ct, &err) < 0)
		return fail_err(g, &err);
	return 0;
}

/* The one positional argument. */
static const char *only_id(const struct oci_cli *g, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fail(g, "%s: expected one container ID", argv[0]);
		return NULL;
	}
	return argv[1];
}

/* The hooks of the container's config.json (read again from its
 * bundle), or NULL; *oc to free. Not read when its state says the
 * config had no poststart or poststop hooks when it was created. */
static const struct oci_hooks *bundle_hooks(const struct ct *ct,
					    struct oci_config *oc)
{
	struct error err = { 0 };

	memset(oc, 0, sizeof(*oc));
	if (!ct->bundle || !ct->late_hooks ||
	    oci_spec_load(ct->bundle, oc, NULL, &err) < 0)
		return NULL;
	return oc->spec.hooks;
}

/* poststart and poststop: a failure is a warning (runtime-spec). */
static void run_late_hooks(const struct oci_cli *g,
			   const struct oci_hooks *hk,
			   enum oci_hook_stage stage, const char *state)
{
	struct error err = { 0 };

	if (hk && state && oci_hooks_run(hk, stage, state, &err) < 0) {
		fprintf(stderr, "%s: warning: %s\n", g->prog, err.msg);
		log_line(g, "warning", err.msg);
	}
}

static int cmd_start(const struct oci_cli *g, int argc, char **argv)
{
	const char *id = only_id(g, argc, argv);
	struct error err = { 0 };
	struct oci_config oc;
	char *state;
	struct ct *ct;
	int r;

	if (!id || load(g, id, &ct))
		return 1;
	r = container_start(ct, &err);
	if (r == 0) {
		const struct oci_hooks *hk = bundle_hooks(ct, &oc);

		state = hk ? ct_state_oci_text(ct, NULL) : NULL;
		run_late_hooks(g, hk, HOOK_POSTSTART, state);
		free(state);
		oci_spec_free(&oc);
	}
	container_release(ct);
	return r < 0 ? fail_err(g, &err) : 0;
}

static int cmd_state(const struct oci_cli *g, int argc, char **argv)
{
	const char *id = only_id(g, argc, argv);
	json_object *o;
	struct ct *ct;

	if (!id || load(g, id, &ct))
		return 1;
	o = ct_state_oci(ct);
	printf("%s\n", json_object_to_json_string_ext(o,
						       JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	container_release(ct);
	return 0;
}

static int parse_signal(const char *s)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
		{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
		{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
		{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
		{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
		{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
		{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
		{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
		{ "WINCH", SIGWINCH }, { "IO", SIGIO }, { "PWR", SIGPWR },
		{ "SYS", SIGSYS },
	};
	char *end;
	long n;
	size_t i;

	n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (!strncasecmp(s, "RTMIN+", 6)) {
		n = strtol(s + 6, &end, 10);
		return *end || n < 0 || SIGRTMIN + n > SIGRTMAX ? -1 :
		       SIGRTMIN + (int)n;
	}
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcasecmp(sigs[i].name, s))
			return sigs[i].sig;
	return -1;
}

static int cmd_kill(const struct oci_cli *g, int argc, char **argv)
{
	const char *id = NULL, *sigs = "SIGTERM";
	struct error err = { 0 };
	bool all = false;
	struct ct *ct;
	int i, sig, r, npos = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
			all = true;
		else if (argv[i][0] == '-' && npos == 0)
			return fail(g, "kill: unknown option %s", argv[i]);
		else if (npos++ == 0)
			id = argv[i];
		else if (npos == 2)
			sigs = argv[i];
		else
			return fail(g, "kill: too many arguments");
	}
	if (!id)
		return fail(g, "kill: no container ID");
	sig = parse_signal(sigs);
	if (sig < 0)
		return fail(g, "kill: unknown signal '%s'", sigs);
	if (load(g, id, &ct))
		return 1;
	r = container_kill(ct, sig, all, &err);
	container_release(ct);
	return r < 0 ? fail_err(g, &err) : 0;
}

static int cmd_delete(const struct oci_cli *g, int argc, char **argv)
{
	struct oci_config oc;
	struct error err = { 0 };
	const char *id = NULL;
	enum ct_status st;
	bool force = false;
	struct ct *ct;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = true;
		else if (argv[i][0] == '-')
			return fail(g, "delete: unknown option %s", argv[i]);
		else if (!id)
			id = argv[i];
		else
			return fail(g, "delete: one ID only");
	}
	if (!id)
		return fail(g, "delete: no container ID");
	if (container_load(g->root, id, &ct, &err) < 0) {
		/* --force: a container that is not there is deleted. */
		if (force && err.input && strstr(err.msg, "does not exist"))
			return 0;
		return fail_err(g, &err);
	}
	st = container_status(ct);
	if (!force && st != CT_STOPPED && st != CT_CREATED) {
		container_release(ct);
		return fail(g, "cannot delete container %s: it is %s (use "
			    "--force)", id, container_status_name(st));
	}
	{
		const struct oci_hooks *hk = bundle_hooks(ct, &oc);
		char *state = hk ? ct_state_oci_text(ct, "stopped") : NULL;
		int r = container_destroy(ct, &err);

		run_late_hooks(g, hk, HOOK_POSTSTOP, state);
		free(state);
		oci_spec_free(&oc);
		if (r < 0)
			return fail_err(g, &err);
	}
	return 0;
}

/* exec [--process F] [--detach] [--pid-file F] [--console-socket S]
 * [--tty] [--preserve-fds N] ID [ARGS...]: the bundle's config.json with
 * its process replaced by F (or its args by ARGS). Without --detach the
 * exit status is the process's (128+N for signal N). */
static int cmd_exec(const struct oci_cli *g, int argc, char **argv)
{
	const char *process = NULL, *pid_file = NULL, *console = NULL, *id = NULL;
	struct ct_exec_opts o = { .console_socket = -1 };
	bool detach = false, tty = false;
	struct error err = { 0 };
	struct oci_config oc;
	struct ct *ct = NULL;
	int i, st, rc = 1;
	const char *v;
	pid_t pid;

	for (i = 1; i < argc && !id; i++) {
		if ((v = opt_value(argc, argv, &i, "--process")) ||
		    (v = opt_value(argc, argv, &i, "-p")))
			process = v;
		else if ((v = opt_value(argc, argv, &i, "--pid-file")))
			pid_file = v;
		else if ((v = opt_value(argc, argv, &i, "--console-socket")))
			console = v;
		else if ((v = opt_value(argc, argv, &i, "--preserve-fds")))
			o.preserve_fds = atoi(v);
		else if (!strcmp(argv[i], "--detach") || !strcmp(argv[i], "-d"))
			detach = true;
		else if (!strcmp(argv[i], "--tty") || !strcmp(argv[i], "-t"))
			tty = true;
		else if (argv[i][0] == '-')
			return fail(g, "exec: unknown option %s", argv[i]);
		else
			id = argv[i];
	}
	if (!id)
		return fail(g, "exec: no container ID");
	if (!process && i >= argc)
		return fail(g, "exec: --process FILE or a command is needed");
	if (o.preserve_fds < 0 || o.preserve_fds > 1024)
		return fail(g, "--preserve-fds: 0..1024");
	if (load(g, id, &ct))
		return 1;
	if (!ct->bundle || oci_spec_load(ct->bundle, &oc, NULL, &err) < 0) {
		container_release(ct);
		return fail(g, "exec: the container's config.json: %s",
			    ct->bundle ? err.msg : "no bundle");
	}
	if (process) {
		char *text;
		size_t len;

		if (oci_read_file(process, &text, &len, &err) < 0 ||
		    oci_spec_process(text, len, &oc, stderr, &err) < 0) {
			if (err.msg[0])
				fail_err(g, &err);
			goto out;
		}
		free(text);
	} else {
		char **args = calloc((size_t)(argc - i) + 1, sizeof(*args));
		int k;

		for (k = 0; args && k < argc - i; k++)
			args[k] = strdup(argv[i + k]);
		for (k = 0; k < (int)oc.ct.ncommand; k++)
			free(oc.ct.command[k]);
		free(oc.ct.command);
		oc.ct.command = args;
		oc.ct.ncommand = args ? (size_t)(argc - i) : 0;
		oc.spec.terminal = tty;
	}
	if (console) {
		o.console_socket = connect_console(console, &err);
		if (o.console_socket < 0) {
			fail_err(g, &err);
			goto out;
		}
	}
	pid = container_exec(ct, &oc.ct, &oc.spec, &o, &err);
	container_release(ct);
	ct = NULL;
	if (pid < 0) {
		fail_err(g, &err);
		goto out;
	}
	if (pid_file && write_pid_file(pid_file, pid, &err) < 0) {
		fail_err(g, &err);
		goto out;
	}
	rc = 0;
	if (!detach) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		rc = WIFEXITED(st) ? WEXITSTATUS(st) :
		     WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
	}
out:
	if (o.console_socket >= 0)
		close(o.console_socket);
	if (ct)
		container_release(ct);
	oci_spec_free(&oc);
	return rc;
}

static int cmd_pause(const struct oci_cli *g, int argc, char **argv,
		     bool pause)
{
	const char *id = only_id(g, argc, argv);
	struct error err = { 0 };
	struct ct *ct;
	int r;

	if (!id || load(g, id, &ct))
		return 1;
	r = container_pause(ct, pause, &err);
	container_release(ct);
	return r < 0 ? fail_err(g, &err) : 0;
}

static bool format_json(int argc, char **argv, int *i)
{
	const char *v = opt_value(argc, argv, i, "--format");

	if (!v)
		v = opt_value(argc, argv, i, "-f");
	return v && !strcmp(v, "json");
}

static int cmd_list(const struct oci_cli *g, int argc, char **argv)
{
	bool json = false, quiet = false;
	struct error err = { 0 };
	json_object *arr;
	char **ids;
	size_t n, k;
	int i;

	for (i = 1; i < argc; i++) {
		if (is_opt(argv[i], "--format") || is_opt(argv[i], "-f"))
			json = format_json(argc, argv, &i);
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else
			return fail(g, "list: unknown argument %s", argv[i]);
	}
	if (ct_state_list(g->root, &ids, &n, &err) < 0)
		return fail_err(g, &err);
	arr = json_object_new_array();
	if (!json && !quiet)
		printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS",
		       "BUNDLE", "CREATED");
	for (k = 0; k < n; k++) {
		struct ct *ct;
		json_object *o;

		if (container_load(g->root, ids[k], &ct, &err) == 0) {
			o = ct_state_oci(ct);
			if (quiet)
				printf("%s\n", ids[k]);
			else if (!json)
				printf("%-20s %-8d %-10s %-40s %s\n", ids[k],
				       json_object_get_int(
					       json_object_object_get(o, "pid")),
				       json_object_get_string(
					       json_object_object_get(o, "status")),
				       ct->bundle ? ct->bundle : "",
				       ct->created ? ct->created : "");
			json_object_array_add(arr, o);
			container_release(ct);
		}
		free(ids[k]);
	}
	free(ids);
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
			       arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return 0;
}

static int cmd_ps(const struct oci_cli *g, int argc, char **argv)
{
	const char *id = NULL;
	bool json = false;
	pid_t pids[4096];
	struct ct *ct;
	size_t n = 0, k;
	int i;

	for (i = 1; i < argc; i++) {
		if (is_opt(argv[i], "--format") || is_opt(argv[i], "-f"))
			json = format_json(argc, argv, &i);
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			return fail(g, "ps: only --format json|table ID is "
				    "supported (no ps(1) arguments)");
	}
	if (!id)
		return fail(g, "ps: no container ID");
	if (load(g, id, &ct))
		return 1;
	if (ct->cg)
		n = cgroup_pids(ct->cg, pids, sizeof(pids) / sizeof(pids[0]));
	container_release(ct);
	if (json) {
		printf("[");
		for (k = 0; k < n; k++)
			printf("%s%d", k ? "," : "", (int)pids[k]);
		printf("]\n");
	} else {
		printf("PID\n");
		for (k = 0; k < n; k++)
			printf("%d\n", (int)pids[k]);
	}
	return 0;
}

static void add_strings(json_object *o, const char *key,
			const char *const *v)
{
	json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	json_object_object_add(o, key, a);
}

static int cmd_features(void)
{
	static const char *const mount_opts[] = { "ro", "rw", "nosuid",
		"suid", "nodev", "dev", "noexec", "exec", "sync", "async",
		"dirsync", "noatime", "atime", "nodiratime", "diratime",
		"relatime", "norelatime", "strictatime", "nostrictatime",
		"mand", "nomand", "bind", "rbind", "private", "rprivate",
		"shared", "rshared", "slave", "rslave", "unbindable",
		"runbindable", NULL };
	static const char *const ns[] = { "cgroup", "ipc", "mount", "network",
		"pid", "user", "uts", NULL };
	static const char *const actions[] = { "SCMP_ACT_ALLOW",
		"SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
		"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE",
		"SCMP_ACT_TRAP", NULL };
	static const char *const ops[] = { "SCMP_CMP_EQ", "SCMP_CMP_GE",
		"SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
		"SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL };
	static const char *const archs[] = { "SCMP_ARCH_X86",
		"SCMP_ARCH_X86_64", "SCMP_ARCH_X32", NULL };
	static const char *const hooks[] = { "prestart", "createRuntime",
		"createContainer", "startContainer", "poststart", "poststop",
		NULL };
	json_object *o = json_object_new_object(), *l, *cg, *sc, *off;

	json_object_object_add(o, "ociVersionMin",
			       json_object_new_string("1.0.0"));
	json_object_object_add(o, "ociVersionMax",
			       json_object_new_string(OCI_SPEC_VERSION));
	add_strings(o, "hooks", hooks);
	add_strings(o, "mountOptions", mount_opts);
	l = json_object_new_object();
	add_strings(l, "namespaces", ns);
	cg = json_object_new_object();
	json_object_object_add(cg, "v1", json_object_new_boolean(1));
	json_object_object_add(cg, "v2", json_object_new_boolean(1));
	json_object_object_add(cg, "systemd", json_object_new_boolean(0));
	json_object_object_add(cg, "systemdUser", json_object_new_boolean(0));
	json_object_object_add(l, "cgroup", cg);
	sc = json_object_new_object();
	json_object_object_add(sc, "enabled", json_object_new_boolean(1));
	add_strings(sc, "actions", actions);
	add_strings(sc, "operators", ops);
	add_strings(sc, "archs", archs);
	json_object_object_add(l, "seccomp", sc);
	off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(0));
	json_object_object_add(l, "apparmor", off);
	off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(0));
	json_object_object_add(l, "selinux", off);
	json_object_object_add(o, "linux", l);
	printf("%s\n", json_object_to_json_string_ext(o,
						       JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [GLOBAL OPTIONS] COMMAND [OPTIONS] ID\n"
		"\n"
		"vessel's OCI runtime (runc-compatible command line).\n"
		"\n"
		"global options:\n"
		"  --root DIR              state directory (default " DEFAULT_ROOT ")\n"
		"  --log FILE              also write errors to FILE\n"
		"  --log-format text|json  format of --log\n"
		"  --debug                 accepted\n"
		"  --systemd-cgroup        not supported (an error)\n"
		"  --version               print the version\n"
		"\n"
		"commands:\n"
		"  create [--bundle DIR] [--pid-file F] [--console-socket S]\n"
		"         [--preserve-fds N] [--no-pivot] [--no-new-keyring] ID\n"
		"  start ID | state ID | pause ID | resume ID\n"
		"  kill [--all] ID [SIGNAL]      (default SIGTERM)\n"
		"  delete [--force] ID\n"
		"  list [--format table|json] [-q]\n"
		"  ps [--format table|json] ID\n"
		"  update --resources FILE|- ID\n"
		"  exec [--process F] [--detach] [--pid-file F] [--console-socket S]\n"
		"       [--tty] [--preserve-fds N] ID [ARGS...]\n"
		"  features\n", prog);
}

/* update --resources FILE|- ID: new memory, swap, cpu and pids limits. */
static int cmd_update(const struct oci_cli *g, int argc, char **argv)
{
	const char *file = NULL, *id = NULL, *v;
	struct error err = { 0 };
	struct oci_config oc;
	char *text = NULL;
	struct ct *ct;
	size_t len = 0;
	int i, r;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--resources")) ||
		    (v = opt_value(argc, argv, &i, "-r")))
			file = v;
		else if (argv[i][0] == '-')
			return fail(g, "update: only --resources FILE|- is "
				    "supported, not %s", argv[i]);
		else if (!id)
			id = argv[i];
		else
			return fail(g, "update: one ID only");
	}
	if (!id || !file)
		return fail(g, "update: --resources FILE|- and an ID are needed");
	if (!strcmp(file, "-")) {
		size_t cap = 0;
		ssize_t n;

		for (;;) {
			if (len + 4096 + 1 > cap) {
				char *nt = cap > (4 << 20) ? NULL :
					   realloc(text, cap = len + 65536);

				if (!nt) {
					free(text);
					return fail(g, "update: stdin too large");
				}
				text = nt;
			}
			n = read(0, text + len, 4096);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		text[len] = '\0';
	} else if (oci_read_file(file, &text, &len, &err) < 0) {
		return fail_err(g, &err);
	}
	r = oci_spec_resources(text, len, &oc, &err);
	free(text);
	if (r < 0) {
		oci_spec_free(&oc);
		return fail_err(g, &err);
	}
	if (load(g, id, &ct)) {
		oci_spec_free(&oc);
		return 1;
	}
	r = !ct->cg ? err_set(&err, "container %s has no cgroup", id) :
	    cgroup_update(ct->cg, &oc.ct, oc.spec.memory_swap, &err);
	if (r == 0 && oc.spec.cpu_shares)
		r = cgroup_set_cpu_shares(ct->cg, oc.spec.cpu_shares, &err);
	container_release(ct);
	oci_spec_free(&oc);
	return r < 0 ? fail_err(g, &err) : 0;
}

static int cmd_resume(const struct oci_cli *g, int argc, char **argv)
{
	return cmd_pause(g, argc, argv, false);
}

static int cmd_suspend(const struct oci_cli *g, int argc, char **argv)
{
	return cmd_pause(g, argc, argv, true);
}

static const struct {
	const char *name;
	int (*fn)(const struct oci_cli *g, int argc, char **argv);
} commands[] = {
	{ "create", cmd_create }, { "start", cmd_start },
	{ "state", cmd_state }, { "kill", cmd_kill },
	{ "delete", cmd_delete }, { "list", cmd_list }, { "ps", cmd_ps },
	{ "exec", cmd_exec }, { "pause", cmd_suspend },
	{ "resume", cmd_resume }, { "update", cmd_update },
};

int oci_main(const char *prog, int argc, char **argv)
{
	struct oci_cli g = { .prog = prog, .root = DEFAULT_ROOT };
	const char *v, *cmd;
	size_t k;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if ((v = opt_value(argc, argv, &i, "--root"))) {
			g.root = v;
		} else if ((v = opt_value(argc, argv, &i, "--log"))) {
			g.log = v;
		} else if ((v = opt_value(argc, argv, &i, "--log-format"))) {
			if (strcmp(v, "text") && strcmp(v, "json"))
				return fail(&g, "--log-format: text or json");
			g.json_log = !strcmp(v, "json");
		} else if (!strcmp(argv[i], "--debug")) {
			g.debug = true;
		} else if (is_opt(argv[i], "--systemd-cgroup")) {
			return fail(&g, "--systemd-cgroup: vessel manages "
				    "cgroups itself (cgroupfs); it cannot "
				    "place containers through systemd. "
				    "Configure the caller for cgroupfs "
				    "(podman: --cgroup-manager cgroupfs; "
				    "containerd: SystemdCgroup = false)");
		} else if (!strcmp(argv[i], "--version") ||
			   !strcmp(argv[i], "-v")) {
			printf("%s version %s\ncommit: none\nspec: %s\n", prog,
			       VESSEL_VERSION, OCI_SPEC_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout, prog);
			return 0;
		} else {
			return fail(&g, "unknown global option %s", argv[i]);
		}
	}
	if (i >= argc) {
		usage(stderr, prog);
		return 1;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(cmd, commands[k].name))
			return commands[k].fn(&g, argc, argv);
	if (!strcmp(cmd, "features"))
		return cmd_features();
	if (!strcmp(cmd, "help")) {
		usage(stdout, prog);
		return 0;
	}
	return fail(&g, "unknown command '%s' (%s --help lists them; run "
		    "is not implemented yet)", cmd, prog);
}

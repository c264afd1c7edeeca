/* config.json -> container_config + ct_spec (oci_spec.h). */
#include "oci_spec.h"
#include "oci_hooks.h"
#include "oci_json.h"
#include "oci_mounts.h"
#include "oci_seccomp.h"
#include "sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_IDMAPS 5		/* the kernel takes 340 lines; runc 5 */

struct parser {
	struct oci_config *oc;
	const char *bundle;
	FILE *warn;
	struct error *err;
};

static void warn(struct parser *p, const char *field)
{
	if (p->warn)
		fprintf(p->warn, "vessel-runc: warning: %s is ignored\n",
			field);
}

/* A non-empty object or array (an empty one is as good as absent). */
static bool present(json_object *o)
{
	if (!o)
		return false;
	if (json_object_is_type(o, json_type_object))
		return json_object_object_length(o) > 0;
	if (json_object_is_type(o, json_type_array))
		return json_object_array_length(o) > 0;
	return true;
}

static int unsupported(struct parser *p, json_object *o, const char *field)
{
	if (present(o))
		return err_input(p->err, "%s: not supported by vessel", field);
	return 0;
}

/* No "..": a path that must stay where it is put. */
static bool has_dotdot(const char *path)
{
	const char *s = path;

	while ((s = strstr(s, ".."))) {
		if ((s == path || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
		s += 2;
	}
	return false;
}

/* A path relative to the bundle (or absolute), as a heap string. */
static int bundle_path(struct parser *p, const char *path, const char *field,
		       char **out)
{
	if (has_dotdot(path))
		return err_input(p->err, "%s: '%.200s' has a '..' component",
				 field, path);
	if (path[0] == '/') {
		*out = strdup(path);
	} else if (asprintf(out, "%s/%s", p->bundle, path) < 0) {
		*out = NULL;
	}
	if (!*out)
		return err_set(p->err, "out of memory");
	return 0;
}

/* ---- capabilities ------------------------------------------------------ */

static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID",
	"KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
	"NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
	"SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
	"AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE",
	"MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
	"PERFMON", "BPF", "CHECKPOINT_RESTORE",
};

static int cap_set(struct parser *p, json_object *arr, const char *field,
		   uint64_t *out)
{
	char where[64];
	size_t i, j, n;

	*out = 0;
	if (oj_array(arr, field, &n, p->err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		const char *name;

		snprintf(where, sizeof(where), "%s[%zu]", field, i);
		if (!v || !json_object_is_type(v, json_type_string))
			return err_input(p->err, "%s: must be a string", where);
		name = json_object_get_string(v);
		if (!strncmp(name, "CAP_", 4))
			name += 4;
		for (j = 0; j < N(cap_names); j++)
			if (!strcmp(cap_names[j], name))
				break;
		if (j == N(cap_names))
			return err_input(p->err, "%s: unknown capability "
					 "'%.64s'", where,
					 json_object_get_string(v));
		*out |= 1ULL << j;
	}
	return 0;
}

static int parse_caps(struct parser *p, json_object *o)
{
	static const char *const keys[] = { "bounding", "effective",
		"inheritable", "permitted", "ambient", NULL };
	struct ct_spec *s = &p->oc->spec;

	if (oj_check_keys(o, "process.capabilities", keys, p->err) < 0)
		return -1;
	s->caps_explicit = true;
	if (!o)
		return 0;	/* no capabilities at all */
	return cap_set(p, oj_get(o, "bounding"),
		       "process.capabilities.bounding", &s->cap_bounding) ||
	       cap_set(p, oj_get(o, "effective"),
		       "process.capabilities.effective", &s->cap_effective) ||
	       cap_set(p, oj_get(o, "inheritable"),
		       "process.capabilities.inheritable",
		       &s->cap_inheritable) ||
	       cap_set(p, oj_get(o, "permitted"),
		       "process.capabilities.permitted", &s->cap_permitted) ||
	       cap_set(p, oj_get(o, "ambient"),
		       "process.capabilities.ambient", &s->cap_ambient) ? -1 : 0;
}

/* ---- process -------------------------------------------------------------- */

static const struct { const char *name; int res; } rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU }, { "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE }, { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits(struct parser *p, json_object *arr)
{
	static const char *const keys[] = { "type", "hard", "soft", NULL };
	struct ct_spec *s = &p->oc->spec;
	char where[64], sub[80];
	size_t i, j, n;

	if (oj_array(arr, "process.rlimits", &n, p->err) < 0)
		return -1;
	if (n > CT_MAX_RLIMITS)
		return err_input(p->err, "process.rlimits: more than %d "
				 "entries", CT_MAX_RLIMITS);
	s->nrlimits = 0;
	for (i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i), *t;
		struct ct_rlimit *l = &s->rlimits[s->nrlimits];

		snprintf(where, sizeof(where), "process.rlimits[%zu]", i);
		if (!r || oj_check_keys(r, where, keys, p->err) < 0)
			return r ? -1 : err_input(p->err, "%s: must be an "
						  "object", where);
		t = oj_get(r, "type");
		for (j = 0; t && json_object_is_type(t, json_type_string) &&
		     j < N(rlimit_names); j++)
			if (!strcmp(rlimit_names[j].name,
				    json_object_get_string(t)))
				break;
		if (!t || !json_object_is_type(t, json_type_string) ||
		    j == N(rlimit_names))
			return err_input(p->err, "%s.type: not a known "
					 "RLIMIT_*", where);
		l->resource = rlimit_names[j].res;
		snprintf(sub, sizeof(sub), "%s.hard", where);
		if (oj_u64(oj_get(r, "hard"), sub, UINT64_MAX, &l->hard,
			   p->err) < 0)
			return -1;
		snprintf(sub, sizeof(sub), "%s.soft", where);
		if (oj_u64(oj_get(r, "soft"), sub, UINT64_MAX, &l->soft,
			   p->err) < 0)
			return -1;
		if (l->soft > l->hard)
			return err_input(p->err, "%s: soft above hard", where);
		s->nrlimits++;
	}
	return 0;
}

static int parse_user(struct parser *p, json_object *u)
{
	static const char *const keys[] = { "uid", "gid", "umask",
		"additionalGids", "username", NULL };
	struct ct_spec *s = &p->oc->spec;
	json_object *g;
	int64_t v = 0;
	size_t i, n;

	if (oj_check_keys(u, "process.user", keys, p->err) < 0)
		return -1;
	if (oj_i64(oj_get(u, "uid"), "process.user.uid", 0, UINT32_MAX - 1,
		   &v, p->err) < 0)
		return -1;
	p->oc->ct.uid = (uid_t)v;
	v = 0;
	if (oj_i64(oj_get(u, "gid"), "process.user.gid", 0, UINT32_MAX - 1,
		   &v, p->err) < 0)
		return -1;
	p->oc->ct.gid = (gid_t)v;
	if (oj_get(u, "umask")) {
		if (oj_i64(oj_get(u, "umask"), "process.user.umask", 0, 0777,
			   &v, p->err) < 0)
			return -1;
		s->has_umask = true;
		s->umask = (mode_t)v;
	}
	g = oj_get(u, "additionalGids");
	if (oj_array(g, "process.user.additionalGids", &n, p->err) < 0)
		return -1;
	if (n > 64)
		return err_input(p->err, "process.user.additionalGids: more "
				 "than 64 groups");
	s->groups = calloc(n ? n : 1, sizeof(*s->groups));
	if (!s->groups)
		return err_set(p->err, "out of memory");
	for (i = 0; i < n; i++) {
		if (oj_i64(json_object_array_get_idx(g, i),
			   "process.user.additionalGids[]", 0, UINT32_MAX - 1,
			   &v, p->err) < 0)
			return -1;
		if (!json_object_array_get_idx(g, i))
			return err_input(p->err, "process.user.additionalGids:"
					 " null entry");
		s->groups[i] = (gid_t)v;
	}
	s->ngroups = n;
	return 0;
}

static int parse_process(struct parser *p, json_object *o)
{
	static const char *const keys[] = { "terminal", "consoleSize", "user",
		"args", "env", "cwd", "capabilities", "rlimits",
		"noNewPrivileges", "apparmorProfile", "selinuxLabel",
		"oomScoreAdj", "scheduler", "ioPriority", "execCPUAffinity",
		"commandLine", NULL };
	struct container_config *c = &p->oc->ct;
	struct ct_spec *s = &p->oc->spec;
	int64_t adj = 0;
	size_t i;

	if (!o)
		return err_input(p->err, "process: missing");
	if (oj_check_keys(o, "process", keys, p->err) < 0 ||
	    unsupported(p, oj_get(o, "scheduler"), "process.scheduler") < 0 ||
	    unsupported(p, oj_get(o, "ioPriority"), "process.ioPriority") < 0 ||
	    unsupported(p, oj_get(o, "execCPUAffinity"),
			"process.execCPUAffinity") < 0 ||
	    unsupported(p, oj_get(o, "commandLine"),
			"process.commandLine") < 0 ||
	    oj_bool(oj_get(o, "terminal"), "process.terminal", &s->terminal,
		    p->err) < 0 ||
	    oj_object(oj_get(o, "consoleSize"), "process.consoleSize",
		      p->err) < 0 ||
	    parse_user(p, oj_get(o, "user")) < 0 ||
	    oj_strv(oj_get(o, "args"), "process.args", &c->command,
		    &c->ncommand, p->err) < 0 ||
	    oj_strv(oj_get(o, "env"), "process.env", &c->env, &c->nenv,
		    p->err) < 0 ||
	    oj_string(oj_get(o, "cwd"), "process.cwd", &s->cwd, p->err) < 0 ||
	    parse_rlimits(p, oj_get(o, "rlimits")) < 0 ||
	    oj_bool(oj_get(o, "noNewPrivileges"), "process.noNewPrivileges",
		    &s->no_new_privs, p->err) < 0 ||
	    oj_i64(oj_get(o, "oomScoreAdj"), "process.oomScoreAdj", -1000,
		   1000, &adj, p->err) < 0)
		return -1;
	if (!c->ncommand)
		return err_input(p->err, "process.args: missing or empty");
	for (i = 0; i < c->nenv; i++)
		if (!strchr(c->env[i], '='))
			return err_input(p->err, "process.env[%zu]: not "
					 "KEY=VALUE", i);
	if (!s->cwd || s->cwd[0] != '/')
		return err_input(p->err, "process.cwd: must be an absolute "
				 "path");
	s->has_oom_score_adj = oj_get(o, "oomScoreAdj") != NULL;
	s->oom_score_adj = (int)adj;
	if (oj_get(o, "apparmorProfile"))
		warn(p, "process.apparmorProfile");
	if (oj_get(o, "selinuxLabel"))
		warn(p, "process.selinuxLabel");
	return parse_caps(p, oj_get(o, "capabilities"));
}

/* ---- root, mounts ------------------------------------------------------------ */

static int parse_root(struct parser *p, json_object *o)
{
	static const char *const keys[] = { "path", "readonly", NULL };
	struct container_config *c = &p->oc->ct;
	char *path = NULL;
	struct stat st;
	int r;

	if (!o)
		return err_input(p->err, "root: missing");
	if (oj_check_keys(o, "root", keys, p->err) < 0 ||
	    oj_string(oj_get(o, "path"), "root.path", &path, p->err) < 0 ||
	    oj_bool(oj_get(o, "readonly"), "root.readonly", &c->readonly,
		    p->err) < 0) {
		free(path);
		return -1;
	}
	if (!path || !*path) {
		free(path);
		return err_input(p->err, "root.path: missing");
	}
	r = bundle_path(p, path, "root.path", &c->rootfs);
	free(path);
	if (r < 0)
		return -1;
	if (stat(c->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_input(p->err, "root.path: '%s' is not a directory",
				 c->rootfs);
	return 0;
}

static int parse_mount(struct parser *p, json_object *o, size_t i,
		       struct ct_fsmount *m)
{
	static const char *const keys[] = { "destination", "type", "source",
		"options", "uidMappings", "gidMappings", NULL };
	char where[32], sub[64], **opts = NULL, *src = NULL;
	size_t nopts = 0;
	int r;

	snprintf(where, sizeof(where), "mounts[%zu]", i);
	if (!o || !json_object_is_type(o, json_type_object))
		return err_input(p->err, "%s: must be an object", where);
	snprintf(sub, sizeof(sub), "%s.destination", where);
	if (oj_check_keys(o, where, keys, p->err) < 0 ||
	    unsupported(p, oj_get(o, "uidMappings"), "mounts[].uidMappings") ||
	    unsupported(p, oj_get(o, "gidMappings"), "mounts[].gidMappings") ||
	    oj_string(oj_get(o, "destination"), sub, &m->target, p->err) < 0)
		return -1;
	if (!m->target || m->target[0] != '/' || has_dotdot(m->target))
		return err_input(p->err, "%s: must be an absolute path without "
				 "'..'", sub);
	snprintf(sub, sizeof(sub), "%s.type", where);
	if (oj_string(oj_get(o, "type"), sub, &m->type, p->err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.source", where);
	if (oj_string(oj_get(o, "source"), sub, &src, p->err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.options", where);
	if (oj_strv(oj_get(o, "options"), sub, &opts, &nopts, p->err) < 0) {
		free(src);
		return -1;
	}
	r = oci_mount_options(opts, nopts, m, where, p->err);
	oj_strv_free(opts, nopts);
	if (m->type && !strcmp(m->type, "bind"))
		m->bind = true;
	if (r == 0 && m->bind) {
		if (!src || !*src)
			r = err_input(p->err, "%s.source: a bind needs one",
				      where);
		else
			r = bundle_path(p, src, "mounts[].source", &m->source);
		free(m->type);
		m->type = NULL;
	} else if (r == 0) {
		m->source = src;
		src = NULL;
		if (!m->type || !*m->type)
			r = err_input(p->err, "%s.type: missing", where);
	}
	free(src);
	return r;
}

static int parse_mounts(struct parser *p, json_object *arr)
{
	struct ct_spec *s = &p->oc->spec;
	size_t i, n;

	if (oj_array(arr, "mounts", &n, p->err) < 0)
		return -1;
	s->mounts = calloc(n ? n : 1, sizeof(*s->mounts));
	if (!s->mounts)
		return err_set(p->err, "out of memory");
	for (i = 0; i < n; i++) {
		s->nmounts = i + 1;
		if (parse_mount(p, json_object_array_get_idx(arr, i), i,
				&s->mounts[i]) < 0)
			return -1;
	}
	return 0;
}

/* ---- linux ---------------------------------------------------------------- */

static const struct { const char *name; int flag; } ns_names[] = {
	{ "pid", CLONE_NEWPID }, { "network", CLONE_NEWNET },
	{ "mount", CLONE_NEWNS }, { "ipc", CLONE_NEWIPC },
	{ "uts", CLONE_NEWUTS }, { "user", CLONE_NEWUSER },
	{ "cgroup", CLONE_NEWCGROUP },
};

static int parse_namespaces(struct parser *p, json_object *arr)
{
	static const char *const keys[] = { "type", "path", NULL };
	struct ct_spec *s = &p->oc->spec;
	unsigned long seen = 0;
	char where[48];
	size_t i, j, n;

	if (oj_array(arr, "linux.namespaces", &n, p->err) < 0)
		return -1;
	s->joins = calloc(n ? n : 1, sizeof(*s->joins));
	if (!s->joins)
		return err_set(p->err, "out of memory");
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *t;
		char *path = NULL;

		snprintf(where, sizeof(where), "linux.namespaces[%zu]", i);
		if (!o || oj_check_keys(o, where, keys, p->err) < 0)
			return o ? -1 : err_input(p->err, "%s: must be an "
						  "object", where);
		t = oj_get(o, "type");
		for (j = 0; t && json_object_is_type(t, json_type_string) &&
		     j < N(ns_names); j++)
			if (!strcmp(ns_names[j].name, json_object_get_string(t)))
				break;
		if (!t || !json_object_is_type(t, json_type_string) ||
		    j == N(ns_names))
			return err_input(p->err, "%s.type: not supported by "
					 "vessel", where);
		if (seen & ns_names[j].flag)
			return err_input(p->err, "%s: %s given twice", where,
					 ns_names[j].name);
		seen |= ns_names[j].flag;
		if (oj_string(oj_get(o, "path"), where, &path, p->err) < 0)
			return -1;
		if (!path || !*path) {
			free(path);
			s->ns_new |= ns_names[j].flag;
			continue;
		}
		if (ns_names[j].flag != CLONE_NEWNET &&
		    ns_names[j].flag != CLONE_NEWIPC &&
		    ns_names[j].flag != CLONE_NEWUTS) {
			free(path);
			return err_input(p->err, "%s.path: joining a %s "
					 "namespace is not supported by vessel",
					 where, ns_names[j].name);
		}
		if (path[0] != '/') {
			free(path);
			return err_input(p->err, "%s.path: must be absolute",
					 where);
		}
		s->joins[s->njoins++] = (struct ct_nsjoin){ ns_names[j].flag,
							    path };
	}
	if (!(s->ns_new & CLONE_NEWNS) || !(s->ns_new & CLONE_NEWPID))
		return err_input(p->err, "linux.namespaces: vessel needs a new "
				 "mount and a new pid namespace");
	if ((s->ns_new & CLONE_NEWUSER) && s->njoins)
		return err_input(p->err, "linux.namespaces: joining namespaces "
				 "together with a new user namespace is not "
				 "supported by vessel");
	return 0;
}

static int parse_idmaps(struct parser *p, json_object *arr, const char *field,
			struct ct_idmap **out, size_t *nout)
{
	static const char *const keys[] = { "containerID", "hostID", "size",
					    NULL };
	char where[48];
	uint64_t v[3];
	size_t i, n;

	if (oj_array(arr, field, &n, p->err) < 0)
		return -1;
	if (n > MAX_IDMAPS)
		return err_input(p->err, "%s: more than %d entries", field,
				 MAX_IDMAPS);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return err_set(p->err, "out of memory");
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		snprintf(where, sizeof(where), "%s[%zu]", field, i);
		if (!o || oj_check_keys(o, where, keys, p->err) < 0)
			return o ? -1 : err_input(p->err, "%s: must be an "
						  "object", where);
		v[0] = v[1] = v[2] = 0;
		if (oj_u64(oj_get(o, "containerID"), where, UINT32_MAX, &v[0],
			   p->err) < 0 ||
		    oj_u64(oj_get(o, "hostID"), where, UINT32_MAX, &v[1],
			   p->err) < 0 ||
		    oj_u64(oj_get(o, "size"), where, UINT32_MAX, &v[2],
			   p->err) < 0)
			return -1;
		if (!v[2] || v[0] + v[2] > UINT32_MAX ||
		    v[1] + v[2] > UINT32_MAX)
			return err_input(p->err, "%s: empty or out of range",
					 where);
		(*out)[i] = (struct ct_idmap){ (uint32_t)v[0], (uint32_t)v[1],
					       (uint32_t)v[2] };
	}
	*nout = n;
	return 0;
}

static int parse_sysctl(struct parser *p, json_object *o)
{
	struct ct_spec *s = &p->oc->spec;
	unsigned long own = s->ns_new;
	size_t n = 0;

	/* A namespace joined by path is the container's own too (not the
	 * host's): podman makes the network namespace and passes it. */
	for (n = 0; n < s->njoins; n++)
		own |= (unsigned long)s->joins[n].flag;
	n = 0;
	if (oj_object(o, "linux.sysctl", p->err) < 0)
		return -1;
	if (!o)
		return 0;
	if (json_object_object_length(o) > OCI_MAX_ARRAY)
		return err_input(p->err, "linux.sysctl: too many entries");
	s->sysctl = calloc((size_t)json_object_object_length(o) + 1,
			   sizeof(*s->sysctl));
	if (!s->sysctl)
		return err_set(p->err, "out of memory");
	json_object_object_foreach(o, key, val) {
		if (strlen(key) > 256)
			return err_input(p->err, "linux.sysctl: key too long");
		if (oci_sysctl_check(key, own, p->err) < 0)
			return -1;
		s->sysctl[n].key = strdup(key);
		s->nsysctl = n + 1;
		if (!s->sysctl[n].key ||
		    oj_string(val, "linux.sysctl value", &s->sysctl[n].value,
			      p->err) < 0 || !s->sysctl[n].value)
			return s->sysctl[n].value ? -1 :
			       err_input(p->err, "linux.sysctl.%s: must be a "
					 "string", key);
		n++;
	}
	return 0;
}

/* Device rules: deny-all, and allow rules within vessel's fixed
 * allowlist (devcgroup.h), which is what the container gets. */
static bool in_allowlist(char type, int64_t major, int64_t minor)
{
	static const struct { int major, minor; } ok[] = {
		{ 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 },
		{ 5, 0 }, { 5, 1 }, { 5, 2 }, { 136, -1 },
	};
	size_t i;

	if (type != 'c' || major < 0)
		return false;
	for (i = 0; i < N(ok); i++)
		if (ok[i].major == major &&
		    (ok[i].minor == -1 || ok[i].minor == minor))
			return minor >= 0 || ok[i].minor == -1;
	return false;
}

static int parse_devices(struct parser *p, json_object *arr)
{
	static const char *const keys[] = { "allow", "type", "major", "minor",
					    "access", NULL };
	char where[64];
	size_t i, n;

	if (oj_array(arr, "linux.resources.devices", &n, p->err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		bool allow = false;
		char *type = NULL;
		int64_t major = -1, minor = -1;

		snprintf(where, sizeof(where), "linux.resources.devices[%zu]",
			 i);
		if (!o || oj_check_keys(o, where, keys, p->err) < 0 ||
		    oj_bool(oj_get(o, "allow"), where, &allow, p->err) < 0 ||
		    oj_string(oj_get(o, "type"), where, &type, p->err) < 0 ||
		    oj_i64(oj_get(o, "major"), where, -1, 1 << 20, &major,
			   p->err) < 0 ||
		    oj_i64(oj_get(o, "minor"), where, -1, 1 << 20, &minor,
			   p->err) < 0) {
			free(type);
			return o ? -1 : err_input(p->err, "%s: must be an "
						  "object", where);
		}
		if (allow && !in_allowlist(type ? type[0] : 'a', major,
					   minor)) {
			free(type);
			return err_input(p->err, "%s: allowing this device is "
					 "not supported by vessel (its device "
					 "cgroup allows only null, zero, full, "
					 "random, urandom, tty, console, ptmx "
					 "and the pts)", where);
		}
		free(type);
	}
	return 0;
}

static int parse_memory(struct parser *p, json_object *o)
{
	static const char *const keys[] = { "limit", "swap", "reservation",
		"kernel", "kernelTCP", "swappiness", "disableOOMKiller",
		"useHierarchy", "checkBeforeUpdate", NULL };
	int64_t limit = 0, swap = 0;

	if (oj_check_keys(o, "linux.resources.memory", keys, p->err) < 0 ||
	    unsupported(p, oj_get(o, "reservation"),
			"linux.resources.memory.reservation") < 0 ||
	    unsupported(p, oj_get(o, "kernel"),
			"linux.resources.memory.kernel") < 0 ||
	    unsupported(p, oj_get(o, "kernelTCP"),
			"linux.resources.memory.kernelTCP") < 0 ||
	    unsupported(p, oj_get(o, "swappiness"),
			"linux.resources.memory.swappiness") < 0 ||
	    oj_i64(oj_get(o, "limit"), "linux.resources.memory.limit", -1,
		   INT64_MAX, &limit, p->err) < 0 ||
	    oj_i64(oj_get(o, "swap"), "linux.resources.memory.swap", -1,
		   INT64_MAX, &swap, p->err) < 0)
		return -1;
	if (oj_get(o, "disableOOMKiller") &&
	    json_object_get_boolean(oj_get(o, "disableOOMKiller")))
		return err_input(p->err, "linux.resources.memory."
				 "disableOOMKiller: not supported by vessel");
	if (limit > 0)
		p->oc->ct.memory = (uint64_t)limit;
	if (swap && limit > 0 && swap != -1 && swap < limit)
		return err_input(p->err, "linux.resources.memory.swap: less "
				 "than the limit (it counts memory+swap)");
	p->oc->spec.memory_swap = limit > 0 ? swap : 0;
	return 0;
}

static int parse_cpu(struct parser *p, json_object *o)
{
	static const char *const keys[] = { "quota", "period", "shares",
		"realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle",
		"burst", NULL };
	int64_t quota = 0;
	uint64_t period = 100000;

	if (oj_check_keys(o, "linux.resources.cpu", keys, p->err) < 0 ||
	    oj_u64(oj_get(o, "shares"), "linux.resources.cpu.shares", 262144,
		   &p->oc->spec.cpu_shares, p->err) < 0 ||
	    unsupported(p, oj_get(o, "realtimeRuntime"),
			"linux.resources.cpu.realtimeRuntime") < 0 ||
	    unsupported(p, oj_get(o, "realtimePeriod"),
			"linux.resources.cpu.realtimePeriod") < 0 ||
	    unsupported(p, oj_get(o, "idle"), "linux.resources.cpu.idle") < 0 ||
	    unsupported(p, oj_get(o, "burst"),
			"linux.resources.cpu.burst") < 0 ||
	    oj_i64(oj_get(o, "quota"), "linux.resources.cpu.quota", -1,
		   INT32_MAX, &quota, p->err) < 0 ||
	    oj_u64(oj_get(o, "period"), "linux.resources.cpu.period",
		   1000000, &period, p->err) < 0)
		return -1;
	if ((oj_get(o, "cpus") &&
	     json_object_get_string_len(oj_get(o, "cpus"))) ||
	    (oj_get(o, "mems") &&
	     json_object_get_string_len(oj_get(o, "mems"))))
		return err_input(p->err, "linux.resources.cpu.cpus/mems: not "
				 "supported by vessel");
	if (p->oc->spec.cpu_shares == 1)
		p->oc->spec.cpu_shares = 2;	/* the kernel's minimum */
	if (quota > 0) {
		if (period < 1000)
			return err_input(p->err, "linux.resources.cpu.period: "
					 "at least 1000");
		p->oc->ct.cpus = (double)quota / (double)period;
	}
	return 0;
}

static int parse_resources(struct parser *p, json_object *o)
{
	static const char *const keys[] = { "devices", "memory", "cpu",
		"pids", "blockIO", "hugepageLimits", "network", "rdma",
		"unified", NULL };
	static const char *const pkeys[] = { "limit", NULL };
	json_object *pids = oj_get(o, "pids");
	int64_t limit = 0;

	if (oj_check_keys(o, "linux.resources", keys, p->err) < 0 ||
	    unsupported(p, oj_get(o, "blockIO"),
			"linux.resources.blockIO") < 0 ||
	    unsupported(p, oj_get(o, "hugepageLimits"),
			"linux.resources.hugepageLimits") < 0 ||
	    unsupported(p, oj_get(o, "network"),
			"linux.resources.network") < 0 ||
	    unsupported(p, oj_get(o, "rdma"), "linux.resources.rdma") < 0 ||
	    unsupported(p, oj_get(o, "unified"),
			"linux.resources.unified") < 0 ||
	    parse_devices(p, oj_get(o, "devices")) < 0 ||
	    parse_memory(p, oj_get(o, "memory")) < 0 ||
	    parse_cpu(p, oj_get(o, "cpu")) < 0 ||
	    oj_check_keys(pids, "linux.resources.pids", pkeys, p->err) < 0 ||
	    oj_i64(oj_get(pids, "limit"), "linux.resources.pids.limit", -1,
		   INT32_MAX, &limit, p->err) < 0)
		return -1;
	if (limit > 0)
		p->oc->ct.pids = limit;
	return 0;
}

static int parse_cgroups_path(struct parser *p, json_object *o)
{
	struct ct_spec *s = &p->oc->spec;
	char *path = NULL;

	if (oj_string(o, "linux.cgroupsPath", &path, p->err) < 0)
		return -1;
	if (!path || !*path) {
		free(path);
		return 0;
	}
	if (strchr(path, ':')) {
		free(path);
		return err_input(p->err, "linux.cgroupsPath: the systemd form "
				 "(slice:prefix:name) is not supported by "
				 "vessel (no --systemd-cgroup)");
	}
	if (has_dotdot(path) || strlen(path) > 1024) {
		free(path);
		return err_input(p->err, "linux.cgroupsPath: '..' or too long");
	}
	if (path[0] == '/') {
		s->cgroup_path = path;
	} else {
		if (asprintf(&s->cgroup_path, "/%s", path) < 0)
			s->cgroup_path = NULL;
		free(path);
		if (!s->cgroup_path)
			return err_set(p->err, "out of memory");
	}
	return 0;
}

static int parse_paths(struct parser *p, json_object *arr, const char *field,
		       char ***out, size_t *n)
{
	size_t i;

	if (oj_strv(arr, field, out, n, p->err) < 0)
		return -1;
	for (i = 0; i < *n; i++)
		if ((*out)[i][0] != '/' || has_dotdot((*out)[i]))
			return err_input(p->err, "%s[%zu]: must be an absolute "
					 "path without '..'", field, i);
	return 0;
}

static int parse_linux(struct parser *p, json_object *o)
{
	static const char *const keys[] = { "namespaces", "uidMappings",
		"gidMappings", "sysctl", "resources", "cgroupsPath", "seccomp",
		"rootfsPropagation", "maskedPaths", "readonlyPaths",
		"mountLabel", "devices", "intelRdt", "personality",
		"timeOffsets", NULL };
	struct ct_spec *s = &p->oc->spec;
	json_object *prop = oj_get(o, "rootfsPropagation");

	if (!o)
		return err_input(p->err, "linux: missing");
	if (oj_check_keys(o, "linux", keys, p->err) < 0 ||
	    unsupported(p, oj_get(o, "devices"), "linux.devices") < 0 ||
	    unsupported(p, oj_get(o, "intelRdt"), "linux.intelRdt") < 0 ||
	    unsupported(p, oj_get(o, "personality"), "linux.personality") < 0 ||
	    unsupported(p, oj_get(o, "timeOffsets"), "linux.timeOffsets") < 0 ||
	    parse_namespaces(p, oj_get(o, "namespaces")) < 0 ||
	    parse_idmaps(p, oj_get(o, "uidMappings"), "linux.uidMappings",
			 &s->uidmap, &s->nuidmap) < 0 ||
	    parse_idmaps(p, oj_get(o, "gidMappings"), "linux.gidMappings",
			 &s->gidmap, &s->ngidmap) < 0 ||
	    parse_sysctl(p, oj_get(o, "sysctl")) < 0 ||
	    oj_object(oj_get(o, "resources"), "linux.resources", p->err) < 0 ||
	    parse_resources(p, oj_get(o, "resources")) < 0 ||
	    parse_cgroups_path(p, oj_get(o, "cgroupsPath")) < 0 ||
	    parse_paths(p, oj_get(o, "maskedPaths"), "linux.maskedPaths",
			&s->masked, &s->nmasked) < 0 ||
	    parse_paths(p, oj_get(o, "readonlyPaths"), "linux.readonlyPaths",
			&s->readonly, &s->nreadonly) < 0 ||
	    oci_seccomp_parse(oj_get(o, "seccomp"), &s->seccomp_profile,
			      p->err) < 0)
		return -1;
	if (prop && (!json_object_is_type(prop, json_type_string) ||
		     (strcmp(json_object_get_string(prop), "private") &&
		      strcmp(json_object_get_string(prop), "rprivate") &&
		      strcmp(json_object_get_string(prop), "slave") &&
		      strcmp(json_object_get_string(prop), "rslave"))))
		return err_input(p->err, "linux.rootfsPropagation: only "
				 "private, rprivate, slave or rslave (vessel "
				 "keeps the container's mounts private)");
	if ((s->ns_new & CLONE_NEWUSER) && (!s->nuidmap || !s->ngidmap))
		return err_input(p->err, "linux.uidMappings/gidMappings: a new "
				 "user namespace needs both");
	if (!(s->ns_new & CLONE_NEWUSER) && (s->nuidmap || s->ngidmap))
		return err_input(p->err, "linux.uidMappings: given without a "
				 "user namespace");
	if (oj_get(o, "mountLabel"))
		warn(p, "linux.mountLabel");
	s->seccomp = s->seccomp_profile ? CT_SECCOMP_PROFILE : CT_SECCOMP_NONE;
	return 0;
}

static int parse(struct parser *p, json_object *top)
{
	static const char *const keys[] = { "ociVersion", "process", "root",
		"hostname", "domainname", "mounts", "hooks", "annotations",
		"linux", NULL };
	struct oci_config *oc = p->oc;
	json_object *v = oj_get(top, "ociVersion"), *ann;

	if (!top || !json_object_is_type(top, json_type_object))
		return err_input(p->err, "config.json: not a JSON object");
	if (oj_check_keys(top, "", keys, p->err) < 0)
		return -1;
	if (!v || !json_object_is_type(v, json_type_string) ||
	    strncmp(json_object_get_string(v), "1.", 2))
		return err_input(p->err, "ociVersion: vessel supports 1.x");
	oc->spec.hooks = calloc(1, sizeof(*oc->spec.hooks));
	if (!oc->spec.hooks)
		return err_set(p->err, "out of memory");
	if (oci_hooks_parse(oj_get(top, "hooks"), oc->spec.hooks, p->err) < 0 ||
	    (oj_get(top, "domainname") &&
	     json_object_get_string_len(oj_get(top, "domainname")) &&
	     err_input(p->err, "domainname: not supported by vessel")) ||
	    oj_string(oj_get(top, "hostname"), "hostname",
		      &oc->ct.hostname, p->err) < 0 ||
	    parse_root(p, oj_get(top, "root")) < 0 ||
	    parse_linux(p, oj_get(top, "linux")) < 0 ||
	    parse_process(p, oj_get(top, "process")) < 0 ||
	    parse_mounts(p, oj_get(top, "mounts")) < 0)
		return -1;
	if (oc->ct.hostname && *oc->ct.hostname &&
	    !(oc->spec.ns_new & CLONE_NEWUTS))
		return err_input(p->err, "hostname: needs a new uts namespace");
	if (strlen(oc->ct.hostname ? oc->ct.hostname : "") > 64)
		return err_input(p->err, "hostname: longer than 64 bytes");
	ann = oj_get(top, "annotations");
	if (oj_object(ann, "annotations", p->err) < 0)
		return -1;
	oc->annotations = strdup(ann ? json_object_to_json_string_ext(
					  ann, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "{}");
	if (!oc->annotations)
		return err_set(p->err, "out of memory");
	return 0;
}

int oci_spec_parse(const char *text, size_t len, const char *bundle,
		   struct oci_config *oc, FILE *warnf, struct error *err)
{
	struct parser p = { oc, bundle, warnf, err };
	struct json_tokener *tok;
	json_object *top;
	int r;

	memset(oc, 0, sizeof(*oc));
	oc->spec.oci = true;
	oc->spec.owned = true;
	oc->spec.no_new_privs = false;
	if (len > OCI_MAX_FILE)
		return err_input(err, "config.json: larger than %d bytes",
				 OCI_MAX_FILE);
	tok = json_tokener_new_ex(64);
	if (!tok)
		return err_set(err, "out of memory");
	top = json_tokener_parse_ex(tok, text, (int)len);
	if (!top || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		/* Trailing whitespace is fine. */
		size_t end = json_tokener_get_parse_end(tok);

		while (top && end < len && strchr(" \t\r\n", text[end]))
			end++;
		if (!top || end != len) {
			json_object_put(top);
			json_tokener_free(tok);
			enum json_tokener_error e = json_tokener_get_error(tok);

			return err_input(err, "config.json: not valid JSON "
					 "(%s)", e == json_tokener_continue ||
					 e == json_tokener_success ?
					 "truncated" : json_tokener_error_desc(e));
		}
	}
	json_tokener_free(tok);
	r = parse(&p, top);
	json_object_put(top);
	if (r < 0)
		oci_spec_free(oc);
	return r;
}

int oci_read_file(const char *path, char **out, size_t *len,
		  struct error *err)
{
	return oj_read_file(path, OCI_MAX_FILE, out, len, err);
}

int oci_spec_load(const char *bundle, struct oci_config *oc, FILE *warnf,
		  struct error *err)
{
	char path[4200], *buf;
	size_t len;
	int r;

	memset(oc, 0, sizeof(*oc));
	if ((size_t)snprintf(path, sizeof(path), "%s/config.json", bundle) >=
	    sizeof(path))
		return err_input(err, "--bundle: path too long");
	if (oci_read_file(path, &buf, &len, err) < 0)
		return -1;
	r = oci_spec_parse(buf, len, bundle, oc, warnf, err);
	free(buf);
	return r;
}

int oci_spec_resources(const char *text, size_t len, struct oci_config *oc,
		       struct error *err)
{
	struct parser p = { oc, "/", NULL, err };
	json_object *top;
	int r;

	memset(oc, 0, sizeof(*oc));
	oc->spec.owned = true;
	if (len > OCI_MAX_FILE)
		return err_input(err, "resources: larger than %d bytes",
				 OCI_MAX_FILE);
	top = json_tokener_parse(text);
	if (!top || !json_object_is_type(top, json_type_object)) {
		json_object_put(top);
		return err_input(err, "resources: not a JSON object");
	}
	r = parse_resources(&p, top);
	json_object_put(top);
	return r;
}

int oci_spec_process(const char *text, size_t len, struct oci_config *oc,
		     FILE *warnf, struct error *err)
{
	struct parser p = { oc, "/", warnf, err };
	struct container_config *c = &oc->ct;
	struct ct_spec *s = &oc->spec;
	json_object *top;
	int r;

	if (len > OCI_MAX_FILE)
		return err_input(err, "process: larger than %d bytes",
				 OCI_MAX_FILE);
	top = json_tokener_parse(text);
	if (!top || !json_object_is_type(top, json_type_object)) {
		json_object_put(top);
		return err_input(err, "process: not a JSON object");
	}
	oj_strv_free(c->command, c->ncommand);
	oj_strv_free(c->env, c->nenv);
	c->command = c->env = NULL;
	c->ncommand = c->nenv = 0;
	c->uid = c->gid = 0;
	free(s->cwd);
	free(s->groups);
	s->cwd = NULL;
	s->groups = NULL;
	s->ngroups = 0;
	s->nrlimits = 0;
	s->cap_bounding = s->cap_effective = s->cap_permitted = 0;
	s->cap_inheritable = s->cap_ambient = 0;
	s->no_new_privs = s->terminal = s->has_umask = false;
	s->has_oom_score_adj = false;
	r = parse_process(&p, top);
	json_object_put(top);
	return r;
}

void oci_spec_free(struct oci_config *oc)
{
	struct container_config *c = &oc->ct;

	free(c->rootfs);
	oj_strv_free(c->command, c->ncommand);
	oj_strv_free(c->env, c->nenv);
	free(c->hostname);
	ct_spec_free(&oc->spec);
	free(oc->annotations);
	memset(oc, 0, sizeof(*oc));
}

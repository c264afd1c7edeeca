#include "oci_seccomp.h"
#include "oci_json.h"

#include "../tools/base/fdio.h"
#include "../tools/base/sha256.h"
#include "seccomp_prog.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 6
#define MAX_ARCHES 16

struct sc_rule {
	char **names;
	size_t nnames;
	uint32_t action;
	struct scmp_arg_cmp args[MAX_ARGS];
	size_t nargs;
};

struct oci_seccomp {
	uint32_t default_action;
	uint32_t arches[MAX_ARCHES];
	size_t narches;
	bool flag_log, flag_spec_allow;
	struct sc_rule *rules;
	size_t nrules;
};

static const struct { const char *name; enum scmp_compare op; } ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static const struct { const char *name; uint32_t arch; } arches[] = {
	{ "SCMP_ARCH_X86", SCMP_ARCH_X86 },
	{ "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
	{ "SCMP_ARCH_X32", SCMP_ARCH_X32 },
	{ "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
	{ "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
};

/* action with its errno (errnoRet: EPERM if absent). */
static int parse_action(json_object *obj, json_object *ret, const char *where,
			uint32_t *out, struct error *err)
{
	const char *a;
	int64_t e = EPERM;

	if (!obj || !json_object_is_type(obj, json_type_string))
		return err_input(err, "%s: must be a string", where);
	if (oj_i64(ret, where, 0, 4095, &e, err) < 0)
		return -1;
	a = json_object_get_string(obj);
	if (!strcmp(a, "SCMP_ACT_KILL") || !strcmp(a, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(a, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(a, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (!strcmp(a, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO((uint32_t)e);
	else if (!strcmp(a, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE((uint32_t)e);
	else if (!strcmp(a, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(a, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else
		return err_input(err, "%s: '%.64s' is not supported by vessel",
				 where, a);
	return 0;
}

static int parse_arg(json_object *obj, const char *where,
		     struct scmp_arg_cmp *out, struct error *err)
{
	static const char *const keys[] = { "index", "value", "valueTwo",
					    "op", NULL };
	char sub[300];
	int64_t index = 0;
	uint64_t v1 = 0, v2 = 0;
	json_object *op;
	size_t i;

	if (oj_check_keys(obj, where, keys, err) < 0)
		return -1;
	if (!obj)
		return err_input(err, "%s: must be an object", where);
	snprintf(sub, sizeof(sub), "%.200s.index", where);
	if (!oj_get(obj, "index"))
		return err_input(err, "%s: missing", sub);
	if (oj_i64(oj_get(obj, "index"), sub, 0, MAX_ARGS - 1, &index,
		   err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%.200s.value", where);
	if (oj_u64(oj_get(obj, "value"), sub, UINT64_MAX, &v1, err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%.200s.valueTwo", where);
	if (oj_u64(oj_get(obj, "valueTwo"), sub, UINT64_MAX, &v2, err) < 0)
		return -1;
	op = oj_get(obj, "op");
	for (i = 0; op && json_object_is_type(op, json_type_string) &&
	     i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, json_object_get_string(op)))
			break;
	if (!op || !json_object_is_type(op, json_type_string) ||
	    i == sizeof(ops) / sizeof(ops[0]))
		return err_input(err, "%s.op: not one of SCMP_CMP_NE, LT, LE, "
				 "EQ, GE, GT, MASKED_EQ", where);
	*out = (struct scmp_arg_cmp){ .arg = (unsigned)index, .op = ops[i].op,
				      .datum_a = v1, .datum_b = v2 };
	return 0;
}

static int parse_rule(json_object *obj, const char *where,
		      struct sc_rule *r, struct error *err)
{
	static const char *const keys[] = { "names", "action", "errnoRet",
					    "args", "comment", NULL };
	json_object *args;
	char sub[300];
	size_t i, n;

	if (!obj || oj_object(obj, where, err) < 0)
		return obj ? -1 : err_input(err, "%s: must be an object",
					    where);
	if (oj_check_keys(obj, where, keys, err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%.200s.names", where);
	if (oj_strv(oj_get(obj, "names"), sub, &r->names, &r->nnames,
		    err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%.200s.action", where);
	if (parse_action(oj_get(obj, "action"), oj_get(obj, "errnoRet"), sub,
			 &r->action, err) < 0)
		return -1;
	args = oj_get(obj, "args");
	snprintf(sub, sizeof(sub), "%.200s.args", where);
	if (oj_array(args, sub, &n, err) < 0)
		return -1;
	if (n > MAX_ARGS)
		return err_input(err, "%s: more than %d conditions", sub,
				 MAX_ARGS);
	for (i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%.200s.args[%zu]", where, i);
		if (parse_arg(json_object_array_get_idx(args, i), sub,
			      &r->args[i], err) < 0)
			return -1;
	}
	r->nargs = n;
	return 0;
}

static int parse_top(json_object *obj, struct oci_seccomp *p,
		     struct error *err)
{
	static const char *const keys[] = { "defaultAction", "defaultErrnoRet",
					    "architectures", "flags",
					    "syscalls", NULL };
	json_object *a, *calls;
	char sub[128];
	size_t i, j, n;

	if (oj_check_keys(obj, "linux.seccomp", keys, err) < 0 ||
	    parse_action(oj_get(obj, "defaultAction"),
			 oj_get(obj, "defaultErrnoRet"),
			 "linux.seccomp.defaultAction", &p->default_action,
			 err) < 0)
		return -1;
	a = oj_get(obj, "architectures");
	if (oj_array(a, "linux.seccomp.architectures", &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);

		for (j = 0; v && json_object_is_type(v, json_type_string) &&
		     j < sizeof(arches) / sizeof(arches[0]); j++)
			if (!strcmp(arches[j].name, json_object_get_string(v)))
				break;
		if (!v || !json_object_is_type(v, json_type_string) ||
		    j == sizeof(arches) / sizeof(arches[0]))
			return err_input(err, "linux.seccomp.architectures[%zu]:"
					 " not supported by vessel", i);
		if (p->narches < MAX_ARCHES)
			p->arches[p->narches++] = arches[j].arch;
	}
	a = oj_get(obj, "flags");
	if (oj_array(a, "linux.seccomp.flags", &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		const char *f = v && json_object_is_type(v, json_type_string) ?
				json_object_get_string(v) : "";

		if (!strcmp(f, "SECCOMP_FILTER_FLAG_LOG"))
			p->flag_log = true;
		else if (!strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
			p->flag_spec_allow = true;
		else
			return err_input(err, "linux.seccomp.flags[%zu]: not "
					 "supported by vessel", i);
	}
	calls = oj_get(obj, "syscalls");
	if (oj_array(calls, "linux.seccomp.syscalls", &n, err) < 0)
		return -1;
	p->rules = calloc(n ? n : 1, sizeof(*p->rules));
	if (!p->rules)
		return err_set(err, "out of memory");
	for (i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "linux.seccomp.syscalls[%zu]", i);
		p->nrules = i + 1;
		if (parse_rule(json_object_array_get_idx(calls, i), sub,
			       &p->rules[i], err) < 0)
			return -1;
	}
	return 0;
}

int oci_seccomp_parse(json_object *obj, struct oci_seccomp **out,
		      struct error *err)
{
	struct oci_seccomp *p;

	*out = NULL;
	if (!obj)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(err, "out of memory");
	if (parse_top(obj, p, err) < 0) {
		oci_seccomp_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void oci_seccomp_free(struct oci_seccomp *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrules; i++)
		oj_strv_free(p->rules[i].names, p->rules[i].nnames);
	free(p->rules);
	free(p);
}

/* Conditions on one argument more than once: one rule per condition. */
static bool repeated_arg(const struct sc_rule *r)
{
	size_t i, j;

	for (i = 0; i < r->nargs; i++)
		for (j = i + 1; j < r->nargs; j++)
			if (r->args[i].arg == r->args[j].arg)
				return true;
	return false;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t dflt,
		    const struct sc_rule *r, struct error *err)
{
	size_t i, k;
	int nr, rc;

	if (r->action == dflt)
		return 0;	/* libseccomp refuses rules that change nothing */
	for (i = 0; i < r->nnames; i++) {
		nr = seccomp_syscall_resolve_name(r->names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (!repeated_arg(r)) {
			rc = seccomp_rule_add_array(ctx, r->action, nr,
						    (unsigned)r->nargs,
						    r->args);
		} else {
			rc = 0;
			for (k = 0; !rc && k < r->nargs; k++)
				rc = seccomp_rule_add_array(ctx, r->action, nr,
							    1, &r->args[k]);
		}
		if (rc < 0) {
			errno = -rc;
			return err_sys(err, "seccomp: adding the rule for %s",
				       r->names[i]);
		}
	}
	return 0;
}

/* The filter as libseccomp builds it, exported to a memfd and read back:
 * what seccomp_load() would have loaded. */
static int export_bpf(scmp_filter_ctx ctx, struct seccomp_prog *out,
		      struct error *err)
{
	int fd = memfd_create("vessel-seccomp", MFD_CLOEXEC), rc;
	struct sock_filter *insns;
	struct stat st;
	size_t len;

	if (fd < 0)
		return err_sys(err, "seccomp: memfd_create");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0) {
		close(fd);
		errno = -rc;
		return err_sys(err, "seccomp: compiling the filter");
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_sys(err, "seccomp: the compiled filter");
	}
	len = (size_t)st.st_size / sizeof(*insns);
	if (st.st_size % (off_t)sizeof(*insns) || !len ||
	    len > BPF_MAXINSNS) {
		close(fd);
		return err_set(err, "seccomp: the filter compiles to %lld "
			       "bytes (at most %d instructions of %zu)",
			       (long long)st.st_size, BPF_MAXINSNS,
			       sizeof(*insns));
	}
	insns = malloc(len * sizeof(*insns));
	if (!insns) {
		close(fd);
		return err_set(err, "out of memory");
	}
	if (pread_full(fd, insns, len * sizeof(*insns), 0) !=
	    (ssize_t)(len * sizeof(*insns))) {
		free(insns);
		close(fd);
		return err_sys(err, "seccomp: reading the compiled filter");
	}
	close(fd);
	out->insns = insns;
	out->len = (unsigned short)len;
	out->owned = true;
	return 0;
}

int oci_seccomp_compile(const struct oci_seccomp *p, struct seccomp_prog *out,
			struct error *err)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc = 0;

	*out = (struct seccomp_prog){ 0 };
	ctx = seccomp_init(p->default_action);
	if (!ctx)
		return err_set(err, "seccomp: seccomp_init failed");
	/* no_new_privs is the caller's decision (process.noNewPrivileges). */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (i = 0; !rc && i < p->narches; i++) {
		rc = seccomp_arch_add(ctx, p->arches[i]);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc < 0) {
		seccomp_release(ctx);
		errno = -rc;
		return err_sys(err, "seccomp: adding an architecture");
	}
	for (i = 0; i < p->nrules; i++)
		if (add_rule(ctx, p->default_action, &p->rules[i], err) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	rc = export_bpf(ctx, out, err);
	seccomp_release(ctx);
	if (rc < 0)
		return -1;
	/* What seccomp_load() passes for SCMP_FLTATR_CTL_LOG and _SSB. */
	out->flags = (p->flag_log ? SECCOMP_FILTER_FLAG_LOG : 0) |
		     (p->flag_spec_allow ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0);
	return 0;
}

static void digest_u32(struct sha256 *h, uint32_t v)
{
	sha256_update(h, &v, sizeof(v));
}

static void digest_str(struct sha256 *h, const char *s)
{
	size_t n = strlen(s) + 1;	/* with the NUL: "ab","c" != "a","bc" */

	sha256_update(h, s, n);
}

void oci_seccomp_digest(const struct oci_seccomp *p, struct sha256 *h)
{
	size_t i, k;

	digest_u32(h, p->default_action);
	digest_u32(h, (uint32_t)p->narches);
	for (i = 0; i < p->narches; i++)
		digest_u32(h, p->arches[i]);
	digest_u32(h, p->flag_log | p->flag_spec_allow << 1);
	digest_u32(h, (uint32_t)p->nrules);
	for (i = 0; i < p->nrules; i++) {
		const struct sc_rule *r = &p->rules[i];

		digest_u32(h, r->action);
		digest_u32(h, (uint32_t)r->nnames);
		for (k = 0; k < r->nnames; k++)
			digest_str(h, r->names[k]);
		digest_u32(h, (uint32_t)r->nargs);
		for (k = 0; k < r->nargs; k++) {
			digest_u32(h, r->args[k].arg);
			digest_u32(h, (uint32_t)r->args[k].op);
			sha256_update(h, &r->args[k].datum_a,
				      sizeof(r->args[k].datum_a));
			sha256_update(h, &r->args[k].datum_b,
				      sizeof(r->args[k].datum_b));
		}
	}
}

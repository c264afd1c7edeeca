/* Unit tests for the OCI config.json parser (container/oci_spec.c): a
 * full spec lands in the right fields; malformed and hostile specs
 * (unknown fields, paths leaving the bundle, huge arrays and strings,
 * wrong types, unsupported features) give errors that name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../container/oci_hooks.h"
#include "../../container/oci_spec.h"

static char bundle[64];

#define PROCESS "\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", " \
		"\"env\": [\"PATH=/bin\"]}"
#define ROOT "\"root\": {\"path\": \"rootfs\"}"
#define NS "\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}]"

/* A spec with the required parts and extra top-level / linux members. */
static char *spec(const char *top, const char *linux_extra)
{
	char *s;

	if (asprintf(&s, "{\"ociVersion\": \"1.0.2\", " PROCESS ", " ROOT
		     "%s%s, \"linux\": {" NS "%s%s}}", *top ? ", " : "", top,
		     *linux_extra ? ", " : "", linux_extra) < 0)
		return NULL;
	return s;
}

/* Parse; on failure the error must mention want. */
static int parse_msg(const char *text, const char *want)
{
	struct oci_config oc;
	struct error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = oci_spec_parse(text, strlen(text), bundle, &oc, NULL, &err);
	if (r == 0) {
		oci_spec_free(&oc);
		return 0;
	}
	if (want && !strstr(err.msg, want)) {
		print_error("error '%s' does not mention '%s'\n", err.msg, want);
		fail();
	}
	return r;
}

static void expect_error(const char *top, const char *linux_extra,
			 const char *want)
{
	char *s = spec(top, linux_extra);

	assert_non_null(s);
	assert_int_equal(parse_msg(s, want), -1);
	free(s);
}

static void full_spec(void **state)
{
	static const char text[] =
		"{\"ociVersion\": \"1.0.2\","
		" \"process\": {\"terminal\": true, \"user\": {\"uid\": 5, \"gid\": 6,"
		"   \"umask\": 18, \"additionalGids\": [7, 8]},"
		"  \"args\": [\"sh\", \"-c\", \"x\"], \"env\": [\"A=1\", \"B=2\"],"
		"  \"cwd\": \"/work\", \"capabilities\": {\"bounding\": [\"CAP_KILL\","
		"   \"CAP_CHOWN\"], \"effective\": [\"CAP_KILL\"]},"
		"  \"rlimits\": [{\"type\": \"RLIMIT_NPROC\", \"hard\": 20, \"soft\": 10}],"
		"  \"noNewPrivileges\": true, \"oomScoreAdj\": -500,"
		"  \"apparmorProfile\": \"x\"},"
		" \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
		" \"hostname\": \"box\","
		" \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
		"  {\"destination\": \"/t\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
		"   \"options\": [\"nosuid\", \"ro\", \"mode=755\", \"size=1k\", \"rprivate\"]},"
		"  {\"destination\": \"/b\", \"type\": \"bind\", \"source\": \"data\","
		"   \"options\": [\"rbind\", \"nodev\"]}],"
		" \"annotations\": {\"k\": \"v\"},"
		" \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"},"
		"   {\"type\": \"uts\"}, {\"type\": \"ipc\"},"
		"   {\"type\": \"network\", \"path\": \"/run/netns/x\"}],"
		"  \"resources\": {\"memory\": {\"limit\": 1048576, \"swap\": 2097152},"
		"   \"cpu\": {\"quota\": 50000, \"period\": 100000}, \"pids\": {\"limit\": 9},"
		"   \"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
		"    {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rwm\"}]},"
		"  \"cgroupsPath\": \"a/b\", \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},"
		"  \"maskedPaths\": [\"/proc/kcore\"], \"readonlyPaths\": [\"/proc/sys\", \"/sys\"],"
		"  \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
		"   {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}}}";
	struct oci_config oc;
	struct error err;
	struct ct_spec *s = &oc.spec;

	(void)state;
	assert_int_equal(oci_spec_parse(text, strlen(text), bundle, &oc, NULL,
					&err), 0);
	assert_null(oc.ct.name);
	assert_int_equal(oc.ct.ncommand, 3);
	assert_string_equal(oc.ct.command[2], "x");
	assert_int_equal(oc.ct.nenv, 2);
	assert_int_equal(oc.ct.uid, 5);
	assert_int_equal(oc.ct.gid, 6);
	assert_true(oc.ct.readonly);
	assert_string_equal(oc.ct.hostname, "box");
	assert_int_equal(oc.ct.memory, 1048576);
	assert_int_equal(oc.ct.pids, 9);
	assert_true(oc.ct.cpus > 0.49 && oc.ct.cpus < 0.51);
	assert_true(s->oci && s->terminal && s->no_new_privs);
	assert_string_equal(s->cwd, "/work");
	assert_true(s->has_umask && s->umask == 022);
	assert_int_equal(s->ngroups, 2);
	assert_int_equal(s->groups[1], 8);
	assert_true(s->caps_explicit);
	assert_int_equal(s->cap_bounding, (1ULL << 5) | 1ULL);
	assert_int_equal(s->cap_effective, 1ULL << 5);
	assert_int_equal(s->cap_permitted, 0);
	assert_int_equal(s->nrlimits, 1);
	assert_int_equal(s->rlimits[0].resource, RLIMIT_NPROC);
	assert_int_equal(s->rlimits[0].soft, 10);
	assert_true(s->has_oom_score_adj && s->oom_score_adj == -500);
	assert_int_equal(s->ns_new, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS |
			 CLONE_NEWIPC);
	assert_int_equal(s->njoins, 1);
	assert_int_equal(s->joins[0].flag, CLONE_NEWNET);
	assert_int_equal(s->nmounts, 3);
	assert_string_equal(s->mounts[1].type, "tmpfs");
	assert_int_equal(s->mounts[1].flags, MS_NOSUID | MS_RDONLY);
	assert_string_equal(s->mounts[1].data, "mode=755,size=1k");
	assert_int_equal(s->mounts[1].propagation, MS_PRIVATE | MS_REC);
	assert_true(s->mounts[2].bind && s->mounts[2].rec);
	assert_null(s->mounts[2].type);
	assert_int_equal(s->mounts[2].flags, MS_NODEV);
	assert_non_null(strstr(s->mounts[2].source, "/data"));
	assert_string_equal(s->cgroup_path, "/a/b");
	assert_int_equal(s->memory_swap, 2097152);
	assert_int_equal(s->nsysctl, 1);
	assert_int_equal(s->nmasked, 1);
	assert_int_equal(s->nreadonly, 2);
	assert_int_equal(s->seccomp, CT_SECCOMP_PROFILE);
	assert_non_null(strstr(oc.annotations, "\"k\""));
	oci_spec_free(&oc);
}

/* Each of the six stages lands in its own slot, in the spec's order. */
static void hook_stages(void **state)
{
	static const char *const names[HOOK_NSTAGES] = {
		[HOOK_PRESTART] = "prestart",
		[HOOK_CREATE_RUNTIME] = "createRuntime",
		[HOOK_CREATE_CONTAINER] = "createContainer",
		[HOOK_START_CONTAINER] = "startContainer",
		[HOOK_POSTSTART] = "poststart",
		[HOOK_POSTSTOP] = "poststop",
	};
	char top[1024], *s, path[32];
	struct oci_config oc;
	struct error err;
	size_t i, n = 0;

	(void)state;
	n += (size_t)snprintf(top, sizeof(top), "\"hooks\": {");
	for (i = 0; i < HOOK_NSTAGES; i++)
		n += (size_t)snprintf(top + n, sizeof(top) - n,
				      "%s\"%s\": [{\"path\": \"/h/%s\", "
				      "\"timeout\": %zu}, {\"path\": \"/2\"}]",
				      i ? ", " : "", names[i], names[i], i + 1);
	snprintf(top + n, sizeof(top) - n, "}");
	s = spec(top, "");
	assert_non_null(s);
	memset(&err, 0, sizeof(err));
	assert_int_equal(oci_spec_parse(s, strlen(s), bundle, &oc, NULL, &err),
			 0);
	assert_non_null(oc.spec.hooks);
	for (i = 0; i < HOOK_NSTAGES; i++) {
		snprintf(path, sizeof(path), "/h/%s", names[i]);
		assert_int_equal(oc.spec.hooks->n[i], 2);
		assert_string_equal(oc.spec.hooks->h[i][0].path, path);
		assert_int_equal(oc.spec.hooks->h[i][0].timeout, (int)i + 1);
		assert_string_equal(oc.spec.hooks->h[i][1].path, "/2");
	}
	oci_spec_free(&oc);
	free(s);
}

static void minimal_spec(void **state)
{
	char *s = spec("", "");

	(void)state;
	assert_int_equal(parse_msg(s, NULL), 0);
	free(s);
}

static void unknown_fields(void **state)
{
	(void)state;
	expect_error("\"windows\": {}", "", "windows: not supported");
	expect_error("", "\"intelRdt\": {\"closID\": \"x\"}",
		     "linux.intelRdt: not supported");
	expect_error("", "\"resources\": {\"blockIO\": {\"weight\": 10}}",
		     "linux.resources.blockIO");
	expect_error("", "\"resources\": {\"cpu\": {\"shares\": 1000000}}",
		     "linux.resources.cpu.shares: out of range");
	expect_error("", "\"resources\": {\"cpu\": {\"idle\": 1}}",
		     "linux.resources.cpu.idle");
	expect_error("\"hooks\": {\"createContainer\": [{\"path\": \"x\"}]}",
		     "", "hooks.createContainer[0].path: must be an absolute");
	expect_error("\"hooks\": {\"startContainer\": [{\"path\": \"/x\", "
		     "\"timeout\": -1}]}", "", "hooks.startContainer[0].timeout");
	expect_error("\"hooks\": {\"startcontainer\": []}", "",
		     "startcontainer");
	expect_error("\"hooks\": {\"prestart\": [{\"path\": \"true\"}]}", "",
		     "hooks.prestart[0].path: must be an absolute");
	expect_error("\"hooks\": {\"poststop\": [{\"path\": \"/x\", "
		     "\"timeout\": 0}]}", "", "hooks.poststop[0].timeout");
	expect_error("", "\"resources\": {\"memory\": {\"limit\": 1, \"foo\": 1}}",
		     "linux.resources.memory.foo");
}

static void hostile_paths(void **state)
{
	char *s;

	(void)state;
	s = strdup("{\"ociVersion\": \"1.0.2\", " PROCESS ", \"root\": "
		   "{\"path\": \"../../etc\"}, \"linux\": {" NS "}}");
	assert_int_equal(parse_msg(s, "root.path"), -1);
	free(s);
	expect_error("\"mounts\": [{\"destination\": \"/x\", \"type\": \"bind\","
		     " \"source\": \"a/../../../etc\"}]", "", "'..'");
	expect_error("\"mounts\": [{\"destination\": \"x\", \"type\": \"tmpfs\"}]",
		     "", "mounts[0].destination");
	expect_error("\"mounts\": [{\"destination\": \"/a/../../x\", "
		     "\"type\": \"tmpfs\"}]", "", "mounts[0].destination");
	expect_error("", "\"cgroupsPath\": \"/a/../../b\"", "cgroupsPath");
	expect_error("", "\"cgroupsPath\": \"system.slice:x:y\"", "systemd");
	expect_error("", "\"maskedPaths\": [\"relative\"]", "maskedPaths[0]");
}

static void huge_inputs(void **state)
{
	size_t i, n = 1100 * 6 + 256, len = 0;
	char *s = malloc(n + 512), *big;

	(void)state;
	assert_non_null(s);
	len += (size_t)sprintf(s, "{\"ociVersion\": \"1.0.2\", \"process\": "
			       "{\"cwd\": \"/\", \"args\": [");
	for (i = 0; i < 1100; i++)
		len += (size_t)sprintf(s + len, "%s\"a\"", i ? "," : "");
	sprintf(s + len, "]}, " ROOT ", \"linux\": {" NS "}}");
	assert_int_equal(parse_msg(s, "process.args: more than"), -1);
	free(s);
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	assert_true(asprintf(&s, "\"hostname\": \"%s\"", big) > 0);
	expect_error(s, "", "hostname: longer than");
	free(s);
	free(big);
	expect_error("", "\"uidMappings\": [{}, {}, {}, {}, {}, {}]",
		     "more than 5");
}

static void wrong_types(void **state)
{
	(void)state;
	expect_error("\"hostname\": 5", "", "hostname: must be a string");
	expect_error("\"mounts\": {}", "", "mounts: must be an array");
	expect_error("", "\"resources\": {\"pids\": {\"limit\": \"x\"}}",
		     "pids.limit: must be an integer");
	expect_error("", "\"resources\": {\"memory\": {\"limit\": -5}}",
		     "memory.limit: out of range");
	assert_int_equal(parse_msg("{\"ociVersion\": \"1.0.2\", \"process\"",
				   "not valid JSON"), -1);
	assert_int_equal(parse_msg("[1, 2]", "not a JSON object"), -1);
	assert_int_equal(parse_msg("{\"ociVersion\": \"2.0\"}", "ociVersion"), -1);
}

static void unsupported_semantics(void **state)
{
	(void)state;
	expect_error("", "\"namespaces\": [{\"type\": \"pid\", \"path\": "
		     "\"/proc/1/ns/pid\"}, {\"type\": \"mount\"}]",
		     "joining a pid namespace");
	expect_error("", "\"namespaces\": [{\"type\": \"mount\"}]",
		     "new mount and a new pid");
	expect_error("", "\"namespaces\": [{\"type\": \"pid\"}, {\"type\": "
		     "\"mount\"}, {\"type\": \"user\"}]", "needs both");
	expect_error("", "\"resources\": {\"devices\": [{\"allow\": true, "
		     "\"type\": \"b\", \"major\": 8, \"minor\": 0}]}",
		     "devices[0]");
	expect_error("", "\"sysctl\": {\"kernel.modprobe\": \"x\"}",
		     "kernel.modprobe");
	expect_error("", "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_NOTIFY\"}",
		     "linux.seccomp.defaultAction");
	expect_error("", "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", "
		     "\"syscalls\": [{\"names\": [\"x\"], \"action\": "
		     "\"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 9, \"op\": "
		     "\"SCMP_CMP_EQ\"}]}]}", "args[0].index");
	expect_error("\"mounts\": [{\"destination\": \"/x\", \"type\": \"tmpfs\","
		     " \"options\": [\"idmap\"]}]", "", "mounts[0].options[0]");
}

static int setup(void **state)
{
	char path[128];

	(void)state;
	snprintf(bundle, sizeof(bundle), "/tmp/vessel-oci-unit.XXXXXX");
	if (!mkdtemp(bundle))
		return -1;
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	return mkdir(path, 0755);
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	rmdir(path);
	rmdir(bundle);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_spec),
		cmocka_unit_test(minimal_spec),
		cmocka_unit_test(hook_stages),
		cmocka_unit_test(unknown_fields),
		cmocka_unit_test(hostile_paths),
		cmocka_unit_test(huge_inputs),
		cmocka_unit_test(wrong_types),
		cmocka_unit_test(unsupported_semantics),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* An OCI seccomp profile compiled to BPF (oci_seccomp_compile) and kept
 * in the state root's cache (seccomp_cache.h): the program, loaded by
 * the kernel in a child, refuses what the profile refuses; the second
 * create reads the file the first wrote; a damaged or foreign file is
 * compiled again and replaced; another profile gets another file; a root
 * where nothing can be written still gets its filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../container/oci_seccomp.h"
#include "../../container/seccomp_cache.h"
#include "../../container/seccomp_filter.h"
#include "../../container/seccomp_prog.h"

/* mkdir and mkdirat fail with errno e; everything else is allowed. */
static struct oci_seccomp *profile(int e, bool log)
{
	char text[512];
	struct oci_seccomp *p = NULL;
	struct error err;
	json_object *obj;

	snprintf(text, sizeof(text),
		 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", "
		 "\"architectures\": [\"SCMP_ARCH_X86_64\"], %s"
		 "\"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], "
		 "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": %d}]}",
		 log ? "\"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], " : "", e);
	obj = json_tokener_parse(text);
	assert_non_null(obj);
	err_clear(&err);
	assert_int_equal(oci_seccomp_parse(obj, &p, &err), 0);
	json_object_put(obj);
	return p;
}

/* In a child: load prog, try mkdir; the errno it got (0: it worked). */
static int mkdir_errno(const struct seccomp_prog *prog, const char *dir)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct error err;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    seccomp_prog_load(prog, &err) < 0)
			_exit(255);
		_exit(mkdir(dir, 0700) < 0 ? errno : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char root[64];

static int setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/vessel-sccache.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* The one file in root/.seccomp: its name into name, its inode. */
static ino_t only_file(char name[512])
{
	char dir[128];
	struct dirent *de;
	struct stat st;
	ino_t ino = 0;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/.seccomp", root);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			n++;
			snprintf(name, 512, "%s/%s", dir, de->d_name);
			assert_int_equal(stat(name, &st), 0);
			ino = st.st_ino;
			assert_int_equal(st.st_mode & 0777, 0600);
			assert_int_equal(st.st_size % 8, 4);
		}
	closedir(d);
	assert_int_equal(n, 1);
	return ino;
}

static void same_prog(const struct seccomp_prog *a,
		      const struct seccomp_prog *b)
{
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->flags, b->flags);
	assert_memory_equal(a->insns, b->insns, a->len * sizeof(*a->insns));
}

static void compile_enforces(void **state)
{
	struct oci_seccomp *p = profile(38, false);
	struct seccomp_prog prog;
	struct error err;
	char d[128];

	(void)state;
	err_clear(&err);
	assert_int_equal(oci_seccomp_compile(p, &prog, &err), 0);
	assert_true(prog.owned && prog.len > 0);
	assert_int_equal(prog.flags, 0);
	assert_int_equal(seccomp_prog_check(prog.insns, prog.len, &err), 0);
	snprintf(d, sizeof(d), "%s/refused", root);
	assert_int_equal(mkdir_errno(&prog, d), 38);
	assert_int_equal(access(d, F_OK), -1);
	/* Without the filter the same mkdir works: the test can fail. */
	assert_int_equal(mkdir_errno(&(struct seccomp_prog){ 0 }, d), 0);
	seccomp_prog_free(&prog);
	/* A root where no cache can be written: compiled all the same. */
	assert_int_equal(seccomp_cache_get("/proc/self/vessel-no-such-dir",
					   p, &prog, &err), 0);
	snprintf(d, sizeof(d), "%s/refused3", root);
	assert_int_equal(mkdir_errno(&prog, d), 38);
	seccomp_prog_free(&prog);
	oci_seccomp_free(p);
}

/* What the kernel would refuse is refused before it gets there; vessel's
 * own default filter passes. */
static void check(void **state)
{
	struct sock_filter ok[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 83, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 38),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	}, bad[4];
	struct sock_fprog dflt;
	struct error err;

	(void)state;
	err_clear(&err);
	assert_int_equal(seccomp_prog_check(ok, 4, &err), 0);
	assert_int_equal(seccomp_prog_check(ok, 0, &err), -1);
	memcpy(bad, ok, sizeof(ok));
	bad[1].jf = 2;				/* past the end */
	assert_int_equal(seccomp_prog_check(bad, 4, &err), -1);
	memcpy(bad, ok, sizeof(ok));
	bad[0].k = sizeof(struct seccomp_data);	/* outside the data */
	assert_int_equal(seccomp_prog_check(bad, 4, &err), -1);
	memcpy(bad, ok, sizeof(ok));
	bad[0].k = 2;				/* unaligned */
	assert_int_equal(seccomp_prog_check(bad, 4, &err), -1);
	memcpy(bad, ok, sizeof(ok));
	bad[2].code = BPF_LD | BPF_B | BPF_IND;	/* not seccomp's */
	assert_int_equal(seccomp_prog_check(bad, 4, &err), -1);
	assert_int_equal(seccomp_prog_check(ok, 3, &err), -1);	/* cut short */
	assert_int_equal(seccomp_build(false, &dflt, &err), 0);
	assert_int_equal(seccomp_prog_check(dflt.filter, dflt.len, &err), 0);
	assert_int_equal(seccomp_build(true, &dflt, &err), 0);
	assert_int_equal(seccomp_prog_check(dflt.filter, dflt.len, &err), 0);
}

static void flags(void **state)
{
	struct oci_seccomp *p = profile(1, true);
	struct seccomp_prog prog;
	struct error err;

	(void)state;
	assert_int_equal(oci_seccomp_compile(p, &prog, &err), 0);
	assert_int_equal(prog.flags, SECCOMP_FILTER_FLAG_LOG);
	seccomp_prog_free(&prog);
	oci_seccomp_free(p);
}

static void cache_reuse_and_repair(void **state)
{
	struct oci_seccomp *p = profile(38, false), *q = profile(13, false);
	struct seccomp_prog a, b, c, fresh;
	char name[512], name2[512], d[128];
	struct error err;
	ino_t ino;
	int fd;

	(void)state;
	err_clear(&err);
	assert_int_equal(oci_seccomp_compile(p, &fresh, &err), 0);
	/* First: compiled and written. */
	assert_int_equal(seccomp_cache_get(root, p, &a, &err), 0);
	same_prog(&a, &fresh);
	ino = only_file(name);
	/* Second: read back, the file untouched. */
	assert_int_equal(seccomp_cache_get(root, p, &b, &err), 0);
	same_prog(&b, &fresh);
	assert_true(b.insns != a.insns);
	assert_int_equal(only_file(name2), ino);
	/* Damaged (a length that is no program): compiled again, replaced. */
	fd = open(name, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "bad", 3), 3);
	close(fd);
	assert_int_equal(seccomp_cache_get(root, p, &c, &err), 0);
	same_prog(&c, &fresh);
	assert_true(only_file(name2) != ino);
	seccomp_prog_free(&c);
	/* A whole program that does not end in a return: compiled again. */
	fd = open(name, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x00\x00\x00\x00\x00\x00\x00\x00",
				8, (off_t)(fresh.len - 1) * 8), 8);
	close(fd);
	assert_int_equal(seccomp_cache_get(root, p, &c, &err), 0);
	same_prog(&c, &fresh);
	snprintf(d, sizeof(d), "%s/refused2", root);
	assert_int_equal(mkdir_errno(&c, d), 38);
	seccomp_prog_free(&c);
	/* Another profile: another file, its own program. */
	assert_int_equal(seccomp_cache_get(root, q, &c, &err), 0);
	assert_int_equal(mkdir_errno(&c, d), 13);
	seccomp_prog_free(&c);
	seccomp_prog_free(&a);
	seccomp_prog_free(&b);
	seccomp_prog_free(&fresh);
	oci_seccomp_free(p);
	oci_seccomp_free(q);
}

/* A temporary file whose writer died is removed at the next write; one
 * whose writer lives (PID 1), and names that only look alike, are not. */
static void cache_sweeps_dead_writers(void **state)
{
	static const char hex[] = "0123456789abcdef0123456789abcdef"
				  "0123456789abcdef0123456789abcdef";
	struct oci_seccomp *p = profile(7, false);
	char f[4][256], dir[128];
	struct seccomp_prog c;
	struct error err;
	pid_t pid;
	int fd;

	(void)state;
	err_clear(&err);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	snprintf(dir, sizeof(dir), "%s/.seccomp", root);
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(f[0], sizeof(f[0]), "%s/.%s.%d.tmp", dir, hex, (int)pid);
	snprintf(f[1], sizeof(f[1]), "%s/.%s.1.tmp", dir, hex);
	snprintf(f[2], sizeof(f[2]), "%s/.%s.%dx.tmp", dir, hex, (int)pid);
	snprintf(f[3], sizeof(f[3]), "%s/.%.60s.%d.tmp", dir, hex, (int)pid);
	for (int i = 0; i < 4; i++) {
		fd = open(f[i], O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	/* A profile not cached yet: compiled, written, and the sweep. */
	assert_int_equal(seccomp_cache_get(root, p, &c, &err), 0);
	assert_int_equal(access(f[0], F_OK), -1);
	assert_int_equal(errno, ENOENT);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(access(f[i], F_OK), 0);
		unlink(f[i]);
	}
	seccomp_prog_free(&c);
	oci_seccomp_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compile_enforces),
		cmocka_unit_test(check),
		cmocka_unit_test(flags),
		cmocka_unit_test(cache_reuse_and_repair),
		cmocka_unit_test(cache_sweeps_dead_writers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

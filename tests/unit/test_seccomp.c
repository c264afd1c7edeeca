/* The seccomp profile as the kernel would run it: the generated classic
 * BPF program, interpreted here for each ABI (x86-64, x32, i386) and a
 * foreign one, against system calls that must be allowed, refused with
 * EPERM, answered ENOSYS, or checked by their first argument. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>

#include "../../container/seccomp_filter.h"

#define X32_BIT 0x40000000U
#define ALLOW SECCOMP_RET_ALLOW
#define EPERM_ (SECCOMP_RET_ERRNO | EPERM)
#define ENOSYS_ (SECCOMP_RET_ERRNO | ENOSYS)

/* The subset of classic BPF the generator emits; anything else fails the
 * test. Returns the action. */
static uint32_t run(const struct sock_fprog *p, const struct seccomp_data *d)
{
	uint32_t a = 0, pc = 0, steps = 0;

	while (pc < p->len && steps++ < 100000) {
		const struct sock_filter *f = &p->filter[pc++];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(f->k + 4 <= sizeof(*d) && f->k % 4 == 0);
			memcpy(&a, (const char *)d + f->k, 4);
			break;
		case BPF_JMP | BPF_JA:
			pc += f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & f->k) ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			fail_msg("unexpected BPF opcode %#x at %u", f->code, pc - 1);
		}
	}
	fail_msg("ran off the end of the program");
	return 0;
}

static uint32_t call(bool userns, uint32_t audit_arch, uint32_t scmp_arch,
		     const char *name, int nr, uint64_t arg0)
{
	struct seccomp_data d = { .arch = audit_arch, .args = { arg0 } };
	struct sock_fprog p;
	struct error err;

	if (name)
		nr = seccomp_syscall_resolve_name_arch(scmp_arch, name);
	assert_true(nr >= 0);
	d.nr = nr;
	assert_int_equal(seccomp_build(userns, &p, &err), 0);
	assert_true(p.len > 0 && p.len <= BPF_MAXINSNS);
	return run(&p, &d);
}

static const struct abi {
	uint32_t audit, scmp, bit;
} abis[] = {
	{ AUDIT_ARCH_X86_64, SCMP_ARCH_X86_64, 0 },
	{ AUDIT_ARCH_X86_64, SCMP_ARCH_X32, X32_BIT },
	{ AUDIT_ARCH_I386, SCMP_ARCH_X86, 0 },
};

#define ON_EACH(userns, name, arg, want) do {				\
	size_t _i;							\
	for (_i = 0; _i < sizeof(abis) / sizeof(abis[0]); _i++)	\
		assert_int_equal(call(userns, abis[_i].audit,		\
				      abis[_i].scmp, name, 0, arg), want); \
} while (0)

static void allowed_calls(void **state)
{
	(void)state;
	ON_EACH(false, "read", 0, ALLOW);
	ON_EACH(false, "execve", 0, ALLOW);
	ON_EACH(false, "getpid", 0, ALLOW);
	ON_EACH(false, "seccomp", 0, ALLOW);
	ON_EACH(true, "read", 0, ALLOW);
}

static void refused_calls(void **state)
{
	(void)state;
	ON_EACH(false, "kexec_load", 0, EPERM_);
	ON_EACH(false, "init_module", 0, EPERM_);
	ON_EACH(false, "bpf", 0, EPERM_);
	ON_EACH(false, "keyctl", 0, EPERM_);
	ON_EACH(false, "open_by_handle_at", 0, EPERM_);
	ON_EACH(false, "name_to_handle_at", 0, EPERM_);
	ON_EACH(false, "mbind", 0, EPERM_);
	ON_EACH(false, "unshare", 0, EPERM_);
	ON_EACH(true, "unshare", 0, EPERM_);
	ON_EACH(false, "mount", 0, EPERM_);
	ON_EACH(false, "reboot", 0, EPERM_);
	ON_EACH(true, "mount", 0, ALLOW);
	ON_EACH(true, "reboot", 0, ALLOW);
	ON_EACH(true, "bpf", 0, EPERM_);
}

static void unknown_calls(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(abis) / sizeof(abis[0]); i++) {
		assert_int_equal(call(false, abis[i].audit, abis[i].scmp,
				      NULL, (int)(abis[i].bit | 1000), 0),
				 ENOSYS_);
		assert_int_equal(call(true, abis[i].audit, abis[i].scmp,
				      NULL, (int)(abis[i].bit | 4095), 0),
				 ENOSYS_);
	}
	ON_EACH(false, "clone3", 0, ENOSYS_);
	/* An ABI the filter does not know is killed. */
	assert_int_equal(call(false, AUDIT_ARCH_AARCH64, SCMP_ARCH_X86_64,
			      "read", 0, 0), SECCOMP_RET_KILL_PROCESS);
}

static void argument_rules(void **state)
{
	(void)state;
	ON_EACH(false, "personality", 0, ALLOW);
	ON_EACH(false, "personality", 0x0008, ALLOW);
	ON_EACH(false, "personality", 0xffffffffULL, ALLOW);
	ON_EACH(false, "personality", 0x0400000, ENOSYS_);
	ON_EACH(false, "personality", 0x0006, ENOSYS_);
	ON_EACH(false, "clone", 0x11 /* SIGCHLD */ | 0x00010000, ALLOW);
	ON_EACH(false, "clone", 0x11 | 0x10000000 /* NEWUSER */, EPERM_);
	ON_EACH(false, "clone", 0x11 | 0x00020000 /* NEWNS */, EPERM_);
	ON_EACH(true, "clone", 0x40000000 /* NEWNET */, EPERM_);
	/* socket: every ABI that has it as a system call (i386 reaches it
	 * through socketcall as well). */
	assert_int_equal(call(false, AUDIT_ARCH_X86_64, SCMP_ARCH_X86_64,
			      "socket", 0, 40 /* AF_VSOCK */), EPERM_);
	assert_int_equal(call(false, AUDIT_ARCH_X86_64, SCMP_ARCH_X86_64,
			      "socket", 0, 1 /* AF_UNIX */), ALLOW);
	assert_int_equal(call(false, AUDIT_ARCH_X86_64, SCMP_ARCH_X32,
			      "socket", 0, 40), EPERM_);
}

static void size(void **state)
{
	(void)state;
	assert_true(seccomp_allowlist_size(false) > 250);
	assert_true(seccomp_allowlist_size(true) >
		    seccomp_allowlist_size(false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(allowed_calls),
		cmocka_unit_test(refused_calls),
		cmocka_unit_test(unknown_calls),
		cmocka_unit_test(argument_rules),
		cmocka_unit_test(size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The default seccomp profile (seccomp_filter.h): an allowlist, a few
 * argument rules, known-dangerous calls refused with EPERM, and ENOSYS
 * for everything else, compiled here to classic BPF (libseccomp only
 * resolves the names). */
#include "seccomp_filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* What an ordinary program (and an init such as systemd) needs, after
 * the model of Docker's default profile. Names this libseccomp does not
 * know are skipped; names of another ABI (the *64 and _time64 calls of
 * i386) apply to that ABI. */
static const char *const allowed[] = {
	/* files and descriptors */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "open", "openat", "openat2",
	"creat", "close", "close_range", "lseek", "_llseek", "dup", "dup2",
	"dup3", "fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync",
	"syncfs", "sync_file_range", "truncate", "truncate64", "ftruncate",
	"ftruncate64", "fallocate", "fadvise64", "fadvise64_64",
	"arm_fadvise64_64", "readahead", "sendfile", "sendfile64",
	"copy_file_range", "splice", "tee", "vmsplice", "stat", "stat64",
	"lstat", "lstat64", "fstat", "fstat64", "newfstatat", "fstatat64",
	"statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "access",
	"faccessat", "faccessat2", "readlink", "readlinkat", "getdents",
	"getdents64", "mkdir", "mkdirat", "rmdir", "rename", "renameat",
	"renameat2", "link", "linkat", "unlink", "unlinkat", "symlink",
	"symlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
	"chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
	"utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
	"mknod", "mknodat", "umask", "chdir", "fchdir", "getcwd", "chroot",
	"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr",
	"fsetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr",
	"lremovexattr", "fremovexattr", "inotify_init", "inotify_init1",
	"inotify_add_watch", "inotify_rm_watch", "memfd_create", "ioctl",
	"io_setup", "io_destroy", "io_getevents", "io_pgetevents",
	"io_pgetevents_time64", "io_submit", "io_cancel", "pipe", "pipe2",
	"mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_notify",
	"mq_getsetattr", "cachestat", "eventfd", "eventfd2", "epoll_create",
	"epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
	"epoll_wait_old", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
	"ppoll_time64", "select", "_newselect", "pselect6",
	"pselect6_time64", "signalfd", "signalfd4", "timerfd_create",
	"timerfd_settime", "timerfd_settime64", "timerfd_gettime",
	"timerfd_gettime64", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self",
	/* memory */
	"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect",
	"pkey_mprotect", "pkey_alloc", "pkey_free", "madvise", "mlock",
	"mlock2", "munlock", "mlockall", "munlockall", "mincore", "msync",
	"remap_file_pages", "membarrier", "get_mempolicy", "map_shadow_stack",
	"mseal", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop",
	"semtimedop", "semtimedop_time64", "semctl", "msgget", "msgsnd",
	"msgrcv", "msgctl", "ipc",
	/* processes, threads, credentials */
	"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4",
	"waitid", "waitpid", "kill", "tkill", "tgkill", "rt_sigqueueinfo",
	"rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal", "getpid",
	"getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid",
	"setsid", "getuid", "getuid32", "getgid", "getgid32", "geteuid",
	"geteuid32", "getegid", "getegid32", "setuid", "setuid32", "setgid",
	"setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
	"setresuid", "setresuid32", "setresgid", "setresgid32", "getresuid",
	"getresuid32", "getresgid", "getresgid32", "setfsuid", "setfsuid32",
	"setfsgid", "setfsgid32", "getgroups", "getgroups32", "setgroups",
	"setgroups32", "capget", "capset", "prctl", "arch_prctl",
	"set_tid_address", "set_robust_list", "get_robust_list", "futex",
	"futex_time64", "futex_waitv", "futex_wake", "futex_wait",
	"futex_requeue", "rseq", "set_thread_area", "get_thread_area",
	"modify_ldt", "sched_yield", "sched_getaffinity", "sched_setaffinity",
	"sched_getparam", "sched_setparam", "sched_getscheduler",
	"sched_setscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_getattr", "sched_setattr",
	"getpriority", "setpriority", "ioprio_get", "ioprio_set", "getrlimit",
	"ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times",
	"uname", "sysinfo", "getcpu", "getrandom", "sethostname",
	"setdomainname", "seccomp",
	/* signals and time */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigsuspend",
	"sigaltstack", "sigaction", "sigprocmask", "sigreturn", "sigpending",
	"sigsuspend", "signal", "restart_syscall", "pause", "nanosleep",
	"clock_nanosleep", "clock_nanosleep_time64", "alarm", "getitimer",
	"setitimer", "timer_create", "timer_settime", "timer_settime64",
	"timer_gettime", "timer_gettime64", "timer_getoverrun",
	"timer_delete", "clock_gettime", "clock_gettime64", "clock_getres",
	"clock_getres_time64", "gettimeofday", "time", "adjtimex",
	/* sockets (socket itself: see the rules below) */
	"socketpair", "bind", "listen", "accept", "accept4", "connect",
	"getsockname", "getpeername", "sendto", "send", "recvfrom", "recv",
	"sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "recvmmsg_time64",
	"shutdown", "setsockopt", "getsockopt", "socketcall",
};

/* With userns: true only: the kernel confines these to namespaces the
 * container's user namespace owns (seccomp_filter.h). */
static const char *const allowed_userns[] = {
	"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig",
	"fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	"reboot",
};

/* Known and refused: EPERM, as the dropped capabilities would answer
 * (and the only answer for some, such as unshare(CLONE_NEWUSER)). */
static const char *const denied[] = {
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "swapon", "swapoff", "acct", "unshare", "setns",
	"keyctl", "add_key", "request_key", "ptrace", "process_vm_readv",
	"process_vm_writev", "pidfd_getfd", "kcmp", "perf_event_open",
	"settimeofday", "clock_settime", "clock_settime64", "clock_adjtime",
	"clock_adjtime64", "stime", "bpf", "open_by_handle_at",
	"name_to_handle_at", "userfaultfd", "lookup_dcookie", "quotactl",
	"quotactl_fd", "nfsservctl", "uselib", "ioperm", "iopl", "vm86",
	"vm86old", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"syslog", "mbind", "set_mempolicy", "set_mempolicy_home_node",
	"migrate_pages", "move_pages", "fanotify_init", "vhangup",
};

/* personality(2): only these (Docker's): PER_LINUX, UNAME26,
 * PER_LINUX32, UNAME26|PER_LINUX32, and the query 0xffffffff. */
static const unsigned long personalities[] = {
	PER_LINUX, UNAME26, PER_LINUX32, UNAME26 | PER_LINUX32, 0xffffffffUL,
};

static const unsigned long clone_ns_flags = CLONE_NEWNS | CLONE_NEWUTS |
	CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
	CLONE_NEWCGROUP | CLONE_NEWTIME;

/* The filter is generated here as classic BPF rather than through
 * libseccomp's rule engine (used only to resolve names), which takes tens
 * of milliseconds for a list this long on three ABIs: every container
 * start would pay for it. The kernel's action cache then lets the plain
 * allowed calls through without running the program at all. */
struct prog {
	struct sock_filter f[BPF_MAXINSNS];
	size_t n;
	bool overflow;
};

static size_t emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf,
		   uint32_t k)
{
	if (p->n == BPF_MAXINSNS) {
		p->overflow = true;
		return p->n - 1;
	}
	p->f[p->n] = (struct sock_filter){ code, jt, jf, k };
	return p->n++;
}

/* An unconditional jump to be pointed at its target later. */
static size_t emit_ja(struct prog *p)
{
	return emit(p, BPF_JMP | BPF_JA, 0, 0, 0);
}

static void land(struct prog *p, size_t ja)
{
	p->f[ja].k = (uint32_t)(p->n - ja - 1);
}

#define RET(p, action) emit(p, BPF_RET | BPF_K, 0, 0, action)
#define LD(p, off) emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, off)
#define ARG0_LO offsetof(struct seccomp_data, args[0])
#define ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* "if nr == NR, return action" for every name known on arch; A holds
 * the system call number. */
static void plain(struct prog *p, uint32_t arch, const char *const *names,
		  size_t n, uint32_t action)
{
	size_t i;
	int nr;

	for (i = 0; i < n; i++) {
		nr = seccomp_syscall_resolve_name_arch(arch, names[i]);
		if (nr < 0)
			continue;	/* not on this ABI */
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)nr);
		RET(p, action);
	}
}

/* personality, clone and socket: a block that returns on every path
 * once the number matched (its first argument replaces the number in A);
 * skipped otherwise. Only the low 32 bits of the argument are compared:
 * the kernel takes personality's and socket's as 32-bit ints, and every
 * CLONE_NEW* flag is in them. */
static void arg_rules(struct prog *p, uint32_t arch)
{
	size_t i, jeq, start;
	int nr;

	nr = seccomp_syscall_resolve_name_arch(arch, "personality");
	if (nr >= 0) {
		jeq = emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (uint32_t)nr);
		start = LD(p, ARG0_LO);
		for (i = 0; i < N(personalities); i++)
			emit(p, BPF_JMP | BPF_JEQ | BPF_K,
			     (uint8_t)(N(personalities) - i), 0,
			     (uint32_t)personalities[i]);
		RET(p, ERRNO(ENOSYS));
		RET(p, SECCOMP_RET_ALLOW);
		p->f[jeq].jf = (uint8_t)(p->n - start);
	}
	nr = seccomp_syscall_resolve_name_arch(arch, "clone");
	if (nr >= 0) {
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, (uint32_t)nr);
		LD(p, ARG0_LO);
		emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1,
		     (uint32_t)clone_ns_flags);
		RET(p, ERRNO(EPERM));
		RET(p, SECCOMP_RET_ALLOW);
	}
	nr = seccomp_syscall_resolve_name_arch(arch, "socket");
	if (nr >= 0) {
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, (uint32_t)nr);
		LD(p, ARG0_LO);
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, AF_VSOCK);
		RET(p, ERRNO(EPERM));
		RET(p, SECCOMP_RET_ALLOW);
	}
}

/* Everything for one ABI; A holds the system call number. */
static void dispatch(struct prog *p, uint32_t arch, bool userns)
{
	arg_rules(p, arch);
	plain(p, arch, allowed, N(allowed), SECCOMP_RET_ALLOW);
	plain(p, arch, allowed_userns, N(allowed_userns),
	      userns ? SECCOMP_RET_ALLOW : ERRNO(EPERM));
	plain(p, arch, denied, N(denied), ERRNO(EPERM));
	RET(p, ERRNO(ENOSYS));
}

#define X32_SYSCALL_BIT 0x40000000U

/* arch check, then x86-64 (and x32, the same audit arch with bit 30 in
 * the number) and i386; an unknown ABI kills the process. */
static void build(struct prog *p, bool userns)
{
	size_t to_x64, to_i386, to_x32;

	LD(p, offsetof(struct seccomp_data, arch));
#if defined(__x86_64__)
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, AUDIT_ARCH_X86_64);
	to_x64 = emit_ja(p);
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, AUDIT_ARCH_I386);
	to_i386 = emit_ja(p);
	RET(p, SECCOMP_RET_KILL_PROCESS);
	land(p, to_x64);
	LD(p, offsetof(struct seccomp_data, nr));
	emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, X32_SYSCALL_BIT);
	to_x32 = emit_ja(p);
	dispatch(p, SCMP_ARCH_X86_64, userns);
	land(p, to_x32);
	dispatch(p, SCMP_ARCH_X32, userns);
	land(p, to_i386);
	LD(p, offsetof(struct seccomp_data, nr));
	dispatch(p, SCMP_ARCH_X86, userns);
#else
	/* libseccomp's SCMP_ARCH_* are the audit arch values. */
	(void)to_x64;
	(void)to_i386;
	(void)to_x32;
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, seccomp_arch_native());
	RET(p, SECCOMP_RET_KILL_PROCESS);
	LD(p, offsetof(struct seccomp_data, nr));
	dispatch(p, seccomp_arch_native(), userns);
#endif
}

static size_t known(const char *const *names, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += seccomp_syscall_resolve_name(names[i]) != __NR_SCMP_ERROR;
	return k;
}

size_t seccomp_allowlist_size(bool userns)
{
	/* + personality, clone and socket, allowed with rules */
	return known(allowed, N(allowed)) + 3 +
	       (userns ? known(allowed_userns, N(allowed_userns)) : 0);
}

int seccomp_build(bool userns, struct sock_fprog *out, struct error *err)
{
	static struct prog p;

	p.n = 0;
	p.overflow = false;
	build(&p, userns);
	if (p.overflow)
		return err_set(err, "seccomp: the filter is longer than %d "
			       "instructions", BPF_MAXINSNS);
	out->len = (unsigned short)p.n;
	out->filter = p.f;
	return 0;
}

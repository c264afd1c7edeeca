/* The default seccomp profile (seccomp_filter.h): an allowlist, a few
 * argument rules, known-dangerous calls refused with EPERM, and ENOSYS
 * for everything else. */
#include "seccomp_filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>

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

/* Refused without a user namespace (allowed_userns with one). */
static const char *const *const denied_without_userns = allowed_userns;

/* personality(2): only these (Docker's): PER_LINUX, UNAME26,
 * PER_LINUX32, UNAME26|PER_LINUX32, and the query 0xffffffff. */
static const unsigned long personalities[] = {
	PER_LINUX, UNAME26, PER_LINUX32, UNAME26 | PER_LINUX32, 0xffffffffUL,
};

static const unsigned long clone_ns_flags = CLONE_NEWNS | CLONE_NEWUTS |
	CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
	CLONE_NEWCGROUP | CLONE_NEWTIME;

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
		unsigned argc, const struct scmp_arg_cmp *arg,
		struct error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;	/* unknown to this libseccomp */
	rc = seccomp_rule_add_array(ctx, action, nr, argc, arg);
	if (rc < 0 && rc != -EEXIST)
		return err_set(err, "seccomp rule for %s: %s", name,
			       strerror(-rc));
	return 0;
}

static int rules(scmp_filter_ctx ctx, uint32_t action,
		 const char *const *names, size_t n, struct error *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rule(ctx, action, names[i], 0, NULL, err) < 0)
			return -1;
	return 0;
}

/* personality, clone, clone3, socket: allowed with some arguments. */
static int arg_rules(scmp_filter_ctx ctx, struct error *err)
{
	struct scmp_arg_cmp a;
	size_t i;

	for (i = 0; i < N(personalities); i++) {
		a = SCMP_A0(SCMP_CMP_EQ, personalities[i]);
		if (rule(ctx, SCMP_ACT_ALLOW, "personality", 1, &a, err) < 0)
			return -1;
	}
	/* clone(flags, ...): no flag that makes a namespace (flags are the
	 * first argument on x86). */
	a = SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags, 0);
	if (rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &a, err) < 0)
		return -1;
	for (i = 0; i < 64; i++) {
		if (!(clone_ns_flags & (1UL << i)))
			continue;
		a = SCMP_A0(SCMP_CMP_MASKED_EQ, 1UL << i, 1UL << i);
		if (rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &a, err) < 0)
			return -1;
	}
	/* clone3 passes its flags in memory, out of seccomp's reach: it is
	 * not on the list, and its ENOSYS makes libc fall back to clone. */
	a = SCMP_A0(SCMP_CMP_NE, AF_VSOCK);
	if (rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &a, err) < 0)
		return -1;
	a = SCMP_A0(SCMP_CMP_EQ, AF_VSOCK);
	return rule(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &a, err);
}

static int add_arches(scmp_filter_ctx ctx, struct error *err)
{
#if defined(__x86_64__)
	static const uint32_t extra[] = { SCMP_ARCH_X86, SCMP_ARCH_X32 };
	size_t i;
	int rc;

	for (i = 0; i < N(extra); i++) {
		rc = seccomp_arch_add(ctx, extra[i]);
		if (rc < 0 && rc != -EEXIST)
			return err_set(err, "seccomp: adding an ABI: %s",
				       strerror(-rc));
	}
#else
	(void)ctx;
	(void)err;
#endif
	return 0;
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

int seccomp_apply(bool userns, struct error *err)
{
	scmp_filter_ctx ctx;
	int rc;

	ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	if (!ctx)
		return err_set(err, "seccomp_init failed");
	if (add_arches(ctx, err) < 0 ||
	    rules(ctx, SCMP_ACT_ALLOW, allowed, N(allowed), err) < 0 ||
	    rules(ctx, SCMP_ACT_ERRNO(EPERM), denied, N(denied), err) < 0 ||
	    rules(ctx, userns ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EPERM),
		  denied_without_userns, N(allowed_userns), err) < 0 ||
	    arg_rules(ctx, err) < 0)
		goto fail;
	/* no_new_privs is set by the caller; say so to libseccomp too. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	rc = seccomp_load(ctx);
	if (rc < 0) {
		err_set(err, "loading the seccomp filter: %s", strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

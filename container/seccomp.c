#include "seccomp_filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *const denied[] = {
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "swapon", "swapoff", "acct",
	"unshare", "setns",
	"keyctl", "add_key", "request_key",
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
	"kcmp", "perf_event_open",
	"settimeofday", "clock_settime", "clock_adjtime", "stime",
	"bpf", "open_by_handle_at", "userfaultfd", "lookup_dcookie",
	"quotactl", "nfsservctl", "uselib", "ioperm", "iopl",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "syslog",
};

/* Denied too without a user namespace; with one, the kernel confines
 * them to the container's own namespaces (seccomp_filter.h). */
static const char *const denied_without_userns[] = {
	"reboot",
	"mount", "umount2", "umount", "pivot_root", "fsopen", "fsconfig",
	"fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
};

static const unsigned long clone_ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
	CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME,
};

static int deny(scmp_filter_ctx ctx, const char *name, int errnum,
		struct error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;	/* unknown to this libseccomp */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, 0);
	if (rc < 0 && rc != -EEXIST)
		return err_set(err, "seccomp rule for %s: %s", name,
			       strerror(-rc));
	return 0;
}

/* clone(flags, ...): refuse any flag that makes a namespace. Its flags
 * are the first argument on x86 and the other common ABIs. */
static int deny_clone_ns(scmp_filter_ctx ctx, struct error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(clone_ns_flags) / sizeof(clone_ns_flags[0]);
	     i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
				      SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ,
					      clone_ns_flags[i],
					      clone_ns_flags[i]));
		if (rc < 0)
			return err_set(err, "seccomp rule for clone: %s",
				       strerror(-rc));
	}
	/* clone3 passes its flags in memory, out of seccomp's reach. */
	return deny(ctx, "clone3", ENOSYS, err);
}

static int add_arches(scmp_filter_ctx ctx, struct error *err)
{
#if defined(__x86_64__)
	static const uint32_t extra[] = { SCMP_ARCH_X86, SCMP_ARCH_X32 };
	size_t i;
	int rc;

	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
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

int seccomp_apply(bool userns, struct error *err)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return err_set(err, "seccomp_init failed");
	if (add_arches(ctx, err) < 0)
		goto fail;
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if (deny(ctx, denied[i], EPERM, err) < 0)
			goto fail;
	for (i = 0; !userns && i < sizeof(denied_without_userns) /
		    sizeof(denied_without_userns[0]); i++)
		if (deny(ctx, denied_without_userns[i], EPERM, err) < 0)
			goto fail;
	if (deny_clone_ns(ctx, err) < 0)
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

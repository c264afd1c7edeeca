/* The default seccomp filter (libseccomp), loaded right before exec.
 *
 * Everything is allowed except, with EPERM:
 *   kernel and modules: kexec_load kexec_file_load init_module
 *     finit_module delete_module reboot swapon swapoff acct
 *   mounts: mount umount2 pivot_root fsopen fsconfig fsmount fspick
 *     move_mount open_tree mount_setattr
 *   namespaces: unshare setns, and clone with any CLONE_NEW* flag
 *     (clone3 gets ENOSYS so libc falls back to the checked clone)
 *   keys: keyctl add_key request_key
 *   tracing and other processes' memory: ptrace process_vm_readv
 *     process_vm_writev pidfd_getfd kcmp perf_event_open
 *   time: settimeofday clock_settime clock_adjtime stime
 *   misc: bpf open_by_handle_at userfaultfd lookup_dcookie quotactl
 *     nfsservctl uselib ioperm iopl io_uring_setup io_uring_enter
 *     io_uring_register syslog
 * (personality stays allowed: it only changes the caller, and
 * libseccomp 2.5 cannot say "all but these values" in one rule.)
 * for the native ABI and, on x86-64, the i386 and x32 ABIs too. Most of
 * these are also refused by the dropped capabilities; the filter is the
 * second wall (and the only one for unshare(CLONE_NEWUSER), userfaultfd,
 * perf_event_open, io_uring, ...).
 *
 * With userns: true, mount, umount2, umount, pivot_root, the new mount
 * API (fsopen ... mount_setattr) and reboot are allowed: the container's
 * root holds SYS_ADMIN and SYS_BOOT only in its own user namespace
 * (caps.h), and the kernel confines them to namespaces that one owns:
 * mounts to the container's mount namespace (the mounts copied from the
 * host stay locked), reboot(2) to ending its pid namespace, which is
 * how an init powers the container off. Everything else stays denied,
 * including new namespaces: systemd then runs its units without the ones
 * they ask for. */
#ifndef VESSEL_SECCOMP_FILTER_H
#define VESSEL_SECCOMP_FILTER_H

#include <stdbool.h>

#include "../tools/error.h"

int seccomp_apply(bool userns, struct error *err);

#endif

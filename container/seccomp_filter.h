/* The default seccomp profile, loaded right before exec: vessel compiles
 * it to classic BPF itself (seccomp.c; libseccomp resolves the names).
 *
 * An allowlist after the model of Docker's default profile: what
 * ordinary programs and an init such as systemd use (files, memory,
 * processes and threads, credentials, signals, time, sockets, SysV and
 * POSIX IPC, inotify, epoll, aio, landlock, seccomp itself, ...: the
 * list is in seccomp.c). Everything not on it fails with ENOSYS, so a
 * system call newer than the list, or one vessel never heard of, fails
 * the way a kernel without it would, and programs fall back.
 *
 * With arguments checked:
 *   personality: only PER_LINUX, UNAME26, PER_LINUX32, both of those,
 *     and the query 0xffffffff;
 *   clone: only without CLONE_NEW* flags (EPERM with one); clone3 gets
 *     ENOSYS (its flags are in memory, out of seccomp's reach), so libc
 *     falls back to clone;
 *   socket: any family but AF_VSOCK (EPERM). (i386's socketcall is
 *     allowed as Docker does; its family is in memory.)
 *
 * Known and refused with EPERM: module loading (init_module,
 * finit_module, delete_module), kexec, swapon/swapoff, acct, unshare,
 * setns, keys (keyctl, add_key, request_key), ptrace, process_vm_*,
 * pidfd_getfd, kcmp, perf_event_open, clock and time setting, bpf,
 * open_by_handle_at, name_to_handle_at, userfaultfd, quotactl,
 * lookup_dcookie, uselib, ioperm, iopl, vm86, io_uring, syslog, NUMA
 * placement (mbind, set_mempolicy, migrate_pages, move_pages),
 * fanotify_init, vhangup; without a user namespace also the mount
 * family (mount, umount2, pivot_root, fsopen ... mount_setattr) and
 * reboot.
 *
 * With userns: true, mount, umount2, umount, pivot_root, the new mount
 * API (fsopen ... mount_setattr) and reboot are allowed: the container's
 * root holds SYS_ADMIN and SYS_BOOT only in its own user namespace
 * (caps.h), and the kernel confines them to namespaces that one owns:
 * mounts to the container's mount namespace (the mounts vessel made
 * before cloning it are locked, rootfs.h), reboot(2) to ending its pid
 * namespace, which is how an init powers the container off. Everything
 * else stays as above, including new namespaces: systemd then runs its
 * units without the ones they ask for.
 *
 * The filter covers the x86-64, i386 and x32 ABIs. Most refused calls
 * are also refused by the dropped capabilities; the filter is the second
 * wall (and the only one for unshare(CLONE_NEWUSER), userfaultfd,
 * perf_event_open, io_uring, ...). */
#ifndef VESSEL_SECCOMP_FILTER_H
#define VESSEL_SECCOMP_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "../tools/base/error.h"

struct sock_fprog;

/* The program, in a static buffer; loaded right before exec
 * (process.h). */
int seccomp_build(bool userns, struct sock_fprog *out, struct error *err);
/* How many system calls the allowlist names (those this libseccomp
 * knows, on any of the ABIs), for vessel check. */
size_t seccomp_allowlist_size(bool userns);

#endif

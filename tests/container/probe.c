/* A static helper for the escape tests (run.sh builds it into the test
 * rootfs like hog). Each subcommand tries something a hostile container
 * would and prints one line per attempt: "NAME ERRNO_NAME" or
 * "NAME ALLOWED".
 *
 *   probe sys     raw system calls the seccomp profile must refuse (and
 *                 a few it must allow)
 *   probe fds     the open descriptors ("fd N -> TARGET") and the cwd
 *                 ("cwd TARGET"); the directory fd used to list them is
 *                 left out
 *   probe exe     try to open every /proc/PID/exe and /proc/self/exe for
 *                 writing, directly and by reopening an O_PATH fd, and
 *                 print each exe's "exe PID DEV:INO"
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void show(const char *name, long r)
{
	printf("%s %s\n", name, r < 0 ? strerrorname_np(errno) : "ALLOWED");
}

#define TRY(name, call) do { errno = 0; show(name, (call)); } while (0)

static int sys(void)
{
	struct clone_args ca = { .exit_signal = 17 };
	struct { unsigned int bytes; int type; unsigned char h[128]; } fh =
		{ .bytes = 128 };
	int mnt, s;

	TRY("nr1000", syscall(1000, 0, 0, 0));
	TRY("nr777", syscall(777, 0, 0, 0));
	TRY("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	TRY("init_module", syscall(SYS_init_module, NULL, 0, ""));
	TRY("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
	TRY("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/",
					 &fh, &mnt, 0));
	TRY("bpf", syscall(SYS_bpf, 0, NULL, 0));
	TRY("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -3));
	TRY("keyctl", syscall(SYS_keyctl, 0, -3, 0));
	TRY("mbind", syscall(SYS_mbind, NULL, 0, 0, NULL, 0, 0));
	TRY("unshare", syscall(SYS_unshare, CLONE_NEWNS));
	TRY("personality(0x4000000)", syscall(SYS_personality, 0x4000000));
	TRY("personality(PER_BSD)", syscall(SYS_personality, PER_BSD));
	TRY("personality(query)", syscall(SYS_personality, 0xffffffffUL));
	errno = 0;
	s = syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
	show("socket(AF_VSOCK)", s);
	errno = 0;
	s = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	show("socket(AF_UNIX)", s);
	if (s >= 0)
		close(s);
	errno = 0;
	s = syscall(SYS_clone3, &ca, sizeof(ca));
	if (s == 0)
		_exit(0);	/* the child, had it worked */
	show("clone3", s);
	return 0;
}

static int fds(void)
{
	char path[300], target[4096];
	struct dirent *d;
	ssize_t n;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir) {
		perror("opendir /proc/self/fd");
		return 1;
	}
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.' || atoi(d->d_name) == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		printf("fd %s -> %s\n", d->d_name, target);
	}
	closedir(dir);
	n = readlink("/proc/self/cwd", target, sizeof(target) - 1);
	target[n < 0 ? 0 : n] = '\0';
	printf("cwd %s\n", target);
	return 0;
}

static void exe_attempts(const char *exe, const char *label)
{
	char name[128], re[64];
	struct stat st;
	int fd;

	if (stat(exe, &st) == 0)
		printf("exe %s %lu:%lu\n", label, (unsigned long)st.st_dev,
		       (unsigned long)st.st_ino);
	snprintf(name, sizeof(name), "open(%s,O_WRONLY)", label);
	errno = 0;
	fd = open(exe, O_WRONLY | O_APPEND);
	show(name, fd);
	if (fd >= 0)
		close(fd);
	fd = open(exe, O_PATH);
	if (fd < 0)
		return;
	snprintf(re, sizeof(re), "/proc/self/fd/%d", fd);
	snprintf(name, sizeof(name), "reopen(%s,O_RDWR)", label);
	errno = 0;
	{
		int w = open(re, O_RDWR | O_APPEND);

		show(name, w);
		if (w >= 0)
			close(w);
	}
	close(fd);
}

static int exe(void)
{
	char path[300];
	struct dirent *d;
	DIR *dir = opendir("/proc");

	exe_attempts("/proc/self/exe", "self");
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9' ||
		    atoi(d->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/exe", d->d_name);
		exe_attempts(path, d->d_name);
	}
	if (dir)
		closedir(dir);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "sys"))
		return sys();
	if (argc >= 2 && !strcmp(argv[1], "fds"))
		return fds();
	if (argc >= 2 && !strcmp(argv[1], "exe"))
		return exe();
	fprintf(stderr, "usage: probe sys | fds | exe\n");
	return 2;
}

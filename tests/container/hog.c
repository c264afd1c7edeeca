/* A static helper that runs inside test containers (busybox has no
 * allocator, fork bomb or syscall prober). Built by run.sh with
 * gcc -static.
 *
 *   hog alloc MB         touch MB MiB of memory, print "allocated MB"
 *   hog fork MAX         fork sleeping children until fork fails or MAX,
 *                        print "forked N errno=E", reap them, exit 0
 *   hog spin SEC THREADS busy-loop THREADS threads for SEC seconds of wall
 *                        time (or until SIGTERM), print "cpu PCT"
 *                        (process CPU / wall, %)
 *   hog crash            die of SIGSEGV
 *   hog denied           try syscalls the container must not make, print
 *                        "NAME errno" for each and "denied N of M"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int alloc(long mb)
{
	long i;

	for (i = 0; i < mb; i++) {
		char *p = malloc(1 << 20);

		if (!p) {
			printf("malloc failed at %ld\n", i);
			return 1;
		}
		memset(p, 0x5a, 1 << 20);
	}
	printf("allocated %ld\n", mb);
	return 0;
}

static int forks(long max)
{
	static pid_t kids[4096];
	long n = 0;
	int err = 0;

	if (max > 4096)
		max = 4096;
	while (n < max) {
		pid_t pid = fork();

		if (pid < 0) {
			err = errno;
			break;
		}
		if (pid == 0) {
			pause();
			_exit(0);
		}
		kids[n++] = pid;
	}
	printf("forked %ld errno=%s\n", n, err ? strerrorname_np(err) : "0");
	fflush(stdout);
	while (n--) {
		kill(kids[n], SIGKILL);
		waitpid(kids[n], NULL, 0);
	}
	return 0;
}

static volatile int stop;

static void *burn(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	while (!stop)
		x++;
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int spin(double sec, int threads)
{
	pthread_t t[64];
	double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	int i;

	if (threads > 64)
		threads = 64;
	signal(SIGTERM, on_term);
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, burn, NULL);
	while (!stop && now(CLOCK_MONOTONIC) - w0 < sec)
		usleep(10000);
	stop = 1;
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("cpu %.0f\n", 100 * (now(CLOCK_PROCESS_CPUTIME_ID) - c0) /
	       (now(CLOCK_MONOTONIC) - w0));
	return 0;
}

/* Each probe uses arguments that would be harmless if it got through;
 * each must fail with EPERM. */
#define PROBE(name, call) do {						\
	long _r;							\
	errno = 0;							\
	_r = (call);							\
	if (_r == 0 && !strcmp(name, "clone(NEWUSER)"))		\
		_exit(0);	/* the child, had it worked */		\
	printf("%s %s\n", name, _r < 0 ? strerrorname_np(errno) : "ALLOWED"); \
	bad += _r >= 0 || errno != EPERM;				\
	total++;							\
} while (0)

static int probe(void)
{
	struct perf_event_attr pe = { .size = sizeof(pe) };
	int bad = 0, total = 0;

	PROBE("mount", mount("none", "/mnt", "tmpfs", 0, NULL));
	PROBE("umount2", umount2("/proc", MNT_DETACH));
	PROBE("pivot_root", syscall(SYS_pivot_root, "/", "/"));
	PROBE("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
	PROBE("init_module", syscall(SYS_init_module, NULL, 0, ""));
	PROBE("finit_module", syscall(SYS_finit_module, -1, "", 0));
	PROBE("delete_module", syscall(SYS_delete_module, "vessel_none",
				       O_NONBLOCK));
	PROBE("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	PROBE("swapon", syscall(SYS_swapon, "/vessel-none", 0));
	PROBE("unshare(NEWUSER)", unshare(CLONE_NEWUSER));
	PROBE("clone(NEWUSER)", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD,
					NULL, NULL, NULL, NULL));
	PROBE("keyctl", syscall(SYS_keyctl, 0, -3, 0));
	PROBE("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -3));
	PROBE("bpf", syscall(SYS_bpf, 0, NULL, 0));
	PROBE("ptrace(TRACEME)", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	PROBE("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1,
					 0));
	PROBE("userfaultfd", syscall(SYS_userfaultfd, 0));
	PROBE("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME,
				       NULL));
	PROBE("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL,
					   0));
	PROBE("acct", syscall(SYS_acct, NULL));
	printf("denied %d of %d\n", total - bad, total);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "alloc"))
		return alloc(atol(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "fork"))
		return forks(atol(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "spin"))
		return spin(atof(argv[2]), atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "crash"))
		*(volatile int *)0 = 1;
	if (argc >= 2 && !strcmp(argv[1], "denied"))
		return probe();
	fprintf(stderr, "usage: hog alloc MB | fork MAX | spin SEC THREADS | "
		"crash | denied\n");
	return 2;
}

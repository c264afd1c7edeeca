#include "namespaces.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

pid_t ns_clone(bool userns, struct error *err)
{
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
			      CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
	long pid;

	if (userns)
		flags |= CLONE_NEWUSER;
	/* The raw system call with no new stack behaves like fork(): the
	 * child continues here on a copy of our stack. */
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid < 0 && userns && errno == EPERM)
		return err_sys(err, "creating the container namespaces with a "
			       "user namespace (the kernel refuses one inside "
			       "a chroot, or when user.max_user_namespaces is "
			       "0)");
	if (pid < 0)
		return err_sys(err, "creating the container namespaces "
			       "(clone)");
	return pid;
}

int ns_enter_cgroupns(struct error *err)
{
	if (unshare(CLONE_NEWCGROUP) < 0)
		return err_sys(err, "creating the cgroup namespace");
	return 0;
}

int ns_set_hostname(const char *hostname, struct error *err)
{
	if (sethostname(hostname, strlen(hostname)) < 0)
		return err_sys(err, "setting the hostname to '%s'", hostname);
	return 0;
}

#include "sysctl.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool prefixed(const char *key, const char *prefix)
{
	return !strncmp(key, prefix, strlen(prefix));
}

int oci_sysctl_check(const char *key, unsigned long ns_new, struct error *err)
{
	static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb",
		"kernel.msgmni", "kernel.sem", "kernel.shmall",
		"kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
	size_t i;

	if (!*key || strstr(key, "..") || strchr(key, '/') || key[0] == '.')
		return err_input(err, "linux.sysctl: '%.200s' is not a sysctl "
				 "name", key);
	for (i = 0; i < sizeof(ipc) / sizeof(ipc[0]); i++)
		if (!strcmp(key, ipc[i]) && (ns_new & CLONE_NEWIPC))
			return 0;
	if (prefixed(key, "fs.mqueue.") && (ns_new & CLONE_NEWIPC))
		return 0;
	if (prefixed(key, "net.") && (ns_new & CLONE_NEWNET))
		return 0;
	if ((!strcmp(key, "kernel.hostname") ||
	     !strcmp(key, "kernel.domainname")) && (ns_new & CLONE_NEWUTS))
		return 0;
	return err_input(err, "linux.sysctl: '%.200s' is not namespaced for "
			 "this container (vessel allows kernel.msg*, "
			 "kernel.sem, kernel.shm* and fs.mqueue.* with an ipc "
			 "namespace, net.* with a network namespace, "
			 "kernel.hostname/domainname with a uts namespace)",
			 key);
}

int oci_sysctl_apply(const struct ct_spec *s, struct error *err)
{
	char path[4200], *p;
	size_t i, len;
	int fd;

	for (i = 0; i < s->nsysctl; i++) {
		len = (size_t)snprintf(path, sizeof(path), "/proc/sys/%s",
				       s->sysctl[i].key);
		if (len >= sizeof(path))
			return err_set(err, "linux.sysctl: key too long");
		for (p = path + strlen("/proc/sys/"); *p; p++)
			if (*p == '.')
				*p = '/';
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return err_sys(err, "linux.sysctl: %s", s->sysctl[i].key);
		len = strlen(s->sysctl[i].value);
		if (write(fd, s->sysctl[i].value, len) != (ssize_t)len) {
			err_sys(err, "linux.sysctl: writing '%s' to %s",
				s->sysctl[i].value, s->sysctl[i].key);
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

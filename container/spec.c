/* vessel's default container policies as data (spec.h). */
#include "spec.h"
#include "caps.h"
#include "oci_hooks.h"
#include "oci_seccomp.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static char *default_masked[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
	"/proc/sysrq-trigger", "/proc/timer_list", "/proc/timer_stats",
	"/sys/firmware", "/sys/devices/virtual/powercap",
};

static char *default_readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

void ct_spec_default(struct ct_spec *s, bool userns)
{
	memset(s, 0, sizeof(*s));
	s->cap_bounding = caps_mask(userns);
	s->masked = default_masked;
	s->nmasked = N(default_masked);
	s->readonly = default_readonly;
	s->nreadonly = N(default_readonly);
	s->seccomp = CT_SECCOMP_DEFAULT;
	s->no_new_privs = true;
	/* systemd's default; the hard limit is capped to the current one
	 * inside a user namespace (process.c). */
	s->rlimits[0] = (struct ct_rlimit){ RLIMIT_NOFILE, 1024, 524288 };
	s->nrlimits = 1;
	s->ns_new = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
		    CLONE_NEWNET | CLONE_NEWCGROUP |
		    (userns ? CLONE_NEWUSER : 0);
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void ct_spec_free(struct ct_spec *s)
{
	size_t i;

	if (!s->owned)
		return;
	free_strv(s->masked, s->nmasked);
	free_strv(s->readonly, s->nreadonly);
	oci_seccomp_free(s->seccomp_profile);
	if (s->hooks)
		oci_hooks_free(s->hooks);
	free(s->hooks);
	for (i = 0; i < s->njoins; i++)
		free(s->joins[i].path);
	free(s->joins);
	for (i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].source);
		free(s->mounts[i].target);
		free(s->mounts[i].type);
		free(s->mounts[i].data);
	}
	free(s->mounts);
	free(s->cwd);
	free(s->groups);
	free(s->uidmap);
	free(s->gidmap);
	for (i = 0; i < s->nsysctl; i++) {
		free(s->sysctl[i].key);
		free(s->sysctl[i].value);
	}
	free(s->sysctl);
	free(s->cgroup_path);
	free(s->devices);
	memset(s, 0, sizeof(*s));
}

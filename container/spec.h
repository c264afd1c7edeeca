/* What a container is made of beyond container_config (ct_config.h):
 * the policies vessel applies (capabilities, seccomp, masked and
 * read-only paths, rlimits, no_new_privs) as data, with vessel's own
 * values as the defaults (ct_spec_default), and what an OCI config.json
 * adds (oci_spec.h): namespaces to create or join, its own list of
 * mounts, the working directory, supplementary groups, id maps, sysctls,
 * oom_score_adj, the cgroup path and device rules.
 *
 * A `kind: container` guest of vessel's own always runs with
 * ct_spec_default(); only the OCI runtime (vessel-runc) fills the rest. */
#ifndef VESSEL_SPEC_H
#define VESSEL_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CT_MAX_RLIMITS 16

struct ct_rlimit {
	int resource;			/* RLIMIT_* */
	uint64_t soft, hard;
};

struct ct_idmap {
	uint32_t inside, outside, count;
};

/* One mount of an OCI spec, in order. */
struct ct_fsmount {
	char *source;			/* host path for a bind, else a name */
	char *target;			/* absolute, inside the container */
	char *type;			/* NULL for a bind */
	char *data;			/* the options that are not flags */
	unsigned long flags;		/* MS_* (without MS_BIND/MS_REC) */
	unsigned long propagation;	/* MS_PRIVATE, ... | MS_REC, or 0 */
	bool bind, rec;
};

struct ct_nsjoin {
	int flag;			/* CLONE_NEW* */
	char *path;			/* /proc/PID/ns/net, /run/netns/X */
};

struct ct_sysctl {
	char *key, *value;
};

/* A device cgroup rule (linux.resources.devices). */
struct ct_devrule {
	bool allow;
	char type;			/* 'a', 'c' or 'b' */
	int64_t major, minor;		/* -1: any */
	char access[4];			/* of "rwm" */
};

enum ct_seccomp {
	CT_SECCOMP_DEFAULT,		/* vessel's allowlist (seccomp_filter.h) */
	CT_SECCOMP_NONE,
	CT_SECCOMP_PROFILE,		/* the OCI spec's (oci_seccomp.h) */
};

struct oci_seccomp;
struct oci_hooks;

struct ct_spec {
	/* Capabilities. With caps_explicit false (vessel's rule): the
	 * bounding set is cap_bounding, and uid 0 gets it as effective,
	 * permitted, inheritable and ambient set, other users nothing. */
	bool caps_explicit;
	uint64_t cap_bounding, cap_effective, cap_permitted;
	uint64_t cap_inheritable, cap_ambient;
	char **masked; size_t nmasked;		/* masks.h */
	char **readonly; size_t nreadonly;
	enum ct_seccomp seccomp;
	struct oci_seccomp *seccomp_profile;
	bool no_new_privs;
	struct ct_rlimit rlimits[CT_MAX_RLIMITS]; size_t nrlimits;

	/* OCI only (oci true); vessel's defaults otherwise. */
	bool oci;
	unsigned long ns_new;			/* CLONE_NEW* to create */
	struct ct_nsjoin *joins; size_t njoins;
	struct ct_fsmount *mounts; size_t nmounts;
	char *cwd;
	gid_t *groups; size_t ngroups;
	struct ct_idmap *uidmap; size_t nuidmap;
	struct ct_idmap *gidmap; size_t ngidmap;
	struct ct_sysctl *sysctl; size_t nsysctl;
	bool has_oom_score_adj;
	int oom_score_adj;
	char *cgroup_path;			/* absolute, or NULL */
	struct ct_devrule *devices; size_t ndevices;
	int64_t memory_swap;			/* memory+swap bytes; 0: as
						 * much as memory (no swap),
						 * -1: unlimited */
	uint64_t cpu_shares;			/* 0: not set */
	bool has_umask;
	mode_t umask;
	bool terminal;				/* process.terminal */
	struct oci_hooks *hooks;		/* oci_hooks.h, or NULL */
	bool owned;				/* ct_spec_free frees the above */
};

/* vessel's policies for a container with or without a user namespace:
 * the values documented in caps.h, masks.h, seccomp_filter.h and
 * process.h. Nothing to free. */
void ct_spec_default(struct ct_spec *s, bool userns);
void ct_spec_free(struct ct_spec *s);

#endif

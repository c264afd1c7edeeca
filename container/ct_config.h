/* What the container engine is told to run: one container's definition
 * (the `kind: container` keys of a guest's YAML, or what oci_spec.h read
 * from a config.json). The engine's own type: tools/ fills it (config.h
 * embeds it in struct guest_config) and hands it to container_run() or
 * container_create() (handle.h); container/ includes nothing of the
 * CLI's config. Strings are owned by whoever filled the struct; paths
 * are already resolved. */
#ifndef VESSEL_CT_CONFIG_H
#define VESSEL_CT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ct_mount {
	char *source;                   /* resolved host path */
	char *target;                   /* absolute path inside */
	bool readonly;
};

struct ct_net {
	char *bridge;
	char *address;                  /* CIDR, e.g. 10.0.0.2/24; optional */
	char *gateway;                  /* optional */
};

struct container_config {
	char *rootfs;                   /* resolved dir or .tar/.tar.gz path */
	bool readonly;
	char **command; size_t ncommand; /* default {"/sbin/init"} */
	char **env; size_t nenv;         /* "KEY=VALUE" strings */
	char *hostname;                  /* default: guest name */
	uid_t uid; gid_t gid;            /* "user: uid:gid", default 0:0 */
	uint64_t memory;                 /* bytes, 0 = no limit */
	double cpus;                     /* 0 = no limit */
	int64_t pids;                    /* 0 = no limit */
	struct ct_mount *mounts; size_t nmounts;
	bool userns;
	struct ct_net *nets; size_t nnets;
	const char *name;               /* the guest's name, the default id
					 * (not owned; NULL: "container") */
};

#endif

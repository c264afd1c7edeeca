/* Container networking: one veth pair per entry of nets:.
 *
 * The parent creates each pair with the container end created directly
 * inside the container's network namespace, already named eth0, eth1...
 * (IFLA_NET_NS_PID on the peer), and puts the host end, named
 * vs<pid>n<i>, into the bridge and up. The child then brings lo up and
 * gives ethN its address, brings it up and adds the default route. The
 * pair disappears with the namespace; vessel also deletes the host end
 * explicitly after the container exits, in case the namespace is still
 * being torn down. */
#ifndef VESSEL_VETH_H
#define VESSEL_VETH_H

#include <stddef.h>
#include <sys/types.h>

#include "../tools/base/error.h"
#include "ct_config.h"

void veth_host_name(char *buf, size_t len, pid_t pid, size_t idx);
/* Preflight: bridge must exist and be a bridge. */
int veth_check_bridge(const char *bridge, struct error *err);
int veth_create(const char *host, size_t idx, pid_t pid, const char *bridge,
		struct error *err);
/* 0 if deleted or already gone. */
int veth_delete(const char *host, struct error *err);
/* Child, in its network namespace: lo, then each ethN. */
int veth_setup_inside(const struct ct_net *nets, size_t n, struct error *err);

#endif

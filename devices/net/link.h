/* Host network interfaces by name: bring one up, put one on a bridge.
 * Plain ioctls on an AF_LOCAL socket; no netlink. Messages do not repeat
 * the interface name: callers prefix it. */
#ifndef VESSEL_NET_LINK_H
#define VESSEL_NET_LINK_H

#include "../../tools/base/error.h"

/* Set IFF_UP on ifname. */
int link_up(const char *ifname, struct error *err);

/* Enslave ifname to the existing bridge `bridge` (SIOCBRADDIF). Already a
 * port of that bridge is fine; a missing bridge, a device that is not a
 * bridge, or a port of another bridge is an error. */
int link_bridge_attach(const char *ifname, const char *bridge,
		       struct error *err);

#endif

/* The guest's MAC address for a NIC: configured, or derived stably from the
 * guest name and the NIC's index. */
#ifndef VESSEL_NET_MAC_H
#define VESSEL_NET_MAC_H

#include <stdint.h>

#include "../../tools/base/error.h"

#define NET_MAC_LEN 6

/* 52:54:00:xx:xx:xx from FNV-1a over "name/index": unicast and locally
 * administered, the same on every run. name may be NULL. */
void net_mac_derive(const char *name, unsigned index, uint8_t mac[NET_MAC_LEN]);

/* "xx:xx:xx:xx:xx:xx"; a multicast address is refused. */
int net_mac_parse(const char *s, uint8_t mac[NET_MAC_LEN], struct error *err);

#endif

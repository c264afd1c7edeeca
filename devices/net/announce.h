/* Announcing a NIC's MAC address after its guest moved (a migration, a
 * restore): RARP frames (RFC 903, "request reverse", as QEMU's announce
 * sends) from the guest's MAC to the broadcast address, written into the
 * tap as if the guest had sent them. Switches and bridges on the way learn
 * the new port at once; the guest need not send anything itself. */
#ifndef VESSEL_NET_ANNOUNCE_H
#define VESSEL_NET_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "mac.h"
#include "vnet.h"

#define NET_ANNOUNCE_ROUNDS     5       /* frames per announce */
#define NET_ANNOUNCE_STEP_MS    100     /* between two of them */
/* The frame: the virtio-net header, then the minimum Ethernet frame. */
#define NET_ANNOUNCE_LEN        (NET_HDR_LEN + 60)

/* Fill buf (NET_ANNOUNCE_LEN bytes) with the tap frame announcing mac. */
void net_announce_frame(uint8_t buf[NET_ANNOUNCE_LEN],
			const uint8_t mac[NET_MAC_LEN]);

#endif

/* The host side of a virtio-net NIC: a tap device opened with IFF_VNET_HDR,
 * so every packet read or written carries the 12-byte virtio-net header. */
#ifndef VESSEL_NET_TAP_H
#define VESSEL_NET_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "../../tools/base/error.h"

struct tap {
	int fd;                 /* non-blocking, close-on-exec; -1 when closed */
	char name[IFNAMSIZ];
	bool created;           /* vessel made it: it goes away on tap_close() */
	unsigned offloads;      /* TUN_F_* the kernel accepts on this tap */
};

/* Attach to tap `name`, creating it if absent; vnet header size 12; probe
 * the offloads (left off until tap_set_offload()); bring the link up; then,
 * if bridge is not NULL, enslave it to that existing bridge. On failure the
 * tap is closed (and gone, if vessel created it). */
int tap_open(struct tap *t, const char *name, const char *bridge,
	     struct error *err);

/* Tell the tap which TUN_F_* offloads the guest accepts on receive; bits it
 * did not offer are masked off. */
int tap_set_offload(struct tap *t, unsigned tun_flags, struct error *err);

/* Close the fd: a tap vessel created vanishes, a persistent one stays. */
void tap_close(struct tap *t);

/* The TUN_F_* flags matching the VIRTIO_NET_F_GUEST_* bits in features. */
unsigned tap_offload_for(uint64_t features);
/* The VIRTIO_NET_F_GUEST_* bits this tap's offloads can honour. */
uint64_t tap_guest_features(const struct tap *t);

#endif

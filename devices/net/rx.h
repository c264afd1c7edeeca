/* Receive: packets from the tap into the guest's rx queue. No KVM and no
 * event loop here: the caller says when to pump, so this runs as well over
 * fake guest memory and a socketpair as over a guest and a tap.
 *
 * A packet is read before it is scattered. Without MRG_RXBUF it must fit one
 * chain; with it, it is spread over as many chains as it needs and
 * num_buffers in its header says how many. Those chains are published in the
 * used ring together, after the header is complete: a driver that sees the
 * first one sees them all. When the guest runs out of buffers in the middle
 * of a packet, the packet and the chains taken so far wait for more. */
#ifndef VESSEL_NET_RX_H
#define VESSEL_NET_RX_H

#include <stdbool.h>
#include <stdint.h>

#include "../virtio/queue.h"
#include "../../tools/base/error.h"

enum net_rx_status {
	NET_RX_BROKEN = -1,     /* malformed ring or buffer: device needs reset */
	NET_RX_IDLE,            /* the tap has nothing more to read */
	NET_RX_STARVED,         /* no guest buffers: wait for the next kick */
	NET_RX_BUDGET,          /* `budget` packets done; more may be waiting */
	NET_RX_ERROR,           /* the tap failed (errno): stop reading it */
};

struct net_rx {
	bool mrg;               /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	bool guest_csum;        /* VIRTIO_NET_F_GUEST_CSUM negotiated */
	uint8_t gso_ok;         /* bit t: gso_type t was negotiated (GUEST_*) */
	/* The packet being delivered: header + frame, len bytes, off sent */
	uint8_t *buf;
	size_t len, off;
	/* The chain holding the packet's header, popped and not yet pushed */
	bool have_first;
	struct virtq_req *first;
	struct virtq_req *req;  /* scratch for the packet's further chains */
	/* Chains filled for this packet, published together */
	unsigned nheld;
	uint16_t head[VIRTQ_MAX_SIZE];
	uint32_t written[VIRTQ_MAX_SIZE];
	uint64_t packets, dropped;
};

int net_rx_init(struct net_rx *rx, struct error *err);
/* What the driver accepts, from the negotiated features. */
void net_rx_features(struct net_rx *rx, uint64_t features);
void net_rx_free(struct net_rx *rx);
/* Forget the packet in flight and the chains taken (device reset). */
void net_rx_reset(struct net_rx *rx);

/* Move up to `budget` packets from fd to q. *pushed counts the used entries
 * added: the caller interrupts the guest if it is not 0. */
enum net_rx_status net_rx_pump(struct net_rx *rx, struct virtq *q, int fd,
			       unsigned budget, unsigned *pushed);

#endif

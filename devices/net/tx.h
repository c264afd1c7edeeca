/* Transmit: the guest's tx chains (virtio-net header + frame) written to
 * the tap as they are; the tap parses the same header. No KVM, no loop. */
#ifndef VESSEL_NET_TX_H
#define VESSEL_NET_TX_H

#include <stdbool.h>
#include <stdint.h>

#include "../virtio/queue.h"
#include "../../tools/base/error.h"

enum net_tx_status {
	NET_TX_BROKEN = -1,     /* malformed ring: device needs reset */
	NET_TX_IDLE,            /* the ring is empty */
	NET_TX_BLOCKED,         /* the tap is full: retry when it is writable */
	NET_TX_BUDGET,          /* `budget` chains done; more may be waiting */
};

struct net_tx {
	struct virtq_req *req;
	bool pending;           /* req was popped but not written yet */
	uint64_t packets, dropped;
};

int net_tx_init(struct net_tx *tx, struct error *err);
void net_tx_free(struct net_tx *tx);
void net_tx_reset(struct net_tx *tx);

/* Send up to `budget` chains from q to fd, each pushed back with length 0.
 * Frames the tap refuses (or chains too short for a header) are dropped and
 * counted. *pushed counts the used entries added. */
enum net_tx_status net_tx_pump(struct net_tx *tx, struct virtq *q, int fd,
			       unsigned budget, unsigned *pushed);

#endif

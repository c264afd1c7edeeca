/* vhost-net: the kernel moves a NIC's packets between its tap and the
 * guest's rings, with no trip through vessel per packet. vessel programs it
 * (features, guest RAM, ring addresses, one kick and one call eventfd per
 * queue) and takes the rings back whenever the device quiesces or resets.
 *
 * The eventfds belong to this struct for the NIC's lifetime, the vhost fd
 * only while it is open: the caller writes kick[q] when the guest kicks
 * queue q, and interrupts the guest (through its transport, which honours
 * MSI-X masking) when call[q] becomes readable. No KVM, no event loop here. */
#ifndef VESSEL_NET_VHOST_H
#define VESSEL_NET_VHOST_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/vhost.h>

#include "../virtio/queue.h"
#include "../../tools/base/error.h"

#define NET_VHOST_QUEUES 2      /* rx, tx */

enum net_vhost_result {
	NET_VHOST_OK = 0,
	NET_VHOST_HOST = -1,    /* the host said no: use the user-space path */
	NET_VHOST_GUEST = -2,   /* the guest's rings are bad: device broken */
};

struct net_vhost {
	int fd;                         /* /dev/vhost-net, -1 when closed */
	uint64_t offered;               /* VHOST_GET_FEATURES */
	int kick[NET_VHOST_QUEUES];     /* eventfds, -1 if none */
	int call[NET_VHOST_QUEUES];
	int kick_at[NET_VHOST_QUEUES];  /* what the kernel waits on: kick[]
					 * or the transport's notify fd */
	int call_at[NET_VHOST_QUEUES];  /* what it signals: call[] or the
					 * vector's irqfd */
	bool started;                   /* backends set: the kernel owns the rings */
};

/* The eventfds (the device closed). */
int net_vhost_init(struct net_vhost *v, struct error *err);
/* Open /dev/vhost-net, become its owner, read what it offers. */
int net_vhost_open(struct net_vhost *v, struct error *err);
/* Stop if started (without reading the rings back), close the device. */
void net_vhost_close(struct net_vhost *v);
/* net_vhost_close() and the eventfds. */
void net_vhost_free(struct net_vhost *v);

/* What to VHOST_SET_FEATURES for a driver that negotiated `negotiated`:
 * the ring layout bits (VERSION_1, EVENT_IDX, INDIRECT_DESC, MRG_RXBUF;
 * the offloads are the tap's business). With VERSION_1 the kernel and the
 * tap both use the 12-byte header, the size vessel gives the tap, so vhost
 * never adds or strips one. -1 if vhost lacks one of them, or the driver
 * did not take VERSION_1. */
int net_vhost_features(uint64_t offered, uint64_t negotiated, uint64_t *out,
		       struct error *err);

/* Host addresses of queue q's three rings for VHOST_SET_VRING_ADDR, each
 * checked to lie wholly inside one guest RAM region (with used_event and
 * avail_event). -1 (err says which ring) if not: the guest's fault. */
int net_vhost_ring_addr(const struct gmem *m, const struct virtq *q,
			unsigned index, struct vhost_vring_addr *a,
			struct error *err);

/* Hand the rings to the kernel: features, RAM, for each queue its size,
 * last_avail, ring addresses, kick and call, then the tap as the backend.
 * kick[q] >= 0: the kernel waits on that eventfd for queue q's kicks (the
 * transport's, signalled by KVM: no hop through user space), else on
 * v->kick[q]; call[q] >= 0: it signals queue q's interrupts there (the
 * vector's irqfd), else on v->call[q]. Both queues must be ready and not
 * broken. On failure nothing stays started. */
enum net_vhost_result net_vhost_start(struct net_vhost *v, const struct gmem *m,
				      uint64_t negotiated, struct virtq *vq,
				      int tap_fd, const int *kick, const int *call,
				      struct error *err);
/* While started: queue q's interrupts to fd (-1: v->call[q]). */
int net_vhost_set_call(struct net_vhost *v, unsigned q, int fd,
		       struct error *err);

/* Take the rings back: no backend, then each queue's last_avail from the
 * kernel and used_idx from the used ring, so the queues' state is exact for
 * the user-space path or a snapshot. Nothing if not started. */
void net_vhost_stop(struct net_vhost *v, struct virtq *vq);

/* Read call[q] empty: true if the kernel signalled since the last time. */
bool net_vhost_call_pending(struct net_vhost *v, unsigned q);

#endif

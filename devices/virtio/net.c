/* virtio-net: one PCI function per configured NIC, in the slot the config
 * gave it (file order unless `slot:`; eth0, eth1, ... in slot order), each on a tap opened with IFF_VNET_HDR. Queue 0 receives,
 * queue 1 transmits; the virtio-net header passes through untouched both
 * ways. The packet plumbing is in devices/net/ (rx.c, tx.c, tap.c); this
 * file wires it to the transport and the event loop.
 *
 * Threads and locks. Everything runs under d->lock: tap and wake-up
 * callbacks on the loop thread, queue kicks on the loop thread (ioeventfd)
 * or, without an ioeventfd, on a vCPU, and activate/reset on a vCPU. The
 * loop thread holds the loop's lock while it runs a callback, and a
 * callback takes d->lock; so a vCPU, which holds d->lock, must never call
 * loop_mod(). Changes to what the tap is watched for are therefore made
 * only on the loop thread: elsewhere they are asked for through wake_fd.
 *
 * vhost-net (devices/net/vhost.c). With nets[].vhost on or auto, the
 * kernel moves the packets from DRIVER_OK until reset or quiesce: the tap
 * is then watched for nothing and the pumps below stay idle. The kernel
 * waits on the transport's notify eventfds itself (KVM's ioeventfd wakes
 * it, no hop through the loop); a kick that exits instead (no ioeventfd
 * in place) comes here and is passed on. Its interrupts go straight to the
 * queue's MSI-X vector (the irqfd) while that vector is live; while it is
 * masked (or MSI-X off) they go to vhost's call eventfds, watched on the
 * loop, and through the transport, which holds them pending: masking
 * holds (net_calls_changed switches between the two). Quiesce
 * takes the rings back exactly (last_avail from the kernel), resume hands
 * them over again. If vhost cannot be set up, the user-space path runs
 * (auto: said once on stderr).
 *
 * Flow control. The tap is watched for EPOLLIN while the guest has receive
 * buffers; when it runs out, the watch drops and the next rx kick resumes
 * it. A full tap (EAGAIN on write) stops transmit until EPOLLOUT. Each
 * callback handles a bounded batch so one busy NIC cannot starve the loop.
 */
#include "virtio.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include "../net/announce.h"
#include "../net/mac.h"
#include "../net/rx.h"
#include "../net/tap.h"
#include "../net/tx.h"
#include "../net/vhost.h"
#include "../net/vnet.h"

#define NET_QUEUE_SIZE  256
#define RXQ             0
#define TXQ             1
#define RX_BUDGET       64      /* packets per callback */
#define TX_BUDGET       256     /* chains per callback */

#define BIT(n)          (1ULL << (n))

struct net {
	struct virtio_ops vops;         /* features depend on the tap */
	struct virtio_dev *vdev;
	struct device_env *env;
	unsigned index;
	struct tap tap;
	uint8_t mac[NET_MAC_LEN];
	int wake_fd;                    /* eventfd: "loop thread, look at me" */
	bool tap_watched, wake_watched;
	uint32_t watching;              /* the tap's current epoll events */
	bool running;                   /* DRIVER_OK, not reset, not broken */
	bool tap_dead;                  /* the tap went away under us */
	bool rx_starved;                /* no rx buffers: wait for a kick */
	bool tx_blocked;                /* tap full: wait for EPOLLOUT */
	bool tx_more;                   /* tx budget spent: continue later */
	bool paused;                    /* quiesced: no rx, no tx */
	bool tap_parked, wake_parked;   /* taken off the loop by quiesce */
	enum nic_vhost vhost;           /* OFF once it failed (said once) */
	const char *vhost_at;           /* where the file asked for it */
	struct net_vhost vh;
	bool vhost_on;                  /* the kernel owns the rings */
	bool call_watched, call_parked; /* vh.call[] on the loop */
	/* The announce after a restore (announce.h): a timerfd on the loop
	 * from resume until its last frame; -1 otherwise. */
	int announce_fd;
	unsigned announce_left;         /* frames still to send */
	struct net_rx rx;
	struct net_tx tx;
};

struct net_set {
	size_t n;
	struct net *nic[];
};

/* ---- the tap's watch ---- */

static uint32_t wanted(const struct net *n)
{
	uint32_t ev = 0;

	if (!n->running || n->tap_dead || n->vhost_on)
		return 0;
	if (!n->rx_starved)
		ev |= EPOLLIN;
	if (n->tx_blocked)
		ev |= EPOLLOUT;
	return ev;
}

static void wake(struct net *n)
{
	uint64_t one = 1;

	/* Cannot fail short of a counter overflow; EAGAIN means pending. */
	(void)!write(n->wake_fd, &one, sizeof(one));
}

/* Make the tap's watch match the state: directly on the loop thread,
 * through wake_fd from anywhere else (see the top of the file). */
static void watch_sync(struct net *n, bool on_loop)
{
	uint32_t want = wanted(n);

	if (want == n->watching || !n->tap_watched)
		return;
	if (!on_loop) {
		wake(n);
		return;
	}
	if (loop_mod(n->env->loop, n->tap.fd, want) == 0)
		n->watching = want;
}

/* ---- data path (d->lock held) ---- */

static void net_broken(struct net *n)
{
	n->running = false;
	virtio_broken(n->vdev);
}

static void tap_failed(struct net *n, const char *why)
{
	if (n->tap_dead)
		return;
	n->tap_dead = true;
	fprintf(stderr, "vessel: nets[%u]: tap %s %s; the NIC carries no more "
		"traffic\n", n->index, n->tap.name, why);
}

static void do_rx(struct net *n)
{
	struct virtq *vq = &n->vdev->vq[RXQ];
	enum net_rx_status s;
	unsigned pushed;

	if (!n->running || n->tap_dead || n->rx_starved || n->paused ||
	    n->vhost_on)
		return;
	if (!vq->ready) {
		n->rx_starved = true;   /* enabling it comes with a kick */
		return;
	}
	s = net_rx_pump(&n->rx, vq, n->tap.fd, RX_BUDGET, &pushed);
	if (pushed)
		virtio_used(n->vdev, RXQ);
	switch (s) {
	case NET_RX_STARVED:
		n->rx_starved = true;
		break;
	case NET_RX_BROKEN:
		net_broken(n);
		break;
	case NET_RX_ERROR:
		tap_failed(n, "cannot be read");
		break;
	case NET_RX_IDLE:
	case NET_RX_BUDGET:
		break;          /* level-triggered: the loop calls again */
	}
}

static void do_tx(struct net *n)
{
	struct virtq *vq = &n->vdev->vq[TXQ];
	enum net_tx_status s;
	unsigned pushed;

	n->tx_more = false;
	if (!n->running || n->tx_blocked || !vq->ready || n->paused ||
	    n->vhost_on)
		return;
	s = net_tx_pump(&n->tx, vq, n->tap.fd, TX_BUDGET, &pushed);
	if (pushed)
		virtio_used(n->vdev, TXQ);
	switch (s) {
	case NET_TX_BLOCKED:
		n->tx_blocked = true;
		break;
	case NET_TX_BUDGET:
		n->tx_more = true;
		wake(n);
		break;
	case NET_TX_BROKEN:
		net_broken(n);
		break;
	case NET_TX_IDLE:
		break;
	}
}

/* ---- vhost-net (d->lock held) ---- */

static void vhost_give_up(struct net *n, const char *why)
{
	if (n->vhost == NIC_VHOST_ON && n->vhost_at && n->vhost_at[0])
		fprintf(stderr, "vessel: %s: true, but vhost-net failed: %s; "
			"nets[%u] uses the user-space path\n", n->vhost_at, why,
			n->index);
	else
		fprintf(stderr, "vessel: nets[%u]: vhost-net: %s; the user-space "
			"path carries the traffic\n", n->index, why);
	n->vhost = NIC_VHOST_OFF;
	net_vhost_close(&n->vh);
}

/* Hand the rings to the kernel if the NIC runs and vhost is wanted. */
static void vhost_start(struct net *n)
{
	const struct virtio_dev *d = n->vdev;
	int kick[NET_VHOST_QUEUES], call[NET_VHOST_QUEUES];
	struct error err;

	if (n->vhost == NIC_VHOST_OFF || n->vhost_on || !n->running ||
	    n->paused || n->tap_dead)
		return;
	/* RAM is tracked for a migration: the kernel's writes would not be
	 * marked, so the user-space path runs until it ends. */
	if (__atomic_load_n(&n->env->mem->dirty_on, __ATOMIC_ACQUIRE))
		return;
	/* A driver that is not (or no longer) running, or did not enable
	 * both queues: nothing to hand over; the user-space path copes. */
	if (!(d->status & VIRTIO_STATUS_DRIVER_OK) ||
	    (d->status & VIRTIO_STATUS_NEEDS_RESET))
		return;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		if (!d->vq[q].ready || d->vq[q].broken)
			return;
	if (net_vhost_open(&n->vh, &err) < 0) {
		vhost_give_up(n, err.msg);
		return;
	}
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++) {
		kick[q] = virtio_kick_fd(n->vdev, q);
		call[q] = virtio_call_fd(n->vdev, q);
	}
	switch (net_vhost_start(&n->vh, n->env->mem, n->vdev->features,
				n->vdev->vq, n->tap.fd, kick, call, &err)) {
	case NET_VHOST_OK:
		n->vhost_on = true;
		/* KVM's ioeventfd wakes the kernel's worker itself. */
		for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
			virtio_kick_direct(n->vdev, q, true);
		break;
	case NET_VHOST_GUEST:
		fprintf(stderr, "vessel: nets[%u]: %s\n", n->index, err.msg);
		net_broken(n);
		break;
	case NET_VHOST_HOST:
		vhost_give_up(n, err.msg);
		break;
	}
}

/* Take the rings back. deliver: an interrupt the kernel asked for and the
 * loop did not deliver yet is delivered now (not for a reset). */
static void vhost_stop(struct net *n, bool deliver)
{
	if (!n->vhost_on)
		return;
	net_vhost_stop(&n->vh, n->vdev->vq);
	n->vhost_on = false;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		virtio_kick_direct(n->vdev, q, false);
	/* The user-space path, should it take over, starts afresh. */
	n->rx_starved = false;
	n->tx_blocked = false;
	n->tx_more = false;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		if (net_vhost_call_pending(&n->vh, q) && deliver)
			virtio_interrupt(n->vdev, q);
}

/* ---- loop callbacks ---- */

static void net_vhost_call(struct loop *loop, int fd, uint32_t events,
			   void *opaque)
{
	struct net *n = opaque;

	(void)loop;
	(void)events;
	pthread_mutex_lock(&n->vdev->lock);
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		if (n->vh.call[q] == fd && net_vhost_call_pending(&n->vh, q) &&
		    n->vhost_on)
			virtio_interrupt(n->vdev, q);
	pthread_mutex_unlock(&n->vdev->lock);
}

static void net_tap_event(struct loop *loop, int fd, uint32_t events,
			  void *opaque)
{
	struct net *n = opaque;

	pthread_mutex_lock(&n->vdev->lock);
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* The tap was deleted. epoll reports this whatever the watched
		 * events, so the watch must go. */
		tap_failed(n, "was removed");
		loop_del(loop, fd);
		n->tap_watched = false;
		n->watching = 0;
		pthread_mutex_unlock(&n->vdev->lock);
		return;
	}
	if ((events & EPOLLOUT) && n->tx_blocked) {
		n->tx_blocked = false;
		do_tx(n);
	}
	if (events & EPOLLIN)
		do_rx(n);
	watch_sync(n, true);
	pthread_mutex_unlock(&n->vdev->lock);
}

static void net_wake(struct loop *loop, int fd, uint32_t events, void *opaque)
{
	struct net *n = opaque;
	uint64_t cnt;

	(void)loop;
	(void)events;
	if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return;
	pthread_mutex_lock(&n->vdev->lock);
	if (n->tx_more)
		do_tx(n);
	watch_sync(n, true);
	pthread_mutex_unlock(&n->vdev->lock);
}

/* One announce frame per tick; the last one takes the timer off. */
static void net_announce_tick(struct loop *loop, int fd, uint32_t events,
			      void *opaque)
{
	struct net *n = opaque;
	uint8_t frame[NET_ANNOUNCE_LEN];
	uint64_t ticks;

	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	pthread_mutex_lock(&n->vdev->lock);
	if (n->announce_left && !n->tap_dead && !n->paused) {
		net_announce_frame(frame, n->mac);
		/* Best effort, as any frame: a full tap drops it. */
		(void)!write(n->tap.fd, frame, sizeof(frame));
		n->announce_left--;
	}
	if (!n->announce_left && n->announce_fd == fd) {  /* not stopped */
		loop_del(loop, fd);
		close(fd);
		n->announce_fd = -1;
	}
	pthread_mutex_unlock(&n->vdev->lock);
}

/* Start announcing (resume after a restore): the first frame now, then
 * one every NET_ANNOUNCE_STEP_MS. */
static int announce_start(struct net *n, struct error *err)
{
	struct itimerspec its = {
		.it_value = { .tv_nsec = 1 },
		.it_interval = { .tv_nsec = NET_ANNOUNCE_STEP_MS * 1000000L },
	};
	int fd;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return err_sys(err, "timerfd_create");
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return err_sys(err, "timerfd_settime");
	}
	n->announce_fd = fd;
	if (loop_add(n->env->loop, fd, EPOLLIN, net_announce_tick, n, err) < 0) {
		close(fd);
		n->announce_fd = -1;
		return -1;
	}
	return 0;
}

/* Stop announcing (quiesce, destroy): what is left is dropped. Not
 * under d->lock (loop_del() waits for a running callback). */
static void announce_stop(struct net *n)
{
	int fd;

	pthread_mutex_lock(&n->vdev->lock);
	fd = n->announce_fd;
	n->announce_fd = -1;
	n->announce_left = 0;
	pthread_mutex_unlock(&n->vdev->lock);
	if (fd >= 0) {
		loop_del(n->env->loop, fd);
		close(fd);
	}
}

/* ---- virtio_ops (d->lock held) ---- */

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct net *n = d->priv;
	uint64_t one = 1;

	if (n->vhost_on) {
		/* Reached for a kick that exited (no ioeventfd in place) or
		 * with the kernel on its own kick eventfd: pass it on. */
		if (q < NET_VHOST_QUEUES)
			(void)!write(n->vh.kick_at[q], &one, sizeof(one));
		return;
	}
	if (q == TXQ) {
		do_tx(n);
	} else if (q == RXQ && n->rx_starved) {
		n->rx_starved = false;
		do_rx(n);
	}
	watch_sync(n, false);
}

static void net_activate(struct virtio_dev *d)
{
	struct net *n = d->priv;
	struct error err;

	net_rx_features(&n->rx, d->features);
	if (tap_set_offload(&n->tap, tap_offload_for(d->features), &err) < 0)
		fprintf(stderr, "vessel: nets[%u]: %s\n", n->index, err.msg);
	n->running = true;
	n->rx_starved = false;
	n->tx_blocked = false;
	n->tx_more = false;
	vhost_start(n);
	watch_sync(n, false);
}

static void net_reset(struct virtio_dev *d)
{
	struct net *n = d->priv;
	struct error err;

	/* Re-opened on the next DRIVER_OK. */
	vhost_stop(n, false);
	net_vhost_close(&n->vh);
	n->running = false;
	n->rx_starved = false;
	n->tx_blocked = false;
	n->tx_more = false;
	net_rx_reset(&n->rx);
	net_tx_reset(&n->tx);
	if (n->tap.fd >= 0)
		tap_set_offload(&n->tap, 0, &err);
	watch_sync(n, false);
}

/* The vectors changed (masked, unmasked, reassigned): with vhost on, its
 * interrupts go straight to a live vector's irqfd, or through the loop
 * (net_vhost_call, then the transport, which holds them while masked). */
static void net_calls_changed(struct virtio_dev *d)
{
	struct net *n = d->priv;
	struct error err;

	if (!n->vhost_on)
		return;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		if (net_vhost_set_call(&n->vh, q, virtio_call_fd(d, q), &err) < 0) {
			/* The user-space path takes over from where the
			 * kernel was, with a turn for each queue. */
			vhost_stop(n, true);
			vhost_give_up(n, err.msg);
			watch_sync(n, false);
			for (unsigned k = 0; k < NET_VHOST_QUEUES; k++)
				virtio_notify_later(d, k);
			return;
		}
}

static void net_config_read(struct virtio_dev *d, unsigned off, uint8_t *data,
			    unsigned len)
{
	struct net *n = d->priv;
	uint8_t cfg[NET_CFG_SIZE];
	uint16_t v;

	memcpy(cfg + NET_CFG_MAC, n->mac, NET_MAC_LEN);
	v = htole16(VIRTIO_NET_S_LINK_UP);
	memcpy(cfg + NET_CFG_STATUS, &v, sizeof(v));
	v = htole16(1);
	memcpy(cfg + NET_CFG_MAX_PAIRS, &v, sizeof(v));
	/* The transport keeps off + len within config_size. */
	memcpy(data, cfg + off, len);
}

static const struct virtio_ops net_vops = {
	.name = "virtio-net",
	.device_id = 1,
	.class_code = 0x020000,
	.nqueues = 2,
	.queue_size = NET_QUEUE_SIZE,
	.config_read = net_config_read,
	.config_size = NET_CFG_SIZE,
	.activate = net_activate,
	.queue_notify = net_notify,
	.reset = net_reset,
	.calls_changed = net_calls_changed,
};

/* What the device offers: the host side always takes partial checksums and
 * GSO frames (the tap does); the guest side only what the tap can do. */
static uint64_t net_features(const struct net *n)
{
	return BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_MAC) |
	       BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
	       BIT(VIRTIO_NET_F_HOST_UFO) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
	       BIT(VIRTIO_NET_F_STATUS) | tap_guest_features(&n->tap);
}

/* ---- creation ---- */

static void net_destroy_one(struct net *n)
{
	if (!n)
		return;
	/* Off the loop first: after loop_del() no callback runs or will. */
	if (n->vdev) {
		virtio_pci_quiesce(n->vdev);
		announce_stop(n);
	}
	if (n->tap_watched)
		loop_del(n->env->loop, n->tap.fd);
	if (n->wake_watched)
		loop_del(n->env->loop, n->wake_fd);
	for (unsigned q = 0; n->call_watched && q < NET_VHOST_QUEUES; q++)
		loop_del(n->env->loop, n->vh.call[q]);
	net_vhost_free(&n->vh);         /* before the tap it holds */
	if (n->vdev)
		virtio_pci_destroy(n->vdev);
	tap_close(&n->tap);
	if (n->wake_fd >= 0)
		close(n->wake_fd);
	net_rx_free(&n->rx);
	net_tx_free(&n->tx);
	free(n);
}

/* nets[].vhost: open /dev/vhost-net now, so that `true` fails at start
 * (naming the file's line) and `auto` says once why it will not be used.
 * The call eventfds go on the loop for the NIC's lifetime. */
static int vhost_setup(struct net *n, const struct nic_spec *c,
		       struct error *err)
{
	struct error e;

	n->vhost = c->vhost;
	n->vhost_at = c->vhost_at;
	if (n->vhost == NIC_VHOST_OFF)
		return 0;
	if (net_vhost_init(&n->vh, err) < 0)
		return -1;
	if (net_vhost_open(&n->vh, &e) < 0) {
		if (n->vhost == NIC_VHOST_ON)
			return err_set(err, "%s: true, but %s",
				       c->vhost_at[0] ? c->vhost_at : "vhost",
				       e.msg);
		fprintf(stderr, "vessel: nets[%u]: vhost-net: %s; the user-space "
			"path carries the traffic\n", n->index, e.msg);
		n->vhost = NIC_VHOST_OFF;
		net_vhost_free(&n->vh);
		return 0;
	}
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		if (loop_add(n->env->loop, n->vh.call[q], EPOLLIN, net_vhost_call,
			     n, err) < 0) {
			for (unsigned p = 0; p < q; p++)
				loop_del(n->env->loop, n->vh.call[p]);
			return -1;
		}
	n->call_watched = true;
	return 0;
}

static int net_create_one(struct device_env *env, unsigned i, struct net **out,
			  struct error *err)
{
	const struct nic_spec *c = &env->spec->nets[i];
	struct net *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (!n)
		return err_set(err, "out of memory");
	n->env = env;
	n->index = i;
	n->tap.fd = -1;
	n->wake_fd = -1;
	n->announce_fd = -1;
	n->vh.fd = -1;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		n->vh.kick[q] = n->vh.call[q] = -1;
	if (c->mac) {
		if (net_mac_parse(c->mac, n->mac, err) < 0)
			goto fail;
	} else {
		net_mac_derive(env->spec->name, i, n->mac);
	}
	if (net_rx_init(&n->rx, err) < 0 || net_tx_init(&n->tx, err) < 0)
		goto fail;
	if (tap_open(&n->tap, c->tap, c->bridge, err) < 0)
		goto fail;
	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->wake_fd < 0) {
		err_sys(err, "eventfd");
		goto fail;
	}
	n->vops = net_vops;
	n->vops.features = net_features(n);
	if (virtio_pci_create_at(env, &n->vops, n, c->slot, &n->vdev, err) < 0)
		goto fail;
	/* Watched for nothing until the driver is ready (EPOLLERR still). */
	if (loop_add(env->loop, n->tap.fd, 0, net_tap_event, n, err) < 0)
		goto fail;
	n->tap_watched = true;
	if (loop_add(env->loop, n->wake_fd, EPOLLIN, net_wake, n, err) < 0)
		goto fail;
	n->wake_watched = true;
	if (vhost_setup(n, c, err) < 0)
		goto fail;
	*out = n;
	return 0;
fail:
	net_destroy_one(n);
	return -1;
}

static void net_destroy(void *state)
{
	struct net_set *set = state;

	if (!set)
		return;
	while (set->n > 0)
		net_destroy_one(set->nic[--set->n]);
	free(set);
}

static int net_create(struct device_env *env, void **state, struct error *err)
{
	const struct devices_spec *cfg = env->spec;
	struct net_set *set;

	*state = NULL;
	if (!cfg->nnets)
		return 0;
	set = calloc(1, sizeof(*set) + cfg->nnets * sizeof(set->nic[0]));
	if (!set)
		return err_set(err, "out of memory");
	for (size_t i = 0; i < cfg->nnets; i++) {
		if (net_create_one(env, i, &set->nic[i], err) < 0) {
			net_destroy(set);
			return err_prefix(err, "nets[%zu]", i);
		}
		set->n++;
	}
	*state = set;
	return 0;
}

/* ---- lifecycle: quiesce, resume, save, restore ---- */

/* Chains taken and not yet returned (a packet half received, a frame the
 * full tap did not take) go back to the ring: the guest gets them again
 * after resume, or in the restored VM. The half-received packet is
 * dropped, as a full ring would have. d->lock held. */
static void net_unpop(struct net *n)
{
	for (unsigned q = RXQ; q <= TXQ; q++) {
		struct virtq *vq = &n->vdev->vq[q];

		if (vq->ready && !vq->broken)
			vq->last_avail = vq->used_idx;
	}
	if (n->rx.len)
		n->rx.dropped++;
	net_rx_reset(&n->rx);
	n->tx.pending = false;
}

static void net_quiesce_one(struct net *n)
{
	bool tap, wk, call;

	virtio_pci_quiesce(n->vdev);
	announce_stop(n);
	pthread_mutex_lock(&n->vdev->lock);
	n->paused = true;
	vhost_stop(n, true);
	tap = n->tap_watched;
	wk = n->wake_watched;
	call = n->call_watched;
	pthread_mutex_unlock(&n->vdev->lock);
	/* Not under d->lock: loop_del() waits for a running callback. */
	if (tap)
		loop_del(n->env->loop, n->tap.fd);
	if (wk)
		loop_del(n->env->loop, n->wake_fd);
	for (unsigned q = 0; call && q < NET_VHOST_QUEUES; q++)
		loop_del(n->env->loop, n->vh.call[q]);
	pthread_mutex_lock(&n->vdev->lock);
	if (tap && n->tap_watched) {    /* not removed by a hang-up meanwhile */
		n->tap_watched = false;
		n->tap_parked = true;
		n->watching = 0;
	}
	if (wk) {
		n->wake_watched = false;
		n->wake_parked = true;
	}
	if (call) {
		n->call_watched = false;
		n->call_parked = true;
	}
	net_unpop(n);
	pthread_mutex_unlock(&n->vdev->lock);
}

static int net_resume_one(struct net *n, struct error *err)
{
	uint32_t want;

	pthread_mutex_lock(&n->vdev->lock);
	n->paused = false;
	vhost_start(n);
	/* What the kernel signalled before it stopped may not have reached
	 * the guest (a snapshot): one interrupt per queue costs nothing. */
	for (unsigned q = 0; n->vhost_on && q < NET_VHOST_QUEUES; q++)
		virtio_interrupt(n->vdev, q);
	want = wanted(n);
	pthread_mutex_unlock(&n->vdev->lock);
	/* Nothing else changes the watches: the transport is still quiesced. */
	if (n->tap_parked) {
		if (loop_add(n->env->loop, n->tap.fd, want, net_tap_event, n, err) < 0)
			return -1;
		n->tap_parked = false;
		n->tap_watched = true;
		n->watching = want;
	}
	if (n->wake_parked) {
		if (loop_add(n->env->loop, n->wake_fd, EPOLLIN, net_wake, n, err) < 0)
			return -1;
		n->wake_parked = false;
		n->wake_watched = true;
	}
	if (n->call_parked) {
		for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
			if (loop_add(n->env->loop, n->vh.call[q], EPOLLIN,
				     net_vhost_call, n, err) < 0)
				return -1;
		n->call_parked = false;
		n->call_watched = true;
	}
	if (n->announce_left && n->announce_fd < 0 && announce_start(n, err) < 0)
		return -1;
	return virtio_pci_resume(n->vdev, err);
}

static void net_quiesce(void *state)
{
	struct net_set *set = state;

	for (size_t i = 0; set && i < set->n; i++)
		net_quiesce_one(set->nic[i]);
}

static void net_resume(void *state)
{
	struct net_set *set = state;
	struct error err;

	for (size_t i = 0; set && i < set->n; i++)
		if (net_resume_one(set->nic[i], &err) < 0)
			fprintf(stderr, "vessel: nets[%zu]: resume: %s\n", i, err.msg);
}

static int net_save(void *state, struct vmstate_writer *w, struct error *err)
{
	struct net_set *set = state;
	char id[VMSTATE_ID_LEN];

	(void)err;
	for (size_t i = 0; set && i < set->n; i++) {
		snprintf(id, sizeof(id), "virtio-net.%zu", i);
		vmstate_begin(w, id, VIRTIO_STATE_VERSION);
		virtio_pci_save(set->nic[i]->vdev, w);
		vmstate_put(w, set->nic[i]->mac, NET_MAC_LEN);
		vmstate_end(w);
	}
	return 0;
}

static int net_restore_one(struct net *n, const struct vmstate_reader *r,
			   const char *id, struct error *err)
{
	struct vmstate_section s;
	uint8_t mac[NET_MAC_LEN];

	net_quiesce_one(n);
	if (virtio_section_open(r, id, &s, err) < 0 ||
	    virtio_pci_load(n->vdev, &s, err) < 0 ||
	    vmstate_get(&s, mac, sizeof(mac), err) < 0 ||
	    virtio_section_close(&s, err) < 0)
		return -1;
	if (memcmp(mac, n->mac, sizeof(mac)))
		return err_input(err, "%s: the saved NIC had another MAC address", id);
	/* The guest may have moved (a migration, a restore elsewhere):
	 * resume tells the network where its MAC is now. */
	n->announce_left = NET_ANNOUNCE_ROUNDS;
	return 0;
}

static int net_restore(void *state, const struct vmstate_reader *r,
		       struct error *err)
{
	struct net_set *set = state;
	char id[VMSTATE_ID_LEN];

	for (size_t i = 0; set && i < set->n; i++) {
		snprintf(id, sizeof(id), "virtio-net.%zu", i);
		if (net_restore_one(set->nic[i], r, id, err) < 0)
			return err_prefix(err, "nets[%zu]", i);
	}
	return 0;
}

/* No reset hook: a guest reboot rebuilds the VM. */
static const struct device_ops net_ops = {
	.name = "virtio-net", .create = net_create, .destroy = net_destroy,
	.quiesce = net_quiesce, .resume = net_resume,
	.save = net_save, .restore = net_restore,
};
DEVICE_REGISTER(net_ops);

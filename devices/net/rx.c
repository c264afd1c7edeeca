/* virtio-net receive over a tap fd (see rx.h).
 *
 * Each packet starts with a chain (the "first"), popped before anything is
 * read: with no guest buffer the packet stays in the tap's queue. A first
 * chain big enough for any packet is read into directly; otherwise the
 * packet goes through buf and is copied out, over one chain or, with
 * MRG_RXBUF, as many as it takes. */
#include "rx.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "vnet.h"

/* A chain's iovecs go to readv()/writev() as they are */
_Static_assert(VIRTQ_MAX_IOV <= IOV_MAX, "a chain can exceed IOV_MAX");

/* What one step did, besides the public statuses */
#define RX_PROGRESS 100

int net_rx_init(struct net_rx *rx, struct error *err)
{
	memset(rx, 0, sizeof(*rx));
	rx->buf = malloc(NET_RX_BUF);
	rx->first = malloc(sizeof(*rx->first));
	rx->req = malloc(sizeof(*rx->req));
	if (!rx->buf || !rx->first || !rx->req) {
		net_rx_free(rx);
		return err_set(err, "out of memory");
	}
	return 0;
}

void net_rx_features(struct net_rx *rx, uint64_t features)
{
	static const struct {
		unsigned feature;
		uint8_t gso_type;
	} gso[] = {
		{ VIRTIO_NET_F_GUEST_TSO4, NET_HDR_GSO_TCPV4 },
		{ VIRTIO_NET_F_GUEST_TSO6, NET_HDR_GSO_TCPV6 },
		{ VIRTIO_NET_F_GUEST_UFO, NET_HDR_GSO_UDP },
	};

	rx->mrg = features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	rx->guest_csum = features & (1ULL << VIRTIO_NET_F_GUEST_CSUM);
	rx->gso_ok = 0;
	for (unsigned i = 0; i < sizeof(gso) / sizeof(gso[0]); i++)
		if (features & (1ULL << gso[i].feature))
			rx->gso_ok |= 1u << gso[i].gso_type;
}

void net_rx_free(struct net_rx *rx)
{
	free(rx->buf);
	free(rx->first);
	free(rx->req);
	rx->buf = NULL;
	rx->first = rx->req = NULL;
}

void net_rx_reset(struct net_rx *rx)
{
	rx->len = rx->off = 0;
	rx->have_first = false;
	rx->nheld = 0;
}

/* Make sure the packet has its first chain: 1, 0 (none), -1 (malformed).
 * The header goes there, so it must at least hold one. */
static int take_first(struct net_rx *rx, struct virtq *q)
{
	int r;

	if (rx->have_first)
		return 1;
	r = virtq_pop(q, rx->first);
	if (r <= 0)
		return r;
	if (rx->first->in_len < NET_HDR_LEN)
		return -1;
	rx->have_first = true;
	return 1;
}

/* The header fields the tap leaves to us, in the first chain */
static void finish_header(struct net_rx *rx)
{
	uint16_t nb = htole16(rx->nheld);
	uint8_t flags = 0;

	iov_from_buf(rx->first->in, rx->first->nin, NET_HDR_NUM_BUFFERS, &nb,
		     sizeof(nb));
	/* DATA_VALID is only for a driver that negotiated GUEST_CSUM (and
	 * NEEDS_CSUM cannot come without it: the tap offloads are off). */
	if (!rx->guest_csum)
		iov_from_buf(rx->first->in, rx->first->nin, NET_HDR_FLAGS,
			     &flags, sizeof(flags));
}

/* Publish the held chains; the packet is done. */
static int publish(struct net_rx *rx, struct virtq *q, unsigned *pushed)
{
	if (virtq_push_many(q, rx->head, rx->written, rx->nheld) < 0)
		return NET_RX_BROKEN;
	*pushed += rx->nheld;
	net_rx_reset(rx);
	return RX_PROGRESS;
}

static void hold(struct net_rx *rx, uint16_t head, uint32_t written)
{
	rx->head[rx->nheld] = head;
	rx->written[rx->nheld] = written;
	rx->nheld++;
}

/* Would the driver understand this header? The tap only hands out what
 * its offloads allow, which follow the driver's features; this catches a
 * packet queued under a previous driver's offloads, before a reset. */
static bool header_ok(const struct net_rx *rx, const uint8_t hdr[2])
{
	uint8_t gso = hdr[NET_HDR_GSO_TYPE];

	if ((hdr[NET_HDR_FLAGS] & NET_HDR_F_NEEDS_CSUM) && !rx->guest_csum)
		return false;
	if (gso == NET_HDR_GSO_NONE)
		return true;
	return gso < 8 && (rx->gso_ok & (1u << gso));
}

static int read_failed(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK ? NET_RX_IDLE : NET_RX_ERROR;
}

/* Read the next packet: into the first chain when it holds any packet,
 * else into buf. */
static int rx_read(struct net_rx *rx, struct virtq *q, int fd, unsigned *pushed)
{
	struct virtq_req *c = rx->first;
	ssize_t n;
	int r;

	r = take_first(rx, q);
	if (r <= 0)
		return r < 0 ? NET_RX_BROKEN : NET_RX_STARVED;
	if (c->in_len >= NET_RX_BUF) {
		uint8_t hdr[2];

		do
			n = readv(fd, c->in, c->nin);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return read_failed();
		iov_to_buf(c->in, c->nin, 0, hdr, sizeof(hdr));
		if (n < NET_HDR_LEN || n >= NET_RX_BUF || !header_ok(rx, hdr)) {
			rx->dropped++;  /* the chain stays for the next one */
			return RX_PROGRESS;
		}
		hold(rx, c->head, n);
		finish_header(rx);
		rx->packets++;
		return publish(rx, q, pushed);
	}
	do
		n = read(fd, rx->buf, NET_RX_BUF);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return read_failed();
	if (n < NET_HDR_LEN || n >= NET_RX_BUF || !header_ok(rx, rx->buf)) {
		rx->dropped++;
		return RX_PROGRESS;
	}
	rx->len = n;
	rx->off = 0;
	return RX_PROGRESS;
}

/* Without MRG_RXBUF: all of it in the first chain, or dropped (keeping the
 * chain for the next packet). */
static int scatter_one(struct net_rx *rx, struct virtq *q, unsigned *pushed)
{
	struct virtq_req *c = rx->first;

	if (c->in_len < rx->len) {
		rx->dropped++;
		rx->len = rx->off = 0;
		return RX_PROGRESS;
	}
	iov_from_buf(c->in, c->nin, 0, rx->buf, rx->len);
	hold(rx, c->head, rx->len);
	finish_header(rx);
	rx->packets++;
	return publish(rx, q, pushed);
}

/* With MRG_RXBUF: chain after chain until the packet is out. */
static int scatter_merged(struct net_rx *rx, struct virtq *q, unsigned *pushed)
{
	while (rx->off < rx->len) {
		struct virtq_req *c = rx->first;
		size_t copy;

		if (rx->nheld == q->size) {
			/* Every buffer the ring can hold, and still short: this
			 * packet can never fit. Give the chains back empty (the
			 * driver drops zero-length buffers) and drop it. */
			memset(rx->written, 0, rx->nheld * sizeof(rx->written[0]));
			rx->dropped++;
			return publish(rx, q, pushed);
		}
		if (rx->nheld) {
			int r = virtq_pop(q, rx->req);

			if (r < 0)
				return NET_RX_BROKEN;
			if (!r)
				return NET_RX_STARVED;
			c = rx->req;
		}
		copy = iov_from_buf(c->in, c->nin, 0, rx->buf + rx->off,
				    rx->len - rx->off);
		hold(rx, c->head, copy);
		rx->off += copy;
	}
	finish_header(rx);
	rx->packets++;
	return publish(rx, q, pushed);
}

enum net_rx_status net_rx_pump(struct net_rx *rx, struct virtq *q, int fd,
			       unsigned budget, unsigned *pushed)
{
	*pushed = 0;
	for (unsigned done = 0; done < budget; done++) {
		int r = RX_PROGRESS;

		if (!rx->len)
			r = rx_read(rx, q, fd, pushed);
		if (r == RX_PROGRESS && rx->len)
			r = rx->mrg ? scatter_merged(rx, q, pushed) :
				      scatter_one(rx, q, pushed);
		if (r != RX_PROGRESS)
			return r;
	}
	return NET_RX_BUDGET;
}

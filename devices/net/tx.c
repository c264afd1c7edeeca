/* virtio-net transmit over a tap fd (see tx.h). The chain's readable
 * buffers are header + frame exactly as the tap wants them, however the
 * driver split them: one writev, no copy. */
#include "tx.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "vnet.h"

/* A chain's iovecs go to readv()/writev() as they are */
_Static_assert(VIRTQ_MAX_IOV <= IOV_MAX, "a chain can exceed IOV_MAX");

int net_tx_init(struct net_tx *tx, struct error *err)
{
	memset(tx, 0, sizeof(*tx));
	tx->req = malloc(sizeof(*tx->req));
	if (!tx->req)
		return err_set(err, "out of memory");
	return 0;
}

void net_tx_free(struct net_tx *tx)
{
	free(tx->req);
	tx->req = NULL;
}

void net_tx_reset(struct net_tx *tx)
{
	tx->pending = false;
}

/* Write the pending chain. False if the tap is full (try again later). */
static bool tx_send(struct net_tx *tx, int fd)
{
	struct virtq_req *r = tx->req;
	ssize_t n;

	if (r->out_len < NET_HDR_LEN) {
		tx->dropped++;          /* not even a header */
		return true;
	}
	do
		n = writev(fd, r->out, r->nout);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n < 0)
		tx->dropped++;          /* refused: bad header, link gone, ... */
	else
		tx->packets++;
	return true;
}

enum net_tx_status net_tx_pump(struct net_tx *tx, struct virtq *q, int fd,
			       unsigned budget, unsigned *pushed)
{
	*pushed = 0;
	for (unsigned done = 0; done < budget; done++) {
		if (!tx->pending) {
			int r = virtq_pop(q, tx->req);

			if (r < 0)
				return NET_TX_BROKEN;
			if (!r)
				return NET_TX_IDLE;
			tx->pending = true;
		}
		if (!tx_send(tx, fd))
			return NET_TX_BLOCKED;
		tx->pending = false;
		if (virtq_push(q, tx->req->head, 0) < 0)
			return NET_TX_BROKEN;
		(*pushed)++;
	}
	return NET_TX_BUDGET;
}

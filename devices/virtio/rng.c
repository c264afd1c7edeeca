/* virtio-rng: the guest's entropy requests filled from getrandom(2). */
#include <stdlib.h>
#include <sys/random.h>

#include "virtio.h"

struct rng {
	struct virtio_dev *vdev;
	struct virtq_req req;
};

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	struct rng *r = d->priv;
	struct virtq *vq = &d->vq[q];
	int n, more = 0;

	while ((n = virtq_pop(vq, &r->req)) > 0) {
		uint64_t done = 0;

		/* A request is only device-writable buffers; bytes go in order. */
		for (unsigned i = 0; i < r->req.nin; i++) {
			ssize_t got = getrandom(r->req.in[i].iov_base,
						r->req.in[i].iov_len, GRND_NONBLOCK);
			if (got <= 0)
				break;
			done += got;
			if ((size_t)got < r->req.in[i].iov_len)
				break;
		}
		if (virtq_push(vq, r->req.head, (uint32_t)done) < 0) {
			n = -1;
			break;
		}
		more = 1;
	}
	if (more)
		virtio_used(d, q);
	if (n < 0)
		virtio_broken(d);
}

static void rng_config_read(struct virtio_dev *d, unsigned off, uint8_t *data,
			    unsigned len)
{
	(void)d;
	(void)off;
	(void)data;
	(void)len;      /* no config space: the transport never calls this */
}

static const struct virtio_ops rng_vops = {
	.name = "virtio-rng",
	.device_id = 4,
	.class_code = 0x00ff00,
	.nqueues = 1,
	.queue_size = 256,
	.config_read = rng_config_read,
	.queue_notify = rng_notify,
};

static int rng_create(struct device_env *env, void **state, struct error *err)
{
	struct rng *r;

	*state = NULL;
	if (!env->cfg->rng)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(err, "out of memory");
	if (virtio_pci_create(env, &rng_vops, r, &r->vdev, err) < 0) {
		free(r);
		return -1;
	}
	*state = r;
	return 0;
}

static void rng_destroy(void *state)
{
	struct rng *r = state;

	if (!r)
		return;
	virtio_pci_destroy(r->vdev);
	free(r);
}

static const struct device_ops rng_ops = {
	.name = "virtio-rng", .create = rng_create, .destroy = rng_destroy,
};
DEVICE_REGISTER(rng_ops);

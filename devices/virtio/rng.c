/* virtio-rng: the guest's entropy requests filled from getrandom(2). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "virtio.h"

/* The most bytes one request gets (the spec lets the device write fewer
 * than the buffers hold): a chain of 256 descriptors all pointing at one
 * 4 MiB buffer would otherwise ask for 1 GiB. */
#define RNG_REQ_MAX     (64 * 1024)
/* Requests per notify; the rest waits for the loop's next turn. */
#define RNG_BUDGET      16

struct rng {
	struct virtio_dev *vdev;
	struct virtq_req req;
};

enum rng_status { RNG_IDLE, RNG_BUDGET_SPENT, RNG_BROKEN };

/* Answer up to `budget` requests from q, each with at most RNG_REQ_MAX
 * bytes, written in buffer order. *pushed counts the answered ones. */
static enum rng_status rng_pump(struct virtq *q, struct virtq_req *req,
				unsigned budget, unsigned *pushed)
{
	int n;

	*pushed = 0;
	while (*pushed < budget) {
		uint32_t done = 0;

		n = virtq_pop(q, req);
		if (n < 0)
			return RNG_BROKEN;
		if (n == 0)
			return RNG_IDLE;
		/* A request is only device-writable buffers. */
		for (unsigned i = 0; i < req->nin && done < RNG_REQ_MAX; i++) {
			size_t want = req->in[i].iov_len;
			ssize_t got;

			if (want > RNG_REQ_MAX - done)
				want = RNG_REQ_MAX - done;
			got = getrandom(req->in[i].iov_base, want, GRND_NONBLOCK);
			if (got <= 0)
				break;
			done += got;
			if ((size_t)got < want)
				break;
		}
		if (virtq_push(q, req->head, done) < 0)
			return RNG_BROKEN;
		(*pushed)++;
	}
	return RNG_BUDGET_SPENT;
}

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	struct rng *r = d->priv;
	unsigned pushed;
	enum rng_status s = rng_pump(&d->vq[q], &r->req, RNG_BUDGET, &pushed);

	if (pushed)
		virtio_used(d, q);
	if (s == RNG_BUDGET_SPENT)
		virtio_notify_later(d, q);
	else if (s == RNG_BROKEN)
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
	if (!env->spec->rng)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(err, "out of memory");
	if (virtio_pci_create_at(env, &rng_vops, r, env->spec->rng_slot, &r->vdev,
				 err) < 0) {
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

static void rng_quiesce(void *state)
{
	struct rng *r = state;

	/* Requests are answered inside queue_notify: once no notify runs,
	 * nothing is in flight. */
	if (r)
		virtio_pci_quiesce(r->vdev);
}

static void rng_resume(void *state)
{
	struct rng *r = state;
	struct error err;

	if (r && virtio_pci_resume(r->vdev, &err) < 0)
		fprintf(stderr, "vessel: virtio-rng: resume: %s\n", err.msg);
}

static int rng_save(void *state, struct vmstate_writer *w, struct error *err)
{
	struct rng *r = state;

	(void)err;
	if (!r)
		return 0;
	vmstate_begin(w, "virtio-rng", VIRTIO_STATE_VERSION);
	virtio_pci_save(r->vdev, w);
	vmstate_end(w);
	return 0;
}

static int rng_restore(void *state, const struct vmstate_reader *rd,
		       struct error *err)
{
	struct rng *r = state;
	struct vmstate_section s;

	if (!r)
		return 0;
	if (virtio_section_open(rd, "virtio-rng", &s, err) < 0 ||
	    virtio_pci_load(r->vdev, &s, err) < 0 ||
	    virtio_section_close(&s, err) < 0)
		return -1;
	return 0;
}

/* No reset hook: a guest reboot rebuilds the VM. */
static const struct device_ops rng_ops = {
	.name = "virtio-rng", .create = rng_create, .destroy = rng_destroy,
	.quiesce = rng_quiesce, .resume = rng_resume,
	.save = rng_save, .restore = rng_restore,
};
DEVICE_REGISTER(rng_ops);

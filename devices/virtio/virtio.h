/* A virtio device as the transport sees it (virtio 1.x, modern only).
 * Device files (blk, net, rng) describe themselves with virtio_ops; the PCI
 * transport (devices/virtio/pci.c) does the rest. */
#ifndef VESSEL_VIRTIO_H
#define VESSEL_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "queue.h"
#include "../device.h"

#define VIRTIO_MAX_QUEUES      16

/* Device status bits */
#define VIRTIO_STATUS_ACK         0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

/* Transport feature bits */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

struct virtio_dev;

struct virtio_ops {
	const char *name;
	uint16_t device_id;             /* 1 net, 2 blk, 4 rng */
	uint32_t class_code;            /* PCI class for the function */
	unsigned nqueues;
	uint16_t queue_size;            /* the largest the driver may choose */
	uint64_t features;              /* device-specific feature bits offered */
	/* Device config space; `len` bytes at `off` (the transport bounds it). */
	void (*config_read)(struct virtio_dev *d, unsigned off, uint8_t *data, unsigned len);
	void (*config_write)(struct virtio_dev *d, unsigned off, const uint8_t *data, unsigned len);
	unsigned config_size;
	/* The driver set DRIVER_OK. Lock held. */
	void (*activate)(struct virtio_dev *d);
	/* The guest kicked queue q. Runs on the event loop, lock held. */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* The driver reset the device. Lock held. */
	void (*reset)(struct virtio_dev *d);
	/* Optional: what virtio_call_fd() gives may have changed (MSI-X
	 * enabled or masked, an entry masked or unmasked, a queue's vector
	 * set). Lock held. */
	void (*calls_changed)(struct virtio_dev *d);
};

struct virtio_pci;

struct virtio_dev {
	const struct virtio_ops *ops;
	void *priv;
	struct device_env *env;
	pthread_mutex_t lock;
	uint64_t features;              /* negotiated */
	uint8_t status;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	struct virtio_pci *pci;
};

int virtio_pci_create(struct device_env *env, const struct virtio_ops *ops,
		      void *priv, struct virtio_dev **out, struct error *err);
/* The same in PCI slot `slot` (0: the next free one; see pci_add_at). */
int virtio_pci_create_at(struct device_env *env, const struct virtio_ops *ops,
			 void *priv, unsigned slot, struct virtio_dev **out,
			 struct error *err);
/* No more queue_notify from the event loop, an ioeventfd or a notify
 * write that exits: the ioeventfds come down, the notify fds leave the
 * loop (waiting for a callback that runs), kicks until resume go nowhere.
 * A device whose data plane it frees first (blk's engine) calls this
 * before. Idempotent; virtio_pci_destroy() does it too. Lock not held. */
void virtio_pci_quiesce(struct virtio_dev *d);
/* Undo virtio_pci_quiesce(): the notify fds back on the loop, the
 * ioeventfds where BAR0 is now, and one kick for every queue (a kick that
 * came while quiesced went nowhere). Lock not held. */
int virtio_pci_resume(struct virtio_dev *d, struct error *err);
void virtio_pci_destroy(struct virtio_dev *d);

/* Save and restore of the transport (virtio_pci_load quiesces first):
 * PCI config space with the BAR placement, MSI-X table and PBA, the common
 * configuration, every virtqueue. A device's section holds this followed
 * by what the device adds. Loading checks every value as guest input
 * (err_input), re-places BAR0, re-commits the MSI routes of the live
 * vectors and, for a driver that was running, calls ops->activate. The
 * device stays quiesced: virtio_pci_resume() follows. Lock not held. */
#define VIRTIO_STATE_VERSION 1
void virtio_pci_save(struct virtio_dev *d, struct vmstate_writer *w);
int virtio_pci_load(struct virtio_dev *d, struct vmstate_section *s,
		    struct error *err);
/* Find section id and check its version; after the device read it all,
 * refuse bytes left over. */
int virtio_section_open(const struct vmstate_reader *r, const char *id,
			struct vmstate_section *s, struct error *err);
int virtio_section_close(const struct vmstate_section *s, struct error *err);

/* Queue q's notify eventfd: the guest's kicks signal it (the ioeventfd
 * at the notify address; an exit's notify write calls queue_notify
 * instead). A data plane elsewhere (vhost) may wait on it directly; then
 * virtio_kick_direct(d, q, true) stops the loop's queue_notify for it
 * (the loop still reads it). Lock held for _direct. */
int virtio_kick_fd(struct virtio_dev *d, unsigned q);
void virtio_kick_direct(struct virtio_dev *d, unsigned q, bool on);
/* Queue q's interrupt as an eventfd another data plane (vhost) may signal
 * itself: its MSI-X vector's irqfd while signalling it delivers at once
 * (MSI-X enabled, neither the function nor the entry masked), else -1:
 * then the interrupt must go through virtio_interrupt(), which keeps it
 * pending while masked. ops->calls_changed says when to ask again. Lock
 * held. */
int virtio_call_fd(struct virtio_dev *d, unsigned q);

/* A queue_notify that stopped at its budget with requests left: call it
 * again on a later turn of the event loop, after the other ready fds, so
 * one busy queue cannot hold the shared loop. Lock held, any thread. */
void virtio_notify_later(struct virtio_dev *d, unsigned q);

/* After virtq_push()es on queue q: interrupt the guest if it wants one. */
void virtio_used(struct virtio_dev *d, unsigned q);
/* Queue q's interrupt, unconditionally: for a data path outside vessel
 * (vhost) that already decided the guest wants one. Honours MSI-X masking
 * (a masked vector goes pending) like virtio_used. Lock held. */
void virtio_interrupt(struct virtio_dev *d, unsigned q);
/* A malformed ring or request: NEEDS_RESET and a config interrupt. */
void virtio_broken(struct virtio_dev *d);
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return d->features & (1ULL << bit);
}

#endif

/* virtio-blk: one PCI function per configured disk, in the slot the config
 * gave it (file order unless `slot:`), so the guest sees /dev/vda, vdb, ...
 * in slot order. The data plane (devices/block/engine.c)
 * runs on the event loop and never waits for the disk; this file is the
 * device's face: features, config space, and the transport's callbacks. */
#include <endian.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio.h"
#include "../block/engine.h"

/* Feature bits (virtio 1.2, 5.2.3) */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define BLK_QUEUE_SIZE 256
#define BLK_SIZE_MAX   (1U << 20)       /* bytes in one segment */

/* Device configuration layout (virtio 1.2, 5.2.4), little-endian, packed.
 * Fields past write_zeroes_may_unmap belong to features we do not offer. */
struct virtio_blk_config {
	uint64_t capacity;                      /* 0: 512-byte sectors */
	uint32_t size_max;                      /* 8 */
	uint32_t seg_max;                       /* 12 */
	struct {
		uint16_t cylinders;             /* 16 */
		uint8_t heads;                  /* 18 */
		uint8_t sectors;                /* 19 */
	} __attribute__((packed)) geometry;
	uint32_t blk_size;                      /* 20 */
	struct {
		uint8_t physical_block_exp;     /* 24 */
		uint8_t alignment_offset;       /* 25 */
		uint16_t min_io_size;           /* 26 */
		uint32_t opt_io_size;           /* 28 */
	} __attribute__((packed)) topology;
	uint8_t writeback;                      /* 32 */
	uint8_t unused0;                        /* 33 */
	uint16_t num_queues;                    /* 34: VIRTIO_BLK_F_MQ */
	uint32_t max_discard_sectors;           /* 36 */
	uint32_t max_discard_seg;               /* 40 */
	uint32_t discard_sector_alignment;      /* 44 */
	uint32_t max_write_zeroes_sectors;      /* 48 */
	uint32_t max_write_zeroes_seg;          /* 52 */
	uint8_t write_zeroes_may_unmap;         /* 56 */
	uint8_t unused1[3];                     /* 57 */
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_blk_config) == 60, "virtio_blk_config size");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "blk_size");
_Static_assert(offsetof(struct virtio_blk_config, max_discard_sectors) == 36,
	       "max_discard_sectors");
_Static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56,
	       "write_zeroes_may_unmap");

struct blk_disk {
	struct virtio_dev *vdev;
	struct blk_engine *eng;
	struct virtio_blk_config config;
};

struct blk_set {
	size_t n;
	struct blk_disk disk[];
};

static struct blk_disk *to_disk(struct virtio_dev *d)
{
	return d->priv;
}

static void blk_config_read(struct virtio_dev *d, unsigned off, uint8_t *data,
			    unsigned len)
{
	/* The transport keeps off + len within config_size. */
	memcpy(data, (const uint8_t *)&to_disk(d)->config + off, len);
}

static void blk_config_write(struct virtio_dev *d, unsigned off,
			     const uint8_t *data, unsigned len)
{
	(void)d;
	(void)off;
	(void)data;
	(void)len;      /* writeback is not writable: no CONFIG_WCE offered */
}

static void blk_notify(struct virtio_dev *d, unsigned q)
{
	(void)q;        /* one queue */
	blk_engine_notify(to_disk(d)->eng);
}

static void blk_reset(struct virtio_dev *d)
{
	blk_engine_reset(to_disk(d)->eng);
}

#define BLK_FEATURES ((1ULL << VIRTIO_BLK_F_SIZE_MAX) |                 \
		      (1ULL << VIRTIO_BLK_F_SEG_MAX) |                  \
		      (1ULL << VIRTIO_BLK_F_BLK_SIZE) |                 \
		      (1ULL << VIRTIO_BLK_F_FLUSH))

static const struct virtio_ops blk_vops_rw = {
	.name = "virtio-blk",
	.device_id = 2,
	.class_code = 0x018000,         /* mass storage, other */
	.nqueues = 1,
	.queue_size = BLK_QUEUE_SIZE,
	.features = BLK_FEATURES | (1ULL << VIRTIO_BLK_F_DISCARD) |
		    (1ULL << VIRTIO_BLK_F_WRITE_ZEROES),
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.config_size = sizeof(struct virtio_blk_config),
	.queue_notify = blk_notify,
	.reset = blk_reset,
};

static const struct virtio_ops blk_vops_ro = {
	.name = "virtio-blk",
	.device_id = 2,
	.class_code = 0x018000,
	.nqueues = 1,
	.queue_size = BLK_QUEUE_SIZE,
	.features = BLK_FEATURES | (1ULL << VIRTIO_BLK_F_RO),
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.config_size = sizeof(struct virtio_blk_config),
	.queue_notify = blk_notify,
	.reset = blk_reset,
};

static void eng_used(void *opaque)
{
	virtio_used(opaque, 0);
}

static void eng_broken(void *opaque)
{
	virtio_broken(opaque);
}

static void eng_more(void *opaque)
{
	virtio_notify_later(opaque, 0);
}

static const struct blk_engine_ops blk_eng_ops = {
	.used = eng_used,
	.broken = eng_broken,
	.more = eng_more,
};

static void config_fill(struct virtio_blk_config *c, const struct blk_engine *e)
{
	unsigned bs = blk_backend_block_size(e->be);

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(e->lim.capacity);
	c->size_max = htole32(BLK_SIZE_MAX);
	c->seg_max = htole32(BLK_QUEUE_SIZE - 2);       /* header and status */
	c->blk_size = htole32(bs);
	c->max_discard_sectors = htole32(e->lim.max_discard_sectors);
	c->max_discard_seg = htole32(e->lim.max_discard_seg);
	c->discard_sector_alignment = htole32(4096 / BLK_SECTOR_SIZE);
	c->max_write_zeroes_sectors = htole32(e->lim.max_write_zeroes_sectors);
	c->max_write_zeroes_seg = htole32(e->lim.max_discard_seg);
	c->write_zeroes_may_unmap = 1;
}

static void disk_destroy(struct blk_disk *k)
{
	/* Kicks off the loop first, then the engine (whose completions still
	 * take the device's lock), then the device: a kick the loop holds
	 * must never reach a freed engine. */
	if (k->vdev)
		virtio_pci_quiesce(k->vdev);
	blk_engine_close(k->eng);
	k->eng = NULL;
	if (k->vdev)
		virtio_pci_destroy(k->vdev);
	k->vdev = NULL;
}

static int disk_create(struct device_env *env, struct blk_disk *k, unsigned i,
		       struct error *err)
{
	const struct disk_spec *disk = &env->spec->disks[i];
	struct blk_engine_opts o = {
		.disk = disk, .index = i, .name = env->spec->name,
		.unlocked = env->spec->incoming,
		.dirty = env->spec->disk_dirty ? &env->spec->disk_dirty[i] : NULL,
		.cbw = env->spec->disk_cbw ? &env->spec->disk_cbw[i] : NULL,
		.cbt_slot = env->spec->disk_cbt ? &env->spec->disk_cbt[i] : NULL,
	};

	if (blk_engine_open(&k->eng, &o, env->loop, err) < 0)
		return -1;
	config_fill(&k->config, k->eng);
	if (virtio_pci_create_at(env, disk->readonly ? &blk_vops_ro : &blk_vops_rw,
				 k, disk->slot, &k->vdev, err) < 0)
		return -1;
	blk_engine_attach(k->eng, &k->vdev->lock, &k->vdev->vq[0],
			  &blk_eng_ops, k->vdev);
	return 0;
}

static void blk_destroy(void *state)
{
	struct blk_set *s = state;

	if (!s)
		return;
	while (s->n > 0)
		disk_destroy(&s->disk[--s->n]);
	free(s);
}

static int blk_create(struct device_env *env, void **state, struct error *err)
{
	const struct devices_spec *cfg = env->spec;
	struct blk_set *s;

	*state = NULL;
	if (!cfg->ndisks)
		return 0;
	s = calloc(1, sizeof(*s) + cfg->ndisks * sizeof(s->disk[0]));
	if (!s)
		return err_set(err, "out of memory");
	for (size_t i = 0; i < cfg->ndisks; i++) {
		s->n = i + 1;
		if (disk_create(env, &s->disk[i], (unsigned)i, err) < 0) {
			err_prefix(err, "disk %zu (%s)", i, cfg->disks[i].path);
			blk_destroy(s);
			return -1;
		}
	}
	*state = s;
	return 0;
}

/* ---- lifecycle: quiesce, resume, save, restore ---- */

static void blk_quiesce(void *state)
{
	struct blk_set *s = state;

	/* Kicks first (no more pops), then the engine (what is in flight
	 * completes into the used ring, here). */
	for (size_t i = 0; s && i < s->n; i++) {
		virtio_pci_quiesce(s->disk[i].vdev);
		blk_engine_quiesce(s->disk[i].eng);
	}
}

static void blk_resume(void *state)
{
	struct blk_set *s = state;
	struct error err;

	for (size_t i = 0; s && i < s->n; i++)
		if (blk_engine_resume(s->disk[i].eng, &err) < 0 ||
		    virtio_pci_resume(s->disk[i].vdev, &err) < 0)
			fprintf(stderr, "vessel: disk %zu: resume: %s\n", i, err.msg);
}

static int blk_save(void *state, struct vmstate_writer *w, struct error *err)
{
	struct blk_set *s = state;
	char id[VMSTATE_ID_LEN];

	(void)err;
	for (size_t i = 0; s && i < s->n; i++) {
		struct blk_disk *k = &s->disk[i];

		snprintf(id, sizeof(id), "virtio-blk.%zu", i);
		vmstate_begin(w, id, VIRTIO_STATE_VERSION);
		virtio_pci_save(k->vdev, w);
		pthread_mutex_lock(&k->vdev->lock);
		vmstate_put_u64(w, k->eng->lim.capacity);
		vmstate_put_u8(w, k->eng->broken);
		pthread_mutex_unlock(&k->vdev->lock);
		vmstate_end(w);
	}
	return 0;
}

static int disk_restore(struct blk_disk *k, const struct vmstate_reader *r,
			const char *id, struct error *err)
{
	struct vmstate_section s;
	uint64_t capacity;
	uint8_t broken;

	if (virtio_section_open(r, id, &s, err) < 0 ||
	    virtio_pci_load(k->vdev, &s, err) < 0 ||
	    vmstate_get_u64(&s, &capacity, err) < 0 ||
	    vmstate_get_u8(&s, &broken, err) < 0 ||
	    virtio_section_close(&s, err) < 0)
		return -1;
	if (capacity != k->eng->lim.capacity)
		return err_input(err, "the image has %llu sectors, the saved "
				 "disk had %llu",
				 (unsigned long long)k->eng->lim.capacity,
				 (unsigned long long)capacity);
	if (broken > 1)
		return err_input(err, "%s: bad engine state", id);
	pthread_mutex_lock(&k->vdev->lock);
	k->eng->broken = broken;
	pthread_mutex_unlock(&k->vdev->lock);
	return 0;
}

static int blk_restore(void *state, const struct vmstate_reader *r,
		       struct error *err)
{
	struct blk_set *s = state;
	char id[VMSTATE_ID_LEN];

	blk_quiesce(state);
	for (size_t i = 0; s && i < s->n; i++) {
		snprintf(id, sizeof(id), "virtio-blk.%zu", i);
		if (disk_restore(&s->disk[i], r, id, err) < 0)
			return err_prefix(err, "disk %zu", i);
	}
	return 0;
}

static int blk_handover(void *state, bool release, struct error *err)
{
	struct blk_set *s = state;

	for (size_t i = 0; s && i < s->n; i++)
		if (blk_engine_handover(s->disk[i].eng, release, err) < 0)
			return err_prefix(err, "disk %zu", i);
	return 0;
}

/* No reset hook: a guest reboot rebuilds the VM, devices and all. */
static const struct device_ops blk_ops = {
	.name = "virtio-blk", .create = blk_create, .destroy = blk_destroy,
	.quiesce = blk_quiesce, .resume = blk_resume,
	.save = blk_save, .restore = blk_restore, .handover = blk_handover,
};
DEVICE_REGISTER(blk_ops);

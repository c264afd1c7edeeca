/* The virtio-pci transport, modern (1.x) only: vendor capabilities for the
 * common, notify, ISR and device config structures in BAR0, MSI-X with its
 * table and PBA in BAR0 too, and one ioeventfd per queue notify address. */
#include "virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "../pci.h"

#define VIRTIO_VENDOR          0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040

/* BAR0 layout */
#define BAR_SIZE        0x8000
#define COMMON_OFF      0x0000
#define COMMON_LEN      0x0038
#define ISR_OFF         0x1000
#define DEVCFG_OFF      0x2000
#define DEVCFG_LEN      0x1000
#define NOTIFY_OFF      0x3000
#define NOTIFY_MULT     4
#define MSIX_TABLE_OFF  0x4000
#define MSIX_PBA_OFF    0x6000
#define MSIX_MAX        (VIRTIO_MAX_QUEUES + 1)
#define NO_VECTOR       0xffff

/* virtio_pci_cap cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct virtio_pci {
	struct virtio_dev dev;
	struct pci_func func;
	unsigned msix_cap;              /* config offset of the MSI-X capability */
	unsigned nvec;
	struct msix_entry table[MSIX_MAX];
	uint64_t pba;
	struct msi_vec vec[MSIX_MAX];
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint16_t queue_size[VIRTIO_MAX_QUEUES];
	uint32_t dfselect, gfselect;
	uint16_t qselect;
	uint8_t isr;
	uint8_t generation;
	int notify_fd[VIRTIO_MAX_QUEUES];
	bool notify_watched[VIRTIO_MAX_QUEUES]; /* on the loop */
	bool kick_direct[VIRTIO_MAX_QUEUES];    /* notify_fd is another's kick */
	uint64_t notify_base;           /* where the ioeventfds sit, 0 if none */
	bool route_failed;              /* reported once */
	bool quiesced;                  /* no queue_notify until resume */
};

static struct virtio_pci *to_vp(struct virtio_dev *d)
{
	return (struct virtio_pci *)d;
}

/* ---- MSI-X ---- */

static bool msix_enabled(struct virtio_pci *vp, bool *fmask)
{
	uint16_t ctl = pci_cfg16(&vp->func, vp->msix_cap + 2);

	*fmask = ctl & 0x4000;
	return ctl & 0x8000;
}

/* Deliver vector v now, or remember it in the PBA. Caller holds dev lock. */
static void msix_signal(struct virtio_pci *vp, uint16_t v)
{
	bool fmask;

	if (v >= vp->nvec)
		return;         /* NO_VECTOR, or a vector the guest never got */
	if (!msix_enabled(vp, &fmask))
		return;         /* no INTx: a driver without MSI-X gets nothing */
	if (fmask || (vp->table[v].ctrl & 1)) {
		vp->pba |= 1ULL << v;
		return;
	}
	msi_vec_fire(&vp->vec[v]);
}

/* Entry v's message is whole (or it was unmasked, or MSI-X enable or the
 * function mask changed). KVM's route for it follows the table only while
 * the vector is live (enabled, unmasked): a guest reprograms an entry one
 * dword at a time, and a message half old and half new must never be where
 * an interrupt could take it. So the route changes on unmask, to the whole
 * new message, and what was held back in the PBA is delivered then. */
static void msix_update(struct virtio_pci *vp, unsigned v)
{
	struct msix_entry *e = &vp->table[v];
	bool fmask;

	if (!msix_enabled(vp, &fmask) || fmask || (e->ctrl & 1))
		return;
	if (msi_vec_route(vp->dev.env->msi, &vp->vec[v],
			  ((uint64_t)e->addr_hi << 32) | e->addr_lo, e->data) < 0 &&
	    !vp->route_failed) {
		/* Its interrupts go where the old message said: say so once. */
		vp->route_failed = true;
		fprintf(stderr, "vessel: %s: MSI-X vector %u: KVM_SET_GSI_ROUTING "
			"failed: %s\n", vp->dev.ops->name, v, strerror(errno));
	}
	if (vp->pba & (1ULL << v)) {
		vp->pba &= ~(1ULL << v);
		msi_vec_fire(&vp->vec[v]);
	}
}

/* What virtio_call_fd() gives may have changed. Dev lock held. */
static void calls_changed(struct virtio_pci *vp)
{
	if (vp->dev.ops->calls_changed)
		vp->dev.ops->calls_changed(&vp->dev);
}

int virtio_call_fd(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *vp = to_vp(d);
	uint16_t v;
	bool fmask;

	if (q >= d->ops->nqueues)
		return -1;
	v = vp->queue_vector[q];
	if (v >= vp->nvec || !msix_enabled(vp, &fmask) || fmask ||
	    (vp->table[v].ctrl & 1))
		return -1;
	return vp->vec[v].fd;
}

static void msix_table_io(struct virtio_pci *vp, uint64_t off, uint8_t *data,
			  unsigned len, bool is_write)
{
	unsigned v = off / 16, field = (off % 16) / 4;
	uint32_t *reg;

	if (v >= vp->nvec || len != 4 || off % 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	reg = &(&vp->table[v].addr_lo)[field];
	if (!is_write) {
		memcpy(data, reg, 4);
		return;
	}
	memcpy(reg, data, 4);
	if (field == 3)
		*reg &= 1;      /* only the mask bit is defined */
	/* An address alone is half a message: a guest that rewrites a live
	 * entry (the spec leaves that undefined; Linux masks first) writes
	 * address low, high, then data, and the route moves at the data. */
	if (field == 2 || field == 3)
		msix_update(vp, v);
	if (field == 3)
		calls_changed(vp);
}

/* ---- config interrupt / used buffers ---- */

void virtio_interrupt(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *vp = to_vp(d);

	if (q >= d->ops->nqueues)
		return;
	vp->isr |= 1;
	msix_signal(vp, vp->queue_vector[q]);
}

/* Used buffers: the interrupt, unless the driver suppressed it. */
void virtio_used(struct virtio_dev *d, unsigned q)
{
	if (q >= d->ops->nqueues || !virtq_should_notify(&d->vq[q]))
		return;
	virtio_interrupt(d, q);
}

void virtio_broken(struct virtio_dev *d)
{
	struct virtio_pci *vp = to_vp(d);

	if (d->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	vp->isr |= 2;
	msix_signal(vp, vp->config_vector);
}

/* ---- common configuration ---- */

static void virtio_reset(struct virtio_pci *vp)
{
	struct virtio_dev *d = &vp->dev;

	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		/* Off, and programmable again: the spec's reset values. */
		virtq_reset(&d->vq[q]);
		d->vq[q].ready = false;
		d->vq[q].desc_gpa = d->vq[q].avail_gpa = d->vq[q].used_gpa = 0;
		d->vq[q].mem = d->env->mem;
		vp->queue_vector[q] = NO_VECTOR;
		vp->queue_size[q] = d->ops->queue_size;
	}
	vp->config_vector = NO_VECTOR;
	d->features = 0;
	d->status = 0;
	vp->isr = 0;
	vp->dfselect = vp->gfselect = vp->qselect = 0;
}

static uint64_t device_features(const struct virtio_dev *d)
{
	return d->ops->features | (1ULL << VIRTIO_F_VERSION_1) |
	       (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_EVENT_IDX);
}

static void set_status(struct virtio_pci *vp, uint8_t s)
{
	struct virtio_dev *d = &vp->dev;

	if (s == 0) {
		virtio_reset(vp);
		return;
	}
	if ((s & VIRTIO_STATUS_FEATURES_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Accept only what we offered, and only the 1.x interface. */
		if ((d->features & ~device_features(d)) ||
		    !virtio_has(d, VIRTIO_F_VERSION_1))
			s &= ~VIRTIO_STATUS_FEATURES_OK;
		for (unsigned q = 0; q < d->ops->nqueues; q++)
			d->vq[q].event_idx = virtio_has(d, VIRTIO_F_EVENT_IDX);
	}
	if ((s & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_DRIVER_OK)) {
		d->status = s;
		if (d->ops->activate)
			d->ops->activate(d);
		return;
	}
	d->status = (s & ~VIRTIO_STATUS_NEEDS_RESET) |
		    (d->status & VIRTIO_STATUS_NEEDS_RESET);
}

static uint64_t common_read(struct virtio_pci *vp, unsigned off)
{
	struct virtio_dev *d = &vp->dev;
	unsigned q = vp->qselect;
	bool qok = q < d->ops->nqueues;
	struct virtq *vq = qok ? &d->vq[q] : NULL;

	switch (off) {
	case 0x00: return vp->dfselect;
	case 0x04: return vp->dfselect < 2 ? (uint32_t)(device_features(d) >> (32 * vp->dfselect)) : 0;
	case 0x08: return vp->gfselect;
	case 0x0c: return vp->gfselect < 2 ? (uint32_t)(d->features >> (32 * vp->gfselect)) : 0;
	case 0x10: return vp->config_vector;
	case 0x12: return d->ops->nqueues;
	case 0x14: return d->status;
	case 0x15: return vp->generation;
	case 0x16: return vp->qselect;
	case 0x18: return qok ? vp->queue_size[q] : 0;
	case 0x1a: return qok ? vp->queue_vector[q] : NO_VECTOR;
	case 0x1c: return qok ? vq->ready : 0;
	case 0x1e: return qok ? q : 0;
	case 0x20: return qok ? vq->desc_gpa : 0;
	case 0x24: return qok ? vq->desc_gpa >> 32 : 0;
	case 0x28: return qok ? vq->avail_gpa : 0;
	case 0x2c: return qok ? vq->avail_gpa >> 32 : 0;
	case 0x30: return qok ? vq->used_gpa : 0;
	case 0x34: return qok ? vq->used_gpa >> 32 : 0;
	default:   return 0;
	}
}

static void set_lo(uint64_t *v, uint32_t x) { *v = (*v & ~0xffffffffULL) | x; }
static void set_hi(uint64_t *v, uint32_t x) { *v = (*v & 0xffffffffULL) | ((uint64_t)x << 32); }

static void common_write(struct virtio_pci *vp, unsigned off, uint32_t val)
{
	struct virtio_dev *d = &vp->dev;
	unsigned q = vp->qselect;
	bool qok = q < d->ops->nqueues;
	/* Ring addresses and sizes are frozen once the queue is enabled. */
	bool qset = qok && !d->vq[q].ready;
	struct virtq *vq = qok ? &d->vq[q] : NULL;

	switch (off) {
	case 0x00: vp->dfselect = val; break;
	case 0x08: vp->gfselect = val; break;
	case 0x0c:
		if (vp->gfselect < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			if (vp->gfselect == 0)
				set_lo(&d->features, val);
			else
				set_hi(&d->features, val);
		}
		break;
	case 0x10: vp->config_vector = val < vp->nvec ? val : NO_VECTOR; break;
	case 0x14: set_status(vp, val); break;
	case 0x16: vp->qselect = val; break;
	case 0x18:
		/* A power of two no larger than offered; anything else is ignored. */
		if (qset && val && val <= d->ops->queue_size && !(val & (val - 1)))
			vp->queue_size[q] = val;
		break;
	case 0x1a:
		if (qok) {
			vp->queue_vector[q] = val < vp->nvec ? val : NO_VECTOR;
			calls_changed(vp);
		}
		break;
	case 0x1c:
		if (qset && val == 1) {
			vq->size = vp->queue_size[q];
			vq->mem = d->env->mem;
			vq->event_idx = virtio_has(d, VIRTIO_F_EVENT_IDX);
			if (virtq_activate(vq) == 0)
				vq->ready = true;
			else
				virtio_broken(d);
		}
		break;
	case 0x20: if (qset) set_lo(&vq->desc_gpa, val); break;
	case 0x24: if (qset) set_hi(&vq->desc_gpa, val); break;
	case 0x28: if (qset) set_lo(&vq->avail_gpa, val); break;
	case 0x2c: if (qset) set_hi(&vq->avail_gpa, val); break;
	case 0x30: if (qset) set_lo(&vq->used_gpa, val); break;
	case 0x34: if (qset) set_hi(&vq->used_gpa, val); break;
	default: break;
	}
}

/* Fields are 8, 16 or 32 bits wide; 64-bit ones are two 32-bit halves. */
static unsigned common_width(unsigned off)
{
	if (off == 0x14 || off == 0x15)
		return 1;
	if (off >= 0x10 && off < 0x20)
		return 2;
	return 4;
}

static void common_io(struct virtio_pci *vp, unsigned off, uint8_t *data,
		      unsigned len, bool is_write)
{
	uint64_t v = 0;

	if (off >= COMMON_LEN || len != common_width(off & ~(len - 1)) ||
	    off % len) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, len);
		common_write(vp, off, (uint32_t)v);
	} else {
		v = common_read(vp, off);
		memcpy(data, &v, len);
	}
}

/* ---- BAR0 ---- */

static void bar_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		   bool is_write)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *d = &vp->dev;
	unsigned q;

	pthread_mutex_lock(&d->lock);
	if (off < COMMON_OFF + 0x1000) {
		common_io(vp, off - COMMON_OFF, data, len, is_write);
	} else if (off >= ISR_OFF && off < ISR_OFF + 4) {
		if (!is_write) {
			memset(data, 0, len);
			data[0] = vp->isr;      /* reading clears it */
			vp->isr = 0;
		}
	} else if (off >= DEVCFG_OFF && off < DEVCFG_OFF + DEVCFG_LEN) {
		unsigned o = off - DEVCFG_OFF;

		if (o >= d->ops->config_size || len > d->ops->config_size - o) {
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			if (d->ops->config_write)
				d->ops->config_write(d, o, data, len);
		} else {
			d->ops->config_read(d, o, data, len);
		}
	} else if (off >= NOTIFY_OFF && off < NOTIFY_OFF + 0x1000) {
		/* Reached only when the ioeventfd is not in place. */
		q = (off - NOTIFY_OFF) / NOTIFY_MULT;
		if (is_write && q < d->ops->nqueues && d->vq[q].ready &&
		    (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->vq[q].broken &&
		    !vp->quiesced)      /* resume runs every queue once */
			d->ops->queue_notify(d, q);
		else if (!is_write)
			memset(data, 0, len);
	} else if (off >= MSIX_TABLE_OFF && off < MSIX_PBA_OFF) {
		msix_table_io(vp, off - MSIX_TABLE_OFF, data, len, is_write);
	} else if (off >= MSIX_PBA_OFF && off < MSIX_PBA_OFF + 8) {
		unsigned o = off - MSIX_PBA_OFF;

		if (!is_write)
			for (unsigned i = 0; i < len; i++)
				data[i] = o + i < 8 ? vp->pba >> (8 * (o + i)) : 0;
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- notifications ---- */

static void notify_ready(struct loop *loop, int fd, uint32_t events, void *opaque)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *d = &vp->dev;
	uint64_t cnt;

	(void)loop;
	(void)events;
	if (read(fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return;
	pthread_mutex_lock(&d->lock);
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		if (vp->notify_fd[q] != fd || vp->kick_direct[q])
			continue;	/* (its other reader was woken too) */
		if (d->vq[q].ready && !d->vq[q].broken && !vp->quiesced &&
		    (d->status & VIRTIO_STATUS_DRIVER_OK))
			d->ops->queue_notify(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

/* Put the notify ioeventfds at BAR0 address addr (0: nowhere). Host lock
 * held. */
static void notify_arm(struct virtio_pci *vp, uint64_t addr)
{
	struct device_env *env = vp->dev.env;
	struct error err;

	if (addr == vp->notify_base)
		return;
	for (unsigned q = 0; q < vp->dev.ops->nqueues; q++) {
		if (vp->notify_base)
			env->ioeventfd(env, vp->notify_base + NOTIFY_OFF + q * NOTIFY_MULT,
				       2, vp->notify_fd[q], false, &err);
		if (addr)
			env->ioeventfd(env, addr + NOTIFY_OFF + q * NOTIFY_MULT, 2,
				       vp->notify_fd[q], true, &err);
	}
	vp->notify_base = addr;
}

/* Host lock held. While quiesced the ioeventfds stay down; resume puts
 * them where BAR0 is then. */
static void bar_moved(struct pci_func *f, unsigned bar, uint64_t addr)
{
	struct virtio_pci *vp = f->opaque;

	if (bar == 0)
		notify_arm(vp, vp->quiesced ? 0 : addr);
}

static void msix_cfg_written(struct pci_func *f, unsigned off, unsigned len)
{
	struct virtio_pci *vp = f->opaque;

	/* MSI-X enable or function mask changed: deliver what is pending. */
	if (off <= vp->msix_cap + 3 && off + len > vp->msix_cap + 2) {
		pthread_mutex_lock(&vp->dev.lock);
		for (unsigned v = 0; v < vp->nvec; v++)
			msix_update(vp, v);
		calls_changed(vp);
		pthread_mutex_unlock(&vp->dev.lock);
	}
}

/* ---- creation ---- */

static void add_vendor_cap(struct pci_func *f, uint8_t type, uint32_t off,
			   uint32_t len, bool notify)
{
	uint8_t cap[20] = { 0x09, 0, notify ? 20 : 16, type, 0 /* BAR0 */ };

	memcpy(&cap[8], &off, 4);
	memcpy(&cap[12], &len, 4);
	if (notify) {
		uint32_t mult = NOTIFY_MULT;

		memcpy(&cap[16], &mult, 4);
	}
	pci_add_cap(f, cap, cap[2]);
}

int virtio_pci_create(struct device_env *env, const struct virtio_ops *ops,
		      void *priv, struct virtio_dev **out, struct error *err)
{
	return virtio_pci_create_at(env, ops, priv, 0, out, err);
}

int virtio_pci_create_at(struct device_env *env, const struct virtio_ops *ops,
			 void *priv, unsigned slot, struct virtio_dev **out,
			 struct error *err)
{
	struct virtio_pci *vp;
	struct pci_func *f;
	uint8_t msix[12] = { 0x11 };
	uint32_t v;

	if (ops->nqueues > VIRTIO_MAX_QUEUES || ops->config_size > DEVCFG_LEN)
		return err_set(err, "%s: too many queues or too much config", ops->name);
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return err_set(err, "out of memory");
	pthread_mutex_init(&vp->dev.lock, NULL);
	vp->dev.ops = ops;
	vp->dev.priv = priv;
	vp->dev.env = env;
	vp->dev.pci = vp;
	vp->nvec = ops->nqueues + 1;
	for (unsigned i = 0; i < MSIX_MAX; i++) {
		vp->vec[i].fd = -1;
		vp->table[i].ctrl = 1;          /* masked at reset */
	}
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->notify_fd[q] = -1;
	virtio_reset(vp);

	f = &vp->func;
	pci_func_init(f, ops->name, VIRTIO_VENDOR, VIRTIO_PCI_DEVICE_BASE + ops->device_id,
		      ops->class_code, 1);
	f->cfg[PCI_SUBSYS_VENDOR] = VIRTIO_VENDOR & 0xff;
	f->cfg[PCI_SUBSYS_VENDOR + 1] = VIRTIO_VENDOR >> 8;
	f->cfg[PCI_SUBSYS_ID] = 0x40;
	f->opaque = vp;
	f->bar[0] = (struct pci_bar){ .size = BAR_SIZE, .fn = bar_io, .opaque = vp };
	f->bar_moved = bar_moved;
	f->cfg_written = msix_cfg_written;
	add_vendor_cap(f, CAP_COMMON, COMMON_OFF, COMMON_LEN, false);
	add_vendor_cap(f, CAP_NOTIFY, NOTIFY_OFF, ops->nqueues * NOTIFY_MULT, true);
	add_vendor_cap(f, CAP_ISR, ISR_OFF, 4, false);
	if (ops->config_size)
		add_vendor_cap(f, CAP_DEVICE, DEVCFG_OFF, ops->config_size, false);
	msix[2] = vp->nvec - 1;                 /* table size - 1, low byte */
	v = MSIX_TABLE_OFF;                     /* BIR 0 */
	memcpy(&msix[4], &v, 4);
	v = MSIX_PBA_OFF;
	memcpy(&msix[8], &v, 4);
	vp->msix_cap = pci_add_cap(f, msix, sizeof(msix));
	f->wmask[vp->msix_cap + 3] = 0xc0;      /* enable, function mask */

	for (unsigned i = 0; i < vp->nvec; i++)
		if (msi_vec_create(env->msi, &vp->vec[i], err) < 0)
			goto fail;
	for (unsigned q = 0; q < ops->nqueues; q++) {
		vp->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->notify_fd[q] < 0) {
			err_sys(err, "eventfd");
			goto fail;
		}
		if (loop_add(env->loop, vp->notify_fd[q], EPOLLIN, notify_ready, vp, err) < 0)
			goto fail;
		vp->notify_watched[q] = true;
	}
	if (pci_add_at(env->pci, f, slot, err) < 0)
		goto fail;
	*out = &vp->dev;
	return 0;
fail:
	virtio_pci_destroy(&vp->dev);
	return err_prefix(err, "%s", ops->name);
}

void virtio_pci_quiesce(struct virtio_dev *d)
{
	struct virtio_pci *vp = to_vp(d);
	struct pci_host *h = d->env->pci;

	/* Locks: host, then device (as config writes take them). */
	pthread_mutex_lock(&h->lock);
	pthread_mutex_lock(&d->lock);
	vp->quiesced = true;
	pthread_mutex_unlock(&d->lock);
	notify_arm(vp, 0);                      /* take the ioeventfds down */
	pthread_mutex_unlock(&h->lock);
	/* Not under d->lock: loop_del() waits for a running notify_ready,
	 * which takes it. Afterwards no queue_notify runs. */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (!vp->notify_watched[q])
			continue;
		loop_del(d->env->loop, vp->notify_fd[q]);
		vp->notify_watched[q] = false;
	}
}

int virtio_pci_resume(struct virtio_dev *d, struct error *err)
{
	struct virtio_pci *vp = to_vp(d);
	struct pci_host *h = d->env->pci;
	uint64_t one = 1;

	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		if (vp->notify_watched[q])
			continue;
		if (loop_add(d->env->loop, vp->notify_fd[q], EPOLLIN, notify_ready,
			     vp, err) < 0)
			return err_prefix(err, "%s", d->ops->name);
		vp->notify_watched[q] = true;
	}
	pthread_mutex_lock(&h->lock);
	pthread_mutex_lock(&d->lock);
	vp->quiesced = false;
	pthread_mutex_unlock(&d->lock);
	notify_arm(vp, vp->func.bar[0].mapped_at);
	pthread_mutex_unlock(&h->lock);
	/* A kick that came while quiesced went nowhere: every queue gets
	 * one on the loop (notify_ready skips those not ready). */
	for (unsigned q = 0; q < d->ops->nqueues; q++)
		(void)!write(vp->notify_fd[q], &one, sizeof(one));
	return 0;
}

int virtio_kick_fd(struct virtio_dev *d, unsigned q)
{
	return q < d->ops->nqueues ? to_vp(d)->notify_fd[q] : -1;
}

void virtio_kick_direct(struct virtio_dev *d, unsigned q, bool on)
{
	if (q < d->ops->nqueues)
		to_vp(d)->kick_direct[q] = on;
}

void virtio_notify_later(struct virtio_dev *d, unsigned q)
{
	struct virtio_pci *vp = to_vp(d);
	uint64_t one = 1;

	/* The loop sees the fd readable again: notify_ready on its next
	 * turn. EAGAIN (a counter near overflow) means it is readable. */
	if (q < d->ops->nqueues && vp->notify_watched[q])
		(void)!write(vp->notify_fd[q], &one, sizeof(one));
}

void virtio_pci_destroy(struct virtio_dev *d)
{
	struct virtio_pci *vp = to_vp(d);
	struct device_env *env = d->env;

	virtio_pci_quiesce(d);
	pci_del(env->pci, &vp->func);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (vp->notify_fd[q] >= 0)
			close(vp->notify_fd[q]);
	for (unsigned i = 0; i < MSIX_MAX; i++)
		msi_vec_destroy(env->msi, &vp->vec[i]);
	pthread_mutex_destroy(&d->lock);
	free(vp);
}

/* ---- save and restore ---- */

/* The transport's guest-visible state, as saved: a plain copy, checked
 * whole before any of it goes into the device. */
struct vp_saved {
	struct msix_entry table[MSIX_MAX];
	uint64_t pba;
	uint16_t config_vector;
	uint32_t dfselect, gfselect;
	uint16_t qselect;
	uint8_t isr, generation, status;
	uint64_t features;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint16_t queue_size[VIRTIO_MAX_QUEUES];
	struct virtq vq[VIRTIO_MAX_QUEUES];
};

static void vq_save(const struct virtq *q, struct vmstate_writer *w)
{
	vmstate_put_u16(w, q->size);
	vmstate_put_u64(w, q->desc_gpa);
	vmstate_put_u64(w, q->avail_gpa);
	vmstate_put_u64(w, q->used_gpa);
	vmstate_put_u8(w, q->ready);
	vmstate_put_u8(w, q->event_idx);
	vmstate_put_u16(w, q->last_avail);
	vmstate_put_u16(w, q->used_idx);
	vmstate_put_u16(w, q->signalled_used);
	vmstate_put_u8(w, q->signalled_valid);
	vmstate_put_u8(w, q->broken);
}

void virtio_pci_save(struct virtio_dev *d, struct vmstate_writer *w)
{
	struct virtio_pci *vp = to_vp(d);

	pci_func_save(d->env->pci, &vp->func, w);
	pthread_mutex_lock(&d->lock);
	vmstate_put_u8(w, d->ops->nqueues);
	vmstate_put_u8(w, vp->nvec);
	for (unsigned v = 0; v < vp->nvec; v++) {
		vmstate_put_u32(w, vp->table[v].addr_lo);
		vmstate_put_u32(w, vp->table[v].addr_hi);
		vmstate_put_u32(w, vp->table[v].data);
		vmstate_put_u32(w, vp->table[v].ctrl);
	}
	vmstate_put_u64(w, vp->pba);
	vmstate_put_u16(w, vp->config_vector);
	vmstate_put_u32(w, vp->dfselect);
	vmstate_put_u32(w, vp->gfselect);
	vmstate_put_u16(w, vp->qselect);
	vmstate_put_u8(w, vp->isr);
	vmstate_put_u8(w, vp->generation);
	vmstate_put_u8(w, d->status);
	vmstate_put_u64(w, device_features(d));
	vmstate_put_u64(w, d->features);
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		vmstate_put_u16(w, vp->queue_vector[q]);
		vmstate_put_u16(w, vp->queue_size[q]);
		vq_save(&d->vq[q], w);
	}
	pthread_mutex_unlock(&d->lock);
}

static bool is_bool(uint8_t v)
{
	return v <= 1;
}

static bool pow2_upto(unsigned v, unsigned max)
{
	return v && v <= max && !(v & (v - 1));
}

static int vq_load(struct virtio_dev *d, unsigned qi, struct virtq *q,
		   uint16_t queue_size, struct vmstate_section *s,
		   struct error *err)
{
	uint8_t ready, event_idx, sv, broken;
	const char *name = d->ops->name;

	memset(q, 0, sizeof(*q));
	if (vmstate_get_u16(s, &q->size, err) < 0 ||
	    vmstate_get_u64(s, &q->desc_gpa, err) < 0 ||
	    vmstate_get_u64(s, &q->avail_gpa, err) < 0 ||
	    vmstate_get_u64(s, &q->used_gpa, err) < 0 ||
	    vmstate_get_u8(s, &ready, err) < 0 ||
	    vmstate_get_u8(s, &event_idx, err) < 0 ||
	    vmstate_get_u16(s, &q->last_avail, err) < 0 ||
	    vmstate_get_u16(s, &q->used_idx, err) < 0 ||
	    vmstate_get_u16(s, &q->signalled_used, err) < 0 ||
	    vmstate_get_u8(s, &sv, err) < 0 ||
	    vmstate_get_u8(s, &broken, err) < 0)
		return -1;
	if (!is_bool(ready) || !is_bool(event_idx) || !is_bool(sv) || !is_bool(broken))
		return err_input(err, "%s: queue %u: a flag is neither 0 nor 1", name, qi);
	if (q->size && !pow2_upto(q->size, d->ops->queue_size))
		return err_input(err, "%s: queue %u: size %u is not a power of two "
				 "up to %u", name, qi, q->size, d->ops->queue_size);
	q->mem = d->env->mem;
	q->event_idx = event_idx;
	if (ready) {
		struct virtq probe = *q;

		if (q->size != queue_size)
			return err_input(err, "%s: queue %u: enabled with size %u, "
					 "programmed %u", name, qi, q->size, queue_size);
		if (virtq_activate(&probe) < 0)
			return err_input(err, "%s: queue %u: rings outside guest RAM "
					 "or misaligned", name, qi);
		if ((uint16_t)(q->last_avail - q->used_idx) > q->size)
			return err_input(err, "%s: queue %u: %u requests in flight, "
					 "more than the queue holds", name, qi,
					 (uint16_t)(q->last_avail - q->used_idx));
	}
	q->ready = ready;
	q->signalled_valid = sv;
	q->broken = broken;
	return 0;
}

static int vector_ok(const struct virtio_pci *vp, uint16_t v)
{
	return v < vp->nvec || v == NO_VECTOR;
}

/* Route every live vector as its entry says (KVM's routes are new). */
static int msix_recommit(struct virtio_pci *vp, struct error *err)
{
	bool fmask;

	if (!msix_enabled(vp, &fmask) || fmask)
		return 0;
	for (unsigned v = 0; v < vp->nvec; v++) {
		struct msix_entry *e = &vp->table[v];

		if (e->ctrl & 1)
			continue;
		if (msi_vec_route(vp->dev.env->msi, &vp->vec[v],
				  ((uint64_t)e->addr_hi << 32) | e->addr_lo,
				  e->data) < 0)
			return err_sys(err, "%s: MSI-X vector %u: KVM_SET_GSI_ROUTING",
				       vp->dev.ops->name, v);
	}
	return 0;
}

int virtio_pci_load(struct virtio_dev *d, struct vmstate_section *s,
		    struct error *err)
{
	struct virtio_pci *vp = to_vp(d);
	const char *name = d->ops->name;
	struct vp_saved *x;
	uint8_t nq, nvec;
	uint64_t offered;
	int r = -1;

	virtio_pci_quiesce(d);
	if (pci_func_load(d->env->pci, &vp->func, s, err) < 0)
		return -1;
	x = calloc(1, sizeof(*x));
	if (!x)
		return err_set(err, "out of memory");
	if (vmstate_get_u8(s, &nq, err) < 0 || vmstate_get_u8(s, &nvec, err) < 0)
		goto out;
	if (nq != d->ops->nqueues || nvec != vp->nvec) {
		err_input(err, "%s: %u queues and %u vectors, this device has %u "
			  "and %u", name, nq, nvec, d->ops->nqueues, vp->nvec);
		goto out;
	}
	for (unsigned v = 0; v < vp->nvec; v++) {
		struct msix_entry *e = &x->table[v];

		if (vmstate_get_u32(s, &e->addr_lo, err) < 0 ||
		    vmstate_get_u32(s, &e->addr_hi, err) < 0 ||
		    vmstate_get_u32(s, &e->data, err) < 0 ||
		    vmstate_get_u32(s, &e->ctrl, err) < 0)
			goto out;
		if (e->ctrl & ~1u) {
			err_input(err, "%s: MSI-X vector %u: control 0x%x", name, v,
				  e->ctrl);
			goto out;
		}
	}
	for (unsigned v = vp->nvec; v < MSIX_MAX; v++)
		x->table[v].ctrl = 1;
	if (vmstate_get_u64(s, &x->pba, err) < 0 ||
	    vmstate_get_u16(s, &x->config_vector, err) < 0 ||
	    vmstate_get_u32(s, &x->dfselect, err) < 0 ||
	    vmstate_get_u32(s, &x->gfselect, err) < 0 ||
	    vmstate_get_u16(s, &x->qselect, err) < 0 ||
	    vmstate_get_u8(s, &x->isr, err) < 0 ||
	    vmstate_get_u8(s, &x->generation, err) < 0 ||
	    vmstate_get_u8(s, &x->status, err) < 0 ||
	    vmstate_get_u64(s, &offered, err) < 0 ||
	    vmstate_get_u64(s, &x->features, err) < 0)
		goto out;
	if (x->pba >> vp->nvec) {
		err_input(err, "%s: MSI-X PBA 0x%llx past vector %u", name,
			  (unsigned long long)x->pba, vp->nvec - 1);
		goto out;
	}
	if (!vector_ok(vp, x->config_vector)) {
		err_input(err, "%s: config vector %u", name, x->config_vector);
		goto out;
	}
	if (x->isr & ~3u) {
		err_input(err, "%s: ISR 0x%x", name, x->isr);
		goto out;
	}
	if (x->status & ~(VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |
			  VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)) {
		err_input(err, "%s: status 0x%x", name, x->status);
		goto out;
	}
	/* The host's device may offer other features than the one saved
	 * (a tap's offloads): what the driver took must still be there. */
	if (x->features & ~device_features(d)) {
		err_input(err, "%s: the guest uses features 0x%llx this device "
			  "does not offer here (0x%llx)", name,
			  (unsigned long long)x->features,
			  (unsigned long long)device_features(d));
		goto out;
	}
	if ((x->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !(x->features & (1ULL << VIRTIO_F_VERSION_1))) {
		err_input(err, "%s: FEATURES_OK without VERSION_1", name);
		goto out;
	}
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		if (vmstate_get_u16(s, &x->queue_vector[q], err) < 0 ||
		    vmstate_get_u16(s, &x->queue_size[q], err) < 0)
			goto out;
		if (!vector_ok(vp, x->queue_vector[q]) ||
		    !pow2_upto(x->queue_size[q], d->ops->queue_size)) {
			err_input(err, "%s: queue %u: vector %u, size %u", name, q,
				  x->queue_vector[q], x->queue_size[q]);
			goto out;
		}
		if (vq_load(d, q, &x->vq[q], x->queue_size[q], s, err) < 0)
			goto out;
	}

	pthread_mutex_lock(&d->lock);
	memcpy(vp->table, x->table, sizeof(vp->table));
	vp->pba = x->pba;
	vp->config_vector = x->config_vector;
	vp->dfselect = x->dfselect;
	vp->gfselect = x->gfselect;
	vp->qselect = x->qselect;
	vp->isr = x->isr;
	vp->generation = x->generation;
	d->status = x->status;
	d->features = x->features;
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		vp->queue_vector[q] = x->queue_vector[q];
		vp->queue_size[q] = x->queue_size[q];
		d->vq[q] = x->vq[q];
	}
	r = msix_recommit(vp, err);
	/* The device's own side follows the driver's: what DRIVER_OK set
	 * up (net: offloads, receiving), set up again. */
	if (r == 0 && (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(d->status & VIRTIO_STATUS_NEEDS_RESET) && d->ops->activate)
		d->ops->activate(d);
	pthread_mutex_unlock(&d->lock);
out:
	free(x);
	return r;
}

int virtio_section_open(const struct vmstate_reader *r, const char *id,
			struct vmstate_section *s, struct error *err)
{
	if (vmstate_find(r, id, s, err) < 0 ||
	    vmstate_check_version(s, VIRTIO_STATE_VERSION, err) < 0)
		return -1;
	return 0;
}

int virtio_section_close(const struct vmstate_section *s, struct error *err)
{
	if (s->pos != s->len)
		return err_input(err, "%.*s: %zu bytes too many", VMSTATE_ID_LEN,
				 s->id, s->len - s->pos);
	return 0;
}

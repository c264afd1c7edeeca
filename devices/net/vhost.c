/* vhost-net programming (see vhost.h). The kernel reads descriptor buffer
 * addresses through the memory table, which covers exactly guest RAM; the
 * ring addresses, though, are host addresses vessel gives it, so they are
 * checked here against guest RAM before the kernel sees them. */
#include "vhost.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "vnet.h"
#include "../virtio/virtio.h"

#define BIT(n)  (1ULL << (n))

/* The bits that change how the rings or the header look. */
#define RING_FEATURES (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_EVENT_IDX) | \
		       BIT(VIRTIO_F_INDIRECT_DESC) | BIT(VIRTIO_NET_F_MRG_RXBUF))

int net_vhost_init(struct net_vhost *v, struct error *err)
{
	memset(v, 0, sizeof(*v));
	v->fd = -1;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		v->kick[q] = v->call[q] = v->kick_at[q] = v->call_at[q] = -1;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++) {
		v->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		v->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->kick[q] < 0 || v->call[q] < 0) {
			err_sys(err, "eventfd");
			net_vhost_free(v);
			return -1;
		}
	}
	return 0;
}

int net_vhost_open(struct net_vhost *v, struct error *err)
{
	if (v->fd >= 0)
		return 0;
	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0)
		return err_sys(err, "cannot open /dev/vhost-net");
	if (ioctl(v->fd, VHOST_SET_OWNER) < 0) {
		err_sys(err, "/dev/vhost-net: VHOST_SET_OWNER");
		goto fail;
	}
	if (ioctl(v->fd, VHOST_GET_FEATURES, &v->offered) < 0) {
		err_sys(err, "/dev/vhost-net: VHOST_GET_FEATURES");
		goto fail;
	}
	return 0;
fail:
	close(v->fd);
	v->fd = -1;
	return -1;
}

static void set_backends(struct net_vhost *v, int fd, unsigned n)
{
	for (unsigned q = 0; q < n; q++) {
		struct vhost_vring_file f = { .index = q, .fd = fd };

		(void)ioctl(v->fd, VHOST_NET_SET_BACKEND, &f);
	}
}

void net_vhost_close(struct net_vhost *v)
{
	if (v->fd < 0)
		return;
	if (v->started)
		set_backends(v, -1, NET_VHOST_QUEUES);
	v->started = false;
	close(v->fd);
	v->fd = -1;
}

void net_vhost_free(struct net_vhost *v)
{
	net_vhost_close(v);
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++) {
		if (v->kick[q] >= 0)
			close(v->kick[q]);
		if (v->call[q] >= 0)
			close(v->call[q]);
		v->kick[q] = v->call[q] = -1;
	}
}

int net_vhost_features(uint64_t offered, uint64_t negotiated, uint64_t *out,
		       struct error *err)
{
	uint64_t want = negotiated & RING_FEATURES;

	if (!(want & BIT(VIRTIO_F_VERSION_1)))
		return err_set(err, "the driver did not take VIRTIO_F_VERSION_1");
	if (want & ~offered)
		return err_set(err, "vhost-net lacks features 0x%llx",
			       (unsigned long long)(want & ~offered));
	*out = want;
	return 0;
}

static int ring_hva(const struct gmem *m, uint64_t gpa, uint64_t len,
		    uint64_t align, const char *what, unsigned index,
		    uint64_t *hva, struct error *err)
{
	void *p = gpa % align ? NULL : gmem_ptr(m, gpa, len);

	if (!p)
		return err_set(err, "queue %u: %s ring at 0x%llx (%llu bytes) is "
			       "not in guest RAM or misaligned", index, what,
			       (unsigned long long)gpa, (unsigned long long)len);
	*hva = (uint64_t)(uintptr_t)p;
	return 0;
}

int net_vhost_ring_addr(const struct gmem *m, const struct virtq *q,
			unsigned index, struct vhost_vring_addr *a,
			struct error *err)
{
	uint64_t n = q->size, desc = 0, avail = 0, used = 0;

	memset(a, 0, sizeof(*a));
	a->index = index;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return err_set(err, "queue %u: size %llu", index,
			       (unsigned long long)n);
	/* Split ring: desc 16 * n, avail 4 + 2 * n + used_event,
	 * used 4 + 8 * n + avail_event (virtio 1.x, 2.7). */
	if (ring_hva(m, q->desc_gpa, 16 * n, 16, "descriptor", index, &desc,
		     err) < 0 ||
	    ring_hva(m, q->avail_gpa, 6 + 2 * n, 2, "available", index, &avail,
		     err) < 0 ||
	    ring_hva(m, q->used_gpa, 6 + 8 * n, 4, "used", index, &used,
		     err) < 0)
		return -1;
	a->desc_user_addr = desc;
	a->avail_user_addr = avail;
	a->used_user_addr = used;
	return 0;
}

static int set_mem_table(struct net_vhost *v, const struct gmem *m,
			 struct error *err)
{
	union {
		struct vhost_memory mem;
		uint8_t raw[sizeof(struct vhost_memory) +
			    GMEM_MAX_REGIONS * sizeof(struct vhost_memory_region)];
	} t;

	memset(&t, 0, sizeof(t));
	if (m->nregions > GMEM_MAX_REGIONS)
		return err_set(err, "%u RAM regions", m->nregions);
	t.mem.nregions = m->nregions;
	for (unsigned i = 0; i < m->nregions; i++) {
		t.mem.regions[i].guest_phys_addr = m->region[i].gpa;
		t.mem.regions[i].memory_size = m->region[i].size;
		t.mem.regions[i].userspace_addr = (uintptr_t)m->region[i].hva;
	}
	if (ioctl(v->fd, VHOST_SET_MEM_TABLE, &t.mem) < 0)
		return err_sys(err, "VHOST_SET_MEM_TABLE");
	return 0;
}

static int vring_ioctl(struct net_vhost *v, unsigned long req, void *arg,
		       const char *name, unsigned q, struct error *err)
{
	if (ioctl(v->fd, req, arg) < 0)
		return err_sys(err, "queue %u: %s", q, name);
	return 0;
}

static int setup_queue(struct net_vhost *v, const struct virtq *vq, unsigned q,
		       const struct vhost_vring_addr *a, struct error *err)
{
	struct vhost_vring_state num = { .index = q, .num = vq->size };
	struct vhost_vring_state base = { .index = q, .num = vq->last_avail };
	struct vhost_vring_file kick = { .index = q, .fd = v->kick_at[q] };
	struct vhost_vring_file call = { .index = q, .fd = v->call_at[q] };

	if (vring_ioctl(v, VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM", q, err) < 0 ||
	    vring_ioctl(v, VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE", q, err) < 0 ||
	    vring_ioctl(v, VHOST_SET_VRING_ADDR, (void *)a, "VHOST_SET_VRING_ADDR", q, err) < 0 ||
	    vring_ioctl(v, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK", q, err) < 0 ||
	    vring_ioctl(v, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL", q, err) < 0)
		return -1;
	return 0;
}

enum net_vhost_result net_vhost_start(struct net_vhost *v, const struct gmem *m,
				      uint64_t negotiated, struct virtq *vq,
				      int tap_fd, const int *kick, const int *call,
				      struct error *err)
{
	struct vhost_vring_addr a[NET_VHOST_QUEUES];
	uint64_t features;

	if (v->started)
		return NET_VHOST_OK;
	if (v->fd < 0) {
		err_set(err, "/dev/vhost-net is not open");
		return NET_VHOST_HOST;
	}
	/* The guest's part first: nothing reaches the kernel unchecked. */
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++) {
		if (!vq[q].ready || vq[q].broken) {
			err_set(err, "queue %u is not enabled", q);
			return NET_VHOST_HOST;
		}
		if (net_vhost_ring_addr(m, &vq[q], q, &a[q], err) < 0)
			return NET_VHOST_GUEST;
		if ((uint16_t)(vq[q].last_avail - vq[q].used_idx) > vq[q].size) {
			err_set(err, "queue %u: %u requests in flight", q,
				(uint16_t)(vq[q].last_avail - vq[q].used_idx));
			return NET_VHOST_GUEST;
		}
	}
	if (net_vhost_features(v->offered, negotiated, &features, err) < 0)
		return NET_VHOST_HOST;
	if (ioctl(v->fd, VHOST_SET_FEATURES, &features) < 0) {
		err_sys(err, "VHOST_SET_FEATURES 0x%llx", (unsigned long long)features);
		return NET_VHOST_HOST;
	}
	if (set_mem_table(v, m, err) < 0)
		return NET_VHOST_HOST;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++) {
		v->kick_at[q] = kick && kick[q] >= 0 ? kick[q] : v->kick[q];
		v->call_at[q] = call && call[q] >= 0 ? call[q] : v->call[q];
	}
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++)
		if (setup_queue(v, &vq[q], q, &a[q], err) < 0)
			return NET_VHOST_HOST;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++) {
		struct vhost_vring_file f = { .index = q, .fd = tap_fd };

		if (ioctl(v->fd, VHOST_NET_SET_BACKEND, &f) < 0) {
			err_sys(err, "queue %u: VHOST_NET_SET_BACKEND", q);
			/* The queues before ran already: their state back. */
			v->started = true;
			net_vhost_stop(v, vq);
			return NET_VHOST_HOST;
		}
	}
	v->started = true;
	return NET_VHOST_OK;
}

int net_vhost_set_call(struct net_vhost *v, unsigned q, int fd,
		       struct error *err)
{
	struct vhost_vring_file call = { .index = q };

	if (q >= NET_VHOST_QUEUES || !v->started)
		return 0;
	call.fd = fd >= 0 ? fd : v->call[q];
	if (call.fd == v->call_at[q])
		return 0;
	if (vring_ioctl(v, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL",
			q, err) < 0)
		return -1;
	v->call_at[q] = call.fd;
	return 0;
}

void net_vhost_stop(struct net_vhost *v, struct virtq *vq)
{
	if (!v->started || v->fd < 0)
		return;
	set_backends(v, -1, NET_VHOST_QUEUES);
	v->started = false;
	for (unsigned q = 0; q < NET_VHOST_QUEUES; q++) {
		struct vhost_vring_state s = { .index = q };
		const uint8_t *idx;
		uint16_t used;

		if (ioctl(v->fd, VHOST_GET_VRING_BASE, &s) == 0)
			vq[q].last_avail = s.num;
		/* start checked the ring; gmem_ptr once more all the same. */
		idx = gmem_ptr(vq[q].mem, vq[q].used_gpa + 2, 2);
		if (idx) {
			memcpy(&used, idx, 2);
			vq[q].used_idx = le16toh(used);
		}
		/* The kernel's record of what it signalled is not ours. */
		vq[q].signalled_valid = false;
	}
}

bool net_vhost_call_pending(struct net_vhost *v, unsigned q)
{
	uint64_t cnt;

	if (q >= NET_VHOST_QUEUES || v->call[q] < 0)
		return false;
	return read(v->call[q], &cnt, sizeof(cnt)) == sizeof(cnt) && cnt;
}

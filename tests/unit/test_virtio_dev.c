/* Whole virtio-pci devices on a board without KVM (fake_board.h): the
 * transport, the event loop and the device file together, driven the way a
 * guest driver would. What a hostile guest can make a device do to the
 * shared event loop (virtio-rng's byte cap and budget, virtio-blk's
 * budget), the order in which a disk is torn down while the guest still
 * kicks it, and MSI-X reprogramming while interrupts keep coming. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unlink_image.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The device files themselves, for their statics and their registration */
#include "../../devices/virtio/pci.c"
#include "../../devices/virtio/rng.c"
#include "../../devices/virtio/blk.c"

#include "fake_guest.h"
#include "fake_board.h"

#define MiB             (1ULL << 20)
#define RAM             (16 * MiB)
#define QSZ             256
#define DESC_GPA        0x10000ULL
#define AVAIL_GPA       0x20000ULL
#define USED_GPA        0x30000ULL
#define SMALL_GPA       0x40000ULL      /* small buffers, 64 bytes each */
#define BIG_GPA         (8 * MiB)       /* one 4 MiB buffer */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* Interrupts fired on a vector so far (read without waiting) */
static uint64_t vec_fired(const struct msi_vec *v)
{
	uint64_t n = 0;

	if (read(v->fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* ================= virtio-rng: the data plane alone ================= */

/* The data plane alone: a queue over fake RAM, no transport */
struct qfx {
	uint8_t *ram;
	struct virtq_req *req;
	struct gmem m;
	struct virtq q;
	struct drvq d;
};

static int qfx_setup(void **state)
{
	struct qfx *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	x->ram = guest_ram_new(RAM);
	x->req = calloc(1, sizeof(*x->req));
	if (!x->ram || !x->req)
		return -1;
	gmem_init_fake(&x->m, x->ram, RAM);
	drvq_init(&x->d, x->ram, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA);
	if (drvq_enable(&x->d, &x->q, &x->m) < 0)
		return -1;
	*state = x;
	return 0;
}

static int qfx_teardown(void **state)
{
	struct qfx *x = *state;

	free(x->req);
	free(x->ram);
	free(x);
	return 0;
}

/* A request of (almost) a whole ring of descriptors, all one 4 MiB buffer, is
 * answered with RNG_REQ_MAX bytes, quickly; a small one in full. */
static void test_rng_byte_cap(void **state)
{
	struct qfx *x = *state;
	struct dbuf b[QSZ];
	uint8_t before[64];
	unsigned pushed;
	uint64_t t0;

	for (unsigned i = 0; i < QSZ - 1; i++)
		b[i] = (struct dbuf){ BIG_GPA, 4 * MiB, true };
	drvq_chain(&x->d, b, QSZ - 1);          /* 1020 MiB asked for */
	b[0] = (struct dbuf){ SMALL_GPA, 48, true };
	drvq_chain(&x->d, b, 1);
	memcpy(before, x->ram + BIG_GPA + RNG_REQ_MAX, sizeof(before));

	t0 = now_us();
	assert_int_equal(rng_pump(&x->q, x->req, 8, &pushed), RNG_IDLE);
	assert_true(now_us() - t0 < 500000);
	assert_int_equal(pushed, 2);
	assert_int_equal(drvq_used_idx(&x->d), 2);
	assert_int_equal(drvq_used_len(&x->d, 0), RNG_REQ_MAX);
	assert_int_equal(drvq_used_len(&x->d, 1), 48);
	/* Nothing past the cap was written */
	assert_memory_equal(x->ram + BIG_GPA + RNG_REQ_MAX, before, sizeof(before));
}

/* The budget: `budget` requests per call, the rest on the next, in order */
static void test_rng_budget_pump(void **state)
{
	struct qfx *x = *state;
	uint16_t head[40];
	unsigned pushed;

	for (unsigned i = 0; i < 40; i++) {
		struct dbuf b = { SMALL_GPA + 64 * i, 8 + i, true };

		head[i] = drvq_chain(&x->d, &b, 1);
	}
	assert_int_equal(rng_pump(&x->q, x->req, 16, &pushed), RNG_BUDGET_SPENT);
	assert_int_equal(pushed, 16);
	assert_int_equal(drvq_used_idx(&x->d), 16);
	assert_int_equal(rng_pump(&x->q, x->req, 16, &pushed), RNG_BUDGET_SPENT);
	assert_int_equal(drvq_used_idx(&x->d), 32);
	assert_int_equal(rng_pump(&x->q, x->req, 16, &pushed), RNG_IDLE);
	assert_int_equal(pushed, 8);
	for (unsigned i = 0; i < 40; i++) {
		assert_int_equal(drvq_used_id(&x->d, i), head[i]);
		assert_int_equal(drvq_used_len(&x->d, i), 8 + i);
	}
}

/* ================= virtio-rng through the transport ================= */

struct rfx {
	struct board b;
	const struct device_ops *ops;
	void *state;
	struct bfunc f;
	struct drvq d;
	struct virtio_pci *vp;
};

static int rfx_setup(void **state)
{
	struct rfx *x = calloc(1, sizeof(*x));
	struct error err;

	if (!x)
		return -1;
	board_open(&x->b, RAM);
	x->b.cfg.rng = true;
	x->ops = board_device("virtio-rng");
	if (x->ops->create(&x->b.env, &x->state, &err) < 0)
		fail_msg("create: %s", err.msg);
	x->vp = to_vp(((struct rng *)x->state)->vdev);
	bf_find(&x->f, &x->b, 1);
	drvq_init(&x->d, x->b.ram, QSZ, DESC_GPA, AVAIL_GPA, USED_GPA);
	vdrv_begin(&x->f);
	vdrv_queue(&x->f, 0, &x->d, 1);
	vdrv_ready(&x->f);
	/* Vector 1 (the queue's): a message, unmasked; MSI-X on */
	vdrv_msix_write(&x->f, 1, 0, 0xfee00000);
	vdrv_msix_write(&x->f, 1, 1, 0);
	vdrv_msix_write(&x->f, 1, 2, 0x41);
	vdrv_msix_write(&x->f, 1, 3, 0);
	bf_msix_control(&x->f, true, false);
	*state = x;
	return 0;
}

static int rfx_teardown(void **state)
{
	struct rfx *x = *state;

	x->ops->destroy(x->state);
	board_close(&x->b);
	free(x);
	return 0;
}

static uint16_t used_locked(struct rfx *x)
{
	uint16_t v;

	pthread_mutex_lock(&x->vp->dev.lock);
	v = drvq_used_idx(&x->d);
	pthread_mutex_unlock(&x->vp->dev.lock);
	return v;
}

/* One kick of 200 requests: the kick answers RNG_BUDGET, the loop the rest
 * over later turns (an interrupt per turn), none lost, none twice. */
static void test_rng_budget_loop(void **state)
{
	struct rfx *x = *state;
	enum { N = 200 };
	uint16_t head[N];
	uint64_t fired = 0;

	for (unsigned i = 0; i < N; i++) {
		struct dbuf b = { SMALL_GPA + 64 * i, 16, true };

		head[i] = drvq_chain(&x->d, &b, 1);
	}
	/* With the device's lock held, the loop cannot run rng_notify: what
	 * the kick did is all there is. */
	pthread_mutex_lock(&x->vp->dev.lock);
	rng_notify(&x->vp->dev, 0);
	assert_int_equal(drvq_used_idx(&x->d), RNG_BUDGET);
	pthread_mutex_unlock(&x->vp->dev.lock);
	for (int i = 0; i < 2000 && used_locked(x) != N; i++)
		usleep(1000);
	assert_int_equal(used_locked(x), N);
	usleep(20000);                  /* and nothing more comes */
	assert_int_equal(used_locked(x), N);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(drvq_used_id(&x->d, i), head[i]);
		assert_int_equal(drvq_used_len(&x->d, i), 16);
	}
	fired = vec_fired(&x->vp->vec[1]);
	assert_true(fired >= (N + RNG_BUDGET - 1) / RNG_BUDGET);
	assert_true(fired <= N);
}

/* ================= MSI-X reprogrammed under fire ================= */

/* Message k: destination APIC k, vector 0x40 + k; address and data say k
 * both, so a route mixing two messages shows. */
#define MSG_ADDR(k)     (0xfee00000u | (uint32_t)(k) << 12)
#define MSG_DATA(k)     (0x40u + (k))
#define NMSG            8

struct mfx {
	struct rfx *x;
	bool unmasked;                  /* the mover rewrites a live entry */
	volatile int stop;
	volatile unsigned long signals, delivered;
	unsigned long reprograms, half, stale;
	const char *why;
};

/* The route KVM would take for vector 1, and the table entry, together */
static void route_and_entry(struct mfx *m, struct kvm_irq_routing_entry *route,
			    struct msix_entry *entry, bool *live)
{
	struct virtio_pci *vp = m->x->vp;
	struct msi_router *r = &m->x->b.msi;
	bool fmask;

	pthread_mutex_lock(&vp->dev.lock);
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->n; i++)
		if (r->e[i].gsi == vp->vec[1].gsi)
			*route = r->e[i];
	pthread_mutex_unlock(&r->lock);
	*entry = vp->table[1];
	*live = msix_enabled(vp, &fmask) && !fmask && !(entry->ctrl & 1);
	pthread_mutex_unlock(&vp->dev.lock);
}

/* "KVM": takes each interrupt off the irqfd and checks the message it
 * would be delivered with: a whole one, the table's while the entry is
 * live. */
static void *msix_deliverer(void *arg)
{
	struct mfx *m = arg;
	struct pollfd p = { .fd = m->x->vp->vec[1].fd, .events = POLLIN };

	while (!m->stop) {
		struct kvm_irq_routing_entry route = { 0 };
		struct msix_entry entry;
		uint64_t n;
		uint32_t k;
		bool live;

		if (poll(&p, 1, 10) <= 0 || read(p.fd, &n, sizeof(n)) != sizeof(n))
			continue;
		route_and_entry(m, &route, &entry, &live);
		k = (route.u.msi.address_lo >> 12) & 0xff;
		if (route.u.msi.address_lo != MSG_ADDR(k) || k >= NMSG ||
		    route.u.msi.address_hi != 0 || route.u.msi.data != MSG_DATA(k))
			m->half++;
		else if (live && !m->unmasked &&
			 (entry.addr_lo != route.u.msi.address_lo ||
			  entry.data != route.u.msi.data))
			m->stale++;
		__atomic_add_fetch(&m->delivered, n, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* The guest's other vCPU: moves the interrupt again and again, the way
 * Linux does (mask, address low, high, data, read back, unmask), or
 * without the mask. */
static void *msix_mover(void *arg)
{
	struct mfx *m = arg;
	struct bfunc *f = &m->x->f;

	for (uint32_t k = 0; !m->stop; k = (k + 1) % NMSG) {
		if (!m->unmasked)
			vdrv_msix_write(f, 1, 3, 1);
		vdrv_msix_write(f, 1, 0, MSG_ADDR(k));
		vdrv_msix_write(f, 1, 1, 0);
		vdrv_msix_write(f, 1, 2, MSG_DATA(k));
		(void)bf_read(f, VIRTIO_MSIX_TABLE + 16 + 8, 4);
		if (!m->unmasked)
			vdrv_msix_write(f, 1, 3, 0);
		m->reprograms++;
	}
	return NULL;
}

/* One vCPU reprograms the queue's MSI-X entry in a loop while another
 * keeps making the device interrupt (an rng request and a kick, each
 * answered at once). Every interrupt must be delivered after it is
 * signalled, each with a whole message (never address from one and data
 * from another, never the table's old message once a new one is live). */
static void msix_under_fire(struct rfx *x, bool unmasked)
{
	struct mfx m = { .x = x, .unmasked = unmasked };
	pthread_t deliverer, mover;
	unsigned long waited_max = 0;

	vdrv_msix_write(&x->f, 1, 0, MSG_ADDR(0));
	vdrv_msix_write(&x->f, 1, 2, MSG_DATA(0));
	assert_int_equal(pthread_create(&deliverer, NULL, msix_deliverer, &m), 0);
	assert_int_equal(pthread_create(&mover, NULL, msix_mover, &m), 0);
	for (unsigned i = 0; i < 5000; i++) {
		struct dbuf b = { SMALL_GPA + 64 * (i % 256), 8, true };
		unsigned long before = __atomic_load_n(&m.delivered, __ATOMIC_ACQUIRE);
		unsigned long w = 0;

		drvq_chain(&x->d, &b, 1);
		vdrv_kick(&x->f, 0);
		m.signals++;
		while (__atomic_load_n(&m.delivered, __ATOMIC_ACQUIRE) == before &&
		       w < 2000000) {
			usleep(1);
			w++;
		}
		if (w > waited_max)
			waited_max = w;
		if (__atomic_load_n(&m.delivered, __ATOMIC_ACQUIRE) == before)
			fail_msg("interrupt %u was never delivered (%lu reprogrammings)",
				 i, m.reprograms);
	}
	m.stop = 1;
	pthread_join(mover, NULL);
	pthread_join(deliverer, NULL);
	print_message("%lu signals, %lu deliveries, %lu reprogrammings %lu half %lu stale\n",
		      m.signals, m.delivered, m.reprograms, m.half, m.stale);
	assert_int_equal(used_locked(x), 5000);
	assert_true(m.reprograms > 100);
	assert_int_equal(m.half, 0);
	assert_int_equal(m.stale, 0);
	assert_true(m.delivered <= m.signals);
}

static void test_msix_reprogram_under_fire(void **state)
{
	msix_under_fire(*state, false);
}

/* The same, the guest rewriting the entry while it is live (undefined by
 * the spec, so any whole message will do, but never half of one) */
static void test_msix_rewrite_live_under_fire(void **state)
{
	msix_under_fire(*state, true);
}

/* ================= virtio-blk: torn down while kicked ================= */

struct kicker {
	int fd;                         /* a dup of the queue's notify fd */
	volatile int stop;
	unsigned long kicks;
};

static void *kick_loop(void *arg)
{
	struct kicker *k = arg;
	uint64_t one = 1;

	while (!k->stop) {
		if (write(k->fd, &one, sizeof(one)) == sizeof(one))
			k->kicks++;
	}
	return NULL;
}

/* The guest kicks its disk (through the notify eventfd, as KVM would from
 * an ioeventfd) right up to the moment the VM is torn down, as at a
 * reboot: no kick may reach a freed engine (ASan: use after free; a
 * plain build: a crash). */
static void test_blk_teardown_kicked(void **state)
{
	char path[] = "/tmp/vessel-unit-blk-XXXXXX";
	int img = mkstemp(path);
	struct disk_spec disk = { .path = path, .cache = DISK_CACHE_WRITEBACK };
	unsigned long kicks = 0;

	(void)state;
	assert_true(img >= 0);
	assert_int_equal(ftruncate(img, 1 * MiB), 0);
	for (int round = 0; round < 200; round++) {
		struct board b;
		struct error err;
		const struct device_ops *ops;
		void *st;
		struct blk_disk *k;
		struct virtio_pci *vp;
		struct kicker kk = { .fd = -1 };
		struct drvq d;
		pthread_t t;
		struct bfunc f;

		board_open(&b, 1 * MiB);
		b.cfg.disks = &disk;
		b.cfg.ndisks = 1;
		ops = board_device("virtio-blk");
		if (ops->create(&b.env, &st, &err) < 0)
			fail_msg("create: %s", err.msg);
		k = &((struct blk_set *)st)->disk[0];
		vp = to_vp(k->vdev);
		/* A driver with an empty ring: every kick runs the engine */
		bf_find(&f, &b, 1);
		drvq_init(&d, b.ram, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
		vdrv_begin(&f);
		vdrv_queue(&f, 0, &d, 1);
		vdrv_ready(&f);
		kk.fd = dup(vp->notify_fd[0]);
		assert_true(kk.fd >= 0);
		assert_int_equal(pthread_create(&t, NULL, kick_loop, &kk), 0);
		usleep(round % 4 * 50);
		ops->destroy(st);
		kk.stop = 1;
		pthread_join(t, NULL);
		kicks += kk.kicks;
		close(kk.fd);
		board_close(&b);
	}
	assert_true(kicks > 0);
	close(img);
	unlink_image(path);
}

/* ================= save, restore, quiesce ================= */

/* One side of a round trip: a board with one virtio-blk over its own copy
 * of the image, driven as a guest would. */
#define SQ              64              /* queue size */
#define HDR_GPA         0x50000ULL      /* request i: header at + 32 i */
#define DATA_GPA        0x60000ULL      /* data at + 4096 i */
#define STATUS_GPA      0x80000ULL      /* status byte at + i */

struct side {
	struct board b;
	const struct device_ops *ops;
	void *st;
	struct blk_disk *k;
	struct virtio_pci *vp;
	struct bfunc f;
	struct drvq d;
	struct disk_spec disk;
	char path[64];
	uint64_t armed;         /* queue 0's notify ioeventfd, 0: none */
	int narmed;
};

/* Where KVM would have queue 0's ioeventfd */
static int side_ioeventfd(struct device_env *env, uint64_t addr, unsigned len,
			  int fd, bool assign, struct error *err)
{
	struct side *x = (struct side *)((char *)env - offsetof(struct side, b.env));

	(void)len;
	(void)err;
	if (fd != x->vp->notify_fd[0])
		return 0;
	if (assign) {
		x->armed = addr;
		x->narmed++;
	} else if (addr == x->armed) {
		x->armed = 0;
		x->narmed--;
	}
	return 0;
}

/* An image of 1 MiB (a byte pattern), or a copy of copy_from; then
 * truncated to size unless 0 */
static void img_make(char *path, size_t len, const char *copy_from, off_t size)
{
	char buf[4096];
	int fd, in = -1;

	snprintf(path, len, "/tmp/vessel-unit-state-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	if (copy_from) {
		ssize_t n;

		in = open(copy_from, O_RDONLY);
		assert_true(in >= 0);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(write(fd, buf, n), n);
		close(in);
	} else {
		for (unsigned i = 0; i < 256; i++) {
			memset(buf, i, sizeof(buf));
			assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
		}
	}
	if (size)
		assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

static void side_open(struct side *x, const char *copy_from, off_t size)
{
	struct error err;

	memset(x, 0, sizeof(*x));
	img_make(x->path, sizeof(x->path), copy_from, size);
	x->disk = (struct disk_spec){ .path = x->path, .cache = DISK_CACHE_WRITEBACK };
	board_open(&x->b, RAM);
	x->b.cfg.disks = &x->disk;
	x->b.cfg.ndisks = 1;
	x->ops = board_device("virtio-blk");
	if (x->ops->create(&x->b.env, &x->st, &err) < 0)
		fail_msg("create: %s", err.msg);
	x->k = &((struct blk_set *)x->st)->disk[0];
	x->vp = to_vp(x->k->vdev);
	bf_find(&x->f, &x->b, 1);
	x->b.env.ioeventfd = side_ioeventfd;    /* from here on */
	drvq_init(&x->d, x->b.ram, SQ, DESC_GPA, AVAIL_GPA, USED_GPA);
}

static void side_close(struct side *x)
{
	x->ops->destroy(x->st);
	board_close(&x->b);
	unlink_image(x->path);
}

/* The driver: features, queue 0 at vector 1, config at vector 0, both
 * live, MSI-X on, DRIVER_OK */
static void side_drive(struct side *x)
{
	vdrv_begin(&x->f);
	bf_write(&x->f, 0x10, 0, 2);                    /* config vector 0 */
	vdrv_queue(&x->f, 0, &x->d, 1);
	vdrv_ready(&x->f);
	vdrv_msix_write(&x->f, 0, 0, MSG_ADDR(1));
	vdrv_msix_write(&x->f, 0, 2, MSG_DATA(1));
	vdrv_msix_write(&x->f, 0, 3, 0);
	vdrv_msix_write(&x->f, 1, 0, MSG_ADDR(2));
	vdrv_msix_write(&x->f, 1, 1, 0);
	vdrv_msix_write(&x->f, 1, 2, MSG_DATA(2));
	vdrv_msix_write(&x->f, 1, 3, 0);
	bf_msix_control(&x->f, true, false);
}

/* Request slot i: a read or write of `len` bytes at `sector` */
static void side_req(struct side *x, unsigned i, uint32_t type, uint64_t sector,
		     uint32_t len)
{
	uint8_t *h = x->b.ram + HDR_GPA + 32 * i;
	uint32_t t = htole32(type);
	uint64_t sec = htole64(sector);
	struct dbuf b[3] = {
		{ HDR_GPA + 32 * i, 16, false },
		{ DATA_GPA + 4096 * i, len, type == VIRTIO_BLK_T_IN },
		{ STATUS_GPA + i, 1, true },
	};

	memset(h, 0, 16);
	memcpy(h, &t, 4);
	memcpy(h + 8, &sec, 8);
	x->b.ram[STATUS_GPA + i] = 0xff;
	drvq_chain(&x->d, b, 3);
}

static uint16_t side_used(struct side *x)
{
	uint16_t v;

	pthread_mutex_lock(&x->vp->dev.lock);
	v = drvq_used_idx(&x->d);
	pthread_mutex_unlock(&x->vp->dev.lock);
	return v;
}

static void side_wait(struct side *x, uint16_t n)
{
	for (int i = 0; i < 5000 && side_used(x) != n; i++)
		usleep(1000);
	assert_int_equal(side_used(x), n);
}

static void side_save(struct side *x, struct vmstate_writer *w)
{
	struct error err;

	vmstate_writer_init(w);
	if (x->ops->save(x->st, w, &err) < 0 || vmstate_finish(w, &err) < 0)
		fail_msg("save: %s", err.msg);
}

/* Everything a guest can read of the function, through the bus. Reading
 * ISR clears it: last. */
static void side_regs(struct side *x, uint32_t *out, unsigned *n)
{
	*n = 0;
	for (unsigned off = 0; off < PCI_CFG_SPACE; off += 4)
		out[(*n)++] = bf_cfg_read(&x->f, off, 4);
	for (unsigned sel = 0; sel < 2; sel++) {
		bf_write(&x->f, 0x00, sel, 4);
		out[(*n)++] = bf_read(&x->f, 0x04, 4);
		bf_write(&x->f, 0x08, sel, 4);
		out[(*n)++] = bf_read(&x->f, 0x0c, 4);
	}
	bf_write(&x->f, 0x16, 0, 2);
	for (unsigned off = 0x10; off < 0x38; off += 2)
		out[(*n)++] = bf_read(&x->f, off, off == 0x14 || off == 0x15 ? 1 : 2);
	for (unsigned off = 0x20; off < 0x38; off += 4)
		out[(*n)++] = bf_read(&x->f, off, 4);
	for (unsigned v = 0; v < 2; v++)
		for (unsigned fld = 0; fld < 4; fld++)
			out[(*n)++] = bf_read(&x->f, VIRTIO_MSIX_TABLE + 16 * v + 4 * fld, 4);
	out[(*n)++] = bf_read(&x->f, 0x6000, 8);
	for (unsigned off = 0; off < 60; off += 4)
		out[(*n)++] = bf_read(&x->f, 0x2000 + off, 4);
	out[(*n)++] = bf_read(&x->f, 0x1000, 1);
}

/* The MSI route of v in b's router (all zero until programmed) */
static struct kvm_irq_routing_entry *route_of(struct board *b,
					      const struct msi_vec *v)
{
	for (unsigned i = 0; i < b->msi.n; i++)
		if (b->msi.e[i].gsi == v->gsi &&
		    b->msi.e[i].type == KVM_IRQ_ROUTING_MSI)
			return &b->msi.e[i];
	return NULL;
}

/* A disk driven to a non-trivial state (requests done, vector 0 masked,
 * vector 1 masked with an interrupt pending in the PBA), saved; a second
 * one from the same configuration, over a copy of RAM and image, restored
 * from it: every register reads the same, and both answer the same new
 * request the same way, and deliver the pending interrupt on unmask. */
static void test_blk_save_restore(void **state)
{
	struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct error err;
	uint32_t ra[128], rb[128];
	unsigned na, nb;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	side_open(a, NULL, 0);
	side_drive(a);
	memset(a->b.ram + DATA_GPA, 0xab, 512);
	side_req(a, 0, VIRTIO_BLK_T_OUT, 8, 512);
	vdrv_kick(&a->f, 0);
	side_wait(a, 1);                /* no ordering between requests */
	side_req(a, 1, VIRTIO_BLK_T_IN, 8, 512);
	vdrv_kick(&a->f, 0);
	side_wait(a, 2);
	assert_int_equal(a->b.ram[STATUS_GPA + 1], 0);
	assert_memory_equal(a->b.ram + DATA_GPA + 4096, a->b.ram + DATA_GPA, 512);
	assert_true(vec_fired(&a->vp->vec[1]) >= 1);
	/* Vector 1 masked: the next completion waits in the PBA */
	vdrv_msix_write(&a->f, 1, 3, 1);
	side_req(a, 2, VIRTIO_BLK_T_IN, 3, 1024);
	vdrv_kick(&a->f, 0);
	side_wait(a, 3);
	assert_int_equal(bf_read(&a->f, 0x6000, 8), 2);
	assert_int_equal(vec_fired(&a->vp->vec[1]), 0);

	/* Move BAR0 (as a guest may): the ioeventfd follows */
	bf_cfg_write(&a->f, PCI_BAR0, (uint32_t)a->f.bar + 0x100000, 4);
	a->f.bar += 0x100000;
	assert_int_equal(a->vp->func.bar[0].mapped_at, a->f.bar);
	assert_int_equal(a->armed, a->f.bar + VIRTIO_NOTIFY);
	assert_int_equal(a->narmed, 1);
	a->ops->quiesce(a->st);
	assert_int_equal(a->narmed, 0);                 /* down while quiesced */
	side_save(a, &w);
	/* The snapshot: RAM and image copied as they are now */
	side_open(b, a->path, 0);
	memcpy(b->b.ram, a->b.ram, RAM);
	b->d = a->d;
	b->d.ram = b->b.ram;
	if (vmstate_open(&r, w.buf, w.len, &err) < 0)
		fail_msg("open: %s", err.msg);
	/* A disk of another size is refused, as bad input */
	{
		struct side *c = calloc(1, sizeof(*c));

		assert_non_null(c);
		side_open(c, a->path, 2 * MiB);
		assert_int_equal(c->ops->restore(c->st, &r, &err), -1);
		assert_int_equal(err.input, 1);
		assert_non_null(strstr(err.msg, "sectors"));
		side_close(c);
		free(c);
	}
	if (b->ops->restore(b->st, &r, &err) < 0)
		fail_msg("restore: %s", err.msg);
	assert_int_equal(b->narmed, 0);
	b->ops->resume(b->st);
	/* BAR0 where the guest moved it, the ioeventfd with it */
	b->f.bar = bf_cfg_read(&b->f, PCI_BAR0, 4) & ~0xfULL;
	assert_int_equal(b->f.bar, a->f.bar);
	assert_int_equal(b->armed, b->f.bar + VIRTIO_NOTIFY);
	assert_int_equal(b->narmed, 1);
	a->ops->resume(a->st);
	assert_int_equal(a->armed, a->f.bar + VIRTIO_NOTIFY);
	assert_int_equal(a->narmed, 1);
	vmstate_writer_free(&w);

	/* Same registers (BAR0 where it was) */
	assert_int_equal(b->f.bar, a->f.bar);
	assert_int_equal(b->vp->func.bar[0].mapped_at, a->vp->func.bar[0].mapped_at);
	side_regs(a, ra, &na);
	side_regs(b, rb, &nb);
	assert_int_equal(na, nb);
	for (unsigned i = 0; i < na; i++)
		if (ra[i] != rb[i])
			fail_msg("register %u: 0x%x before, 0x%x restored", i, ra[i], rb[i]);
	assert_int_equal(b->vp->pba, 2);
	/* KVM's routes are the new VM's: the live vector's was committed by
	 * the restore, the masked one's waits for its unmask */
	{
		struct kvm_irq_routing_entry *e = route_of(&b->b, &b->vp->vec[0]);

		assert_non_null(e);
		assert_int_equal(e->u.msi.address_lo, MSG_ADDR(1));
		assert_int_equal(e->u.msi.data, MSG_DATA(1));
		e = route_of(&b->b, &b->vp->vec[1]);
		assert_non_null(e);
		assert_int_equal(e->u.msi.address_lo, 0);      /* not yet */
	}

	/* The same new request on both: the same answer */
	side_req(a, 3, VIRTIO_BLK_T_IN, 8, 512);
	side_req(b, 3, VIRTIO_BLK_T_IN, 8, 512);
	vdrv_kick(&a->f, 0);
	vdrv_kick(&b->f, 0);
	side_wait(a, 4);
	side_wait(b, 4);
	assert_int_equal(drvq_used_id(&a->d, 3), drvq_used_id(&b->d, 3));
	assert_int_equal(drvq_used_len(&a->d, 3), drvq_used_len(&b->d, 3));
	assert_int_equal(b->b.ram[STATUS_GPA + 3], 0);
	assert_memory_equal(b->b.ram + DATA_GPA + 3 * 4096, a->b.ram + DATA_GPA, 512);
	assert_memory_equal(b->b.ram + DATA_GPA + 3 * 4096,
			    a->b.ram + DATA_GPA + 3 * 4096, 512);
	/* The pending interrupt comes on unmask, on both; the route is the
	 * saved message */
	vdrv_msix_write(&a->f, 1, 3, 0);
	vdrv_msix_write(&b->f, 1, 3, 0);
	assert_true(vec_fired(&a->vp->vec[1]) >= 1);
	assert_true(vec_fired(&b->vp->vec[1]) >= 1);
	{
		struct kvm_irq_routing_entry *e = route_of(&b->b, &b->vp->vec[1]);

		assert_non_null(e);
		assert_int_equal(e->u.msi.address_lo, MSG_ADDR(2));
		assert_int_equal(e->u.msi.data, MSG_DATA(2));
	}
	side_close(a);
	side_close(b);
	free(a);
	free(b);
}

/* Quiesce with reads in flight: when it returns every popped request is in
 * the used ring, and nothing changes there or in the buffers until resume,
 * whatever the guest posts and kicks; after resume it is all answered. */
static void test_blk_quiesce_stops_writes(void **state)
{
	struct side *x = calloc(1, sizeof(*x));
	enum { N = 12 };
	uint8_t *snap = malloc(RAM);
	uint16_t done;

	(void)state;
	assert_non_null(x);
	assert_non_null(snap);
	side_open(x, NULL, 0);
	side_drive(x);
	for (int round = 0; round < 20; round++) {
		uint16_t base = side_used(x);

		for (unsigned i = 0; i < N / 2; i++)
			side_req(x, i, VIRTIO_BLK_T_IN, 8 * i, 4096);
		vdrv_kick(&x->f, 0);
		usleep(round * 20);
		x->ops->quiesce(x->st);
		pthread_mutex_lock(&x->vp->dev.lock);
		assert_int_equal(x->k->eng->inflight, 0);
		assert_int_equal(x->vp->dev.vq[0].last_avail, x->vp->dev.vq[0].used_idx);
		pthread_mutex_unlock(&x->vp->dev.lock);
		/* More requests and kicks while quiesced */
		for (unsigned i = N / 2; i < N; i++)
			side_req(x, i, VIRTIO_BLK_T_IN, 8 * i, 4096);
		vdrv_kick(&x->f, 0);
		(void)!write(x->vp->notify_fd[0], &(uint64_t){ 1 }, 8);
		done = side_used(x);
		memcpy(snap, x->b.ram, RAM);
		usleep(20000);
		assert_int_equal(side_used(x), done);
		assert_memory_equal(snap, x->b.ram, RAM);
		x->ops->resume(x->st);
		side_wait(x, base + N);
		for (unsigned i = 0; i < N; i++) {
			assert_int_equal(x->b.ram[STATUS_GPA + i], 0);
			assert_int_equal(x->b.ram[DATA_GPA + 4096 * i], i);
		}
	}
	side_close(x);
	free(x);
	free(snap);
}

/* ---- hostile state: every field out of range, truncations ---- */

/* An image holding `id` with payload p (len bytes) */
static void image_of(struct vmstate_writer *w, const char *id, const uint8_t *p,
		     size_t len)
{
	struct error err;

	vmstate_writer_init(w);
	vmstate_begin(w, id, VIRTIO_STATE_VERSION);
	vmstate_put(w, p, len);
	vmstate_end(w);
	assert_int_equal(vmstate_finish(w, &err), 0);
}

/* Restore payload p into a fresh rng board: 0, or -1 with an input error */
static int rng_restore_payload(const uint8_t *p, size_t len, struct error *err)
{
	struct board *b = calloc(1, sizeof(*b));
	struct vmstate_writer w;
	struct vmstate_reader r;
	const struct device_ops *ops;
	void *st;
	int ret;

	assert_non_null(b);
	board_open_blank(b, RAM);
	b->cfg.rng = true;
	ops = board_device("virtio-rng");
	assert_int_equal(ops->create(&b->env, &st, err), 0);
	image_of(&w, "virtio-rng", p, len);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, err), 0);
	ret = ops->restore(st, &r, err);
	if (ret < 0)
		assert_int_equal(err->input, 1);
	else
		ops->resume(st);
	vmstate_writer_free(&w);
	ops->destroy(st);
	board_close(b);
	free(b);
	return ret;
}

/* Offsets in the rng section (one queue, two vectors) */
#define O_NQ      256
#define O_NVEC    257
#define O_TABLE   258
#define O_PBA     (O_TABLE + 32)
#define O_CVEC    (O_PBA + 8)
#define O_ISR     (O_CVEC + 2 + 4 + 4 + 2)
#define O_STATUS  (O_ISR + 2)
#define O_FEAT    (O_STATUS + 1 + 8)
#define O_QVEC    (O_FEAT + 8)
#define O_QSIZE   (O_QVEC + 2)
#define O_VQSIZE  (O_QSIZE + 2)
#define O_DESC    (O_VQSIZE + 2)
#define O_READY   (O_DESC + 24)
#define O_EVIDX   (O_READY + 1)
#define O_LAST    (O_EVIDX + 1)
#define O_USEDIDX (O_LAST + 2)
#define O_SV      (O_USEDIDX + 4)
#define O_BROKEN  (O_SV + 1)
#define O_END     (O_BROKEN + 1)

static void test_restore_hostile(void **state)
{
	struct rfx *x = *state;
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err;
	uint8_t good[O_END], bad[O_END + 1];
	struct { unsigned off, len; uint64_t val; const char *what; } c[] = {
		{ 0, 1, 0x42, "vendor ID" },
		{ PCI_CAP_PTR, 1, 0x80, "capability pointer" },
		{ O_NQ, 1, 2, "queues" },
		{ O_NVEC, 1, 9, "vectors" },
		{ O_TABLE + 12, 4, 2, "vector control" },
		{ O_PBA, 8, 1ULL << 2, "PBA past the table" },
		{ O_CVEC, 2, 2, "config vector" },
		{ O_ISR, 1, 4, "ISR" },
		{ O_STATUS, 1, 0x10, "status" },
		{ O_FEAT, 8, 1ULL << 63, "features not offered" },
		{ O_FEAT, 8, 0, "FEATURES_OK without VERSION_1" },
		{ O_QVEC, 2, 2, "queue vector" },
		{ O_QSIZE, 2, 3, "queue size not a power of two" },
		{ O_QSIZE, 2, 512, "queue size too large" },
		{ O_VQSIZE, 2, 128, "ring size differs" },
		{ O_VQSIZE, 2, 0, "ring size 0" },
		{ O_DESC, 8, RAM - 16, "descriptors outside RAM" },
		{ O_DESC, 8, DESC_GPA + 8, "descriptors misaligned" },
		{ O_DESC + 8, 8, ~0ULL, "avail ring far away" },
		{ O_DESC + 16, 8, RAM, "used ring outside RAM" },
		{ O_READY, 1, 2, "ready" },
		{ O_EVIDX, 1, 7, "event_idx" },
		{ O_LAST, 2, 0x1000, "in flight > size" },
		{ O_SV, 1, 3, "signalled_valid" },
		{ O_BROKEN, 1, 9, "broken" },
	};

	/* A working rng, saved */
	x->ops->quiesce(x->state);
	vmstate_writer_init(&w);
	assert_int_equal(x->ops->save(x->state, &w, &err), 0);
	assert_int_equal(vmstate_finish(&w, &err), 0);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	assert_int_equal(vmstate_find(&r, "virtio-rng", &s, &err), 0);
	assert_int_equal(s.len, O_END);
	memcpy(good, s.data, O_END);
	vmstate_writer_free(&w);
	x->ops->resume(x->state);
	/* Sanity of the offsets: what they point at */
	assert_int_equal(good[O_NQ], 1);
	assert_int_equal(good[O_NVEC], 2);
	assert_int_equal(good[O_READY], 1);
	assert_int_equal(good[O_QSIZE] | good[O_QSIZE + 1] << 8, QSZ);
	if (rng_restore_payload(good, O_END, &err) < 0)
		fail_msg("good state refused: %s", err.msg);

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memcpy(bad, good, O_END);
		for (unsigned k = 0; k < c[i].len; k++)
			bad[c[i].off + k] = c[i].val >> (8 * k);
		if (rng_restore_payload(bad, O_END, &err) == 0)
			fail_msg("%s: accepted", c[i].what);
	}
	/* Every truncation, and a byte too many */
	for (unsigned n = 0; n < O_END; n++)
		if (rng_restore_payload(good, n, &err) == 0)
			fail_msg("truncated to %u: accepted", n);
	memcpy(bad, good, O_END);
	bad[O_END] = 0;
	assert_int_equal(rng_restore_payload(bad, O_END + 1, &err), -1);
}

/* A restored rng answers like the one it came from, and its queue was
 * re-kicked on resume: a request posted while quiesced is answered. */
static void test_rng_restore_kick(void **state)
{
	struct rfx *x = *state;
	struct board *b = calloc(1, sizeof(*b));
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct error err;
	struct drvq d;
	void *st;
	struct dbuf buf = { SMALL_GPA, 16, true };
	struct virtio_pci *vp;

	assert_non_null(b);
	x->ops->quiesce(x->state);
	drvq_chain(&x->d, &buf, 1);
	vdrv_kick(&x->f, 0);            /* while quiesced: not answered */
	usleep(10000);
	assert_int_equal(used_locked(x), 0);
	vmstate_writer_init(&w);
	assert_int_equal(x->ops->save(x->state, &w, &err), 0);
	assert_int_equal(vmstate_finish(&w, &err), 0);
	board_open(b, RAM);
	b->cfg.rng = true;
	assert_int_equal(x->ops->create(&b->env, &st, &err), 0);
	memcpy(b->ram, x->b.ram, RAM);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	if (x->ops->restore(st, &r, &err) < 0)
		fail_msg("restore: %s", err.msg);
	vp = to_vp(((struct rng *)st)->vdev);
	x->ops->resume(st);
	x->ops->resume(x->state);
	d = x->d;
	d.ram = b->ram;
	for (int i = 0; i < 2000 && (used_locked(x) != 1 || drvq_used_idx(&d) != 1); i++)
		usleep(1000);
	assert_int_equal(used_locked(x), 1);
	assert_int_equal(drvq_used_idx(&d), 1);
	assert_int_equal(drvq_used_len(&d, 0), 16);
	assert_true(vec_fired(&vp->vec[1]) >= 1);
	vmstate_writer_free(&w);
	x->ops->destroy(st);
	board_close(b);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rng_byte_cap, qfx_setup,
						qfx_teardown),
		cmocka_unit_test_setup_teardown(test_rng_budget_pump, qfx_setup,
						qfx_teardown),
		cmocka_unit_test_setup_teardown(test_rng_budget_loop, rfx_setup,
						rfx_teardown),
		cmocka_unit_test_setup_teardown(test_msix_reprogram_under_fire,
						rfx_setup, rfx_teardown),
		cmocka_unit_test_setup_teardown(test_msix_rewrite_live_under_fire,
						rfx_setup, rfx_teardown),
		cmocka_unit_test(test_blk_teardown_kicked),
		cmocka_unit_test(test_blk_save_restore),
		cmocka_unit_test(test_blk_quiesce_stops_writes),
		cmocka_unit_test_setup_teardown(test_restore_hostile, rfx_setup,
						rfx_teardown),
		cmocka_unit_test_setup_teardown(test_rng_restore_kick, rfx_setup,
						rfx_teardown),
	};

	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
	struct vm_disk disk = { .path = path, .cache = DISK_CACHE_WRITEBACK };
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
	unlink(path);
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
	};

	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* vhost-net programming (devices/net/vhost.c) without a kernel vhost: the
 * ring addresses handed to the kernel are host addresses, so every one must
 * be checked against guest RAM first; and the features vhost is told. With
 * /dev/vhost-net present (the nested host) the device also opens. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../../boot/layout.h"
#include "../../devices/net/vhost.h"
#include "../../devices/net/vnet.h"
#include "../../devices/virtio/virtio.h"

#define MiB     (1ULL << 20)
#define GiB     (1ULL << 30)
#define BIT(n)  (1ULL << (n))

struct fx {
	uint8_t *ram;
	uint64_t size;
	struct gmem m;
	struct virtq q;
};

static struct fx *fx_new(uint64_t ram)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->size = ram;
	f->ram = mmap(NULL, ram, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(f->ram != MAP_FAILED);
	gmem_init_fake(&f->m, f->ram, ram);
	f->q.size = 256;
	f->q.desc_gpa = 0x10000;
	f->q.avail_gpa = 0x11000;
	f->q.used_gpa = 0x12000;
	f->q.mem = &f->m;
	f->q.ready = true;
	return f;
}

static void fx_free(struct fx *f)
{
	munmap(f->ram, f->size);
	free(f);
}

static void test_ring_addr_ok(void **state)
{
	struct fx *f = fx_new(16 * MiB);
	struct vhost_vring_addr a;
	struct error err;

	(void)state;
	assert_int_equal(net_vhost_ring_addr(&f->m, &f->q, 1, &a, &err), 0);
	assert_int_equal(a.index, 1);
	assert_int_equal(a.flags, 0);
	assert_true(a.desc_user_addr == (uintptr_t)(f->ram + 0x10000));
	assert_true(a.avail_user_addr == (uintptr_t)(f->ram + 0x11000));
	assert_true(a.used_user_addr == (uintptr_t)(f->ram + 0x12000));
	/* Rings that end exactly at the end of RAM. */
	f->q.used_gpa = 16 * MiB - (6 + 8 * 256);
	f->q.used_gpa &= ~3ULL;
	assert_int_equal(net_vhost_ring_addr(&f->m, &f->q, 0, &a, &err), 0);
	f->q.desc_gpa = 16 * MiB - 16 * 256;
	assert_int_equal(net_vhost_ring_addr(&f->m, &f->q, 0, &a, &err), 0);
	fx_free(f);
}

static void expect_bad(struct fx *f, const char *what)
{
	struct vhost_vring_addr a;
	struct error err;

	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(net_vhost_ring_addr(&f->m, &f->q, 0, &a, &err), -1);
	assert_non_null(strstr(err.msg, what));
	/* Nothing of a half-checked queue goes out. */
	assert_true(a.desc_user_addr == 0 && a.avail_user_addr == 0 &&
		    a.used_user_addr == 0);
}

/* Every ring wholly inside RAM and aligned, or the queue is refused: past
 * the end, straddling the end, wrapping around, in the MMIO hole. */
static void test_ring_addr_bad(void **state)
{
	struct fx *f = fx_new(16 * MiB);
	struct virtq good = f->q;

	(void)state;
	f->q.desc_gpa = 16 * MiB;
	expect_bad(f, "descriptor ring");
	f->q = good;
	f->q.desc_gpa = 16 * MiB - 16 * 256 + 16;   /* last entry outside */
	expect_bad(f, "descriptor ring");
	f->q = good;
	f->q.avail_gpa = 16 * MiB - (4 + 2 * 256);  /* used_event outside */
	expect_bad(f, "available ring");
	f->q = good;
	f->q.used_gpa = 16 * MiB - (4 + 8 * 256);   /* avail_event outside */
	expect_bad(f, "used ring");
	f->q = good;
	f->q.used_gpa = UINT64_MAX - 8;             /* wraps */
	expect_bad(f, "used ring");
	f->q = good;
	f->q.desc_gpa = 0x10008;                    /* misaligned */
	expect_bad(f, "descriptor ring");
	f->q = good;
	f->q.avail_gpa = 0x11001;
	expect_bad(f, "available ring");
	f->q = good;
	f->q.used_gpa = 0x12002;
	expect_bad(f, "used ring");
	f->q = good;
	f->q.size = 0;
	expect_bad(f, "size");
	f->q.size = 100;                            /* not a power of two */
	expect_bad(f, "size");
	f->q.size = 2048;                           /* more than vessel offers */
	expect_bad(f, "size");
	fx_free(f);
}

/* 4 GiB: RAM is split around the MMIO hole; a ring in the hole or across
 * the split is refused, one above 4 GiB is fine. */
static void test_ring_addr_hole(void **state)
{
	struct fx *f = fx_new(4 * GiB);
	struct vhost_vring_addr a;
	struct error err;
	struct virtq good = f->q;

	(void)state;
	assert_int_equal(f->m.nregions, 2);
	f->q.desc_gpa = MMIO_HOLE_START;
	expect_bad(f, "descriptor ring");
	f->q = good;
	f->q.desc_gpa = MMIO_HOLE_START - 16 * 128;
	expect_bad(f, "descriptor ring");
	f->q = good;
	f->q.used_gpa = 4 * GiB + 0x1000;
	assert_int_equal(net_vhost_ring_addr(&f->m, &f->q, 0, &a, &err), 0);
	assert_true(a.used_user_addr ==
		    (uintptr_t)f->m.region[1].hva + 0x1000);
	fx_free(f);
}

static void test_features(void **state)
{
	uint64_t offered = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_EVENT_IDX) |
			   BIT(VIRTIO_F_INDIRECT_DESC) |
			   BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(27) | BIT(30);
	uint64_t out = 0;
	struct error err;

	(void)state;
	/* Offloads stay between the guest and the tap. */
	assert_int_equal(net_vhost_features(offered, BIT(VIRTIO_F_VERSION_1) |
			 BIT(VIRTIO_F_EVENT_IDX) | BIT(VIRTIO_NET_F_CSUM) |
			 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_MAC) |
			 BIT(VIRTIO_NET_F_MRG_RXBUF), &out, &err), 0);
	assert_true(out == (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_EVENT_IDX) |
			    BIT(VIRTIO_NET_F_MRG_RXBUF)));
	/* Never VHOST_NET_F_VIRTIO_NET_HDR: the tap keeps the header. */
	assert_false(out & BIT(VHOST_NET_F_VIRTIO_NET_HDR));
	/* No VERSION_1: refused (the header size would differ). */
	assert_int_equal(net_vhost_features(offered, BIT(VIRTIO_F_EVENT_IDX),
					    &out, &err), -1);
	/* A ring feature vhost lacks: refused. */
	assert_int_equal(net_vhost_features(offered & ~BIT(VIRTIO_F_EVENT_IDX),
			 BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_EVENT_IDX),
			 &out, &err), -1);
	assert_non_null(strstr(err.msg, "lacks"));
}

/* The eventfds; and, where the kernel has vhost-net, open and close. */
static void test_open(void **state)
{
	struct net_vhost v;
	struct error err;
	uint64_t one = 1;

	(void)state;
	assert_int_equal(net_vhost_init(&v, &err), 0);
	assert_int_equal(v.fd, -1);
	assert_false(net_vhost_call_pending(&v, 0));
	assert_int_equal(write(v.call[1], &one, sizeof(one)), sizeof(one));
	assert_true(net_vhost_call_pending(&v, 1));
	assert_false(net_vhost_call_pending(&v, 1));
	assert_false(net_vhost_call_pending(&v, 7));
	if (access("/dev/vhost-net", R_OK | W_OK) == 0) {
		assert_int_equal(net_vhost_open(&v, &err), 0);
		assert_true(v.fd >= 0);
		assert_true(v.offered & BIT(VIRTIO_F_VERSION_1));
	} else {
		assert_int_equal(net_vhost_open(&v, &err), -1);
		assert_non_null(strstr(err.msg, "/dev/vhost-net"));
		assert_int_equal(v.fd, -1);
	}
	net_vhost_free(&v);
	assert_int_equal(v.fd, -1);
	assert_int_equal(v.kick[0], -1);
	assert_int_equal(v.call[1], -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_addr_ok),
		cmocka_unit_test(test_ring_addr_bad),
		cmocka_unit_test(test_ring_addr_hole),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

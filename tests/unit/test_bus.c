/* The I/O bus: registration of non-overlapping ranges, dispatch to the
 * claiming handler with the offset into its range, all-ones for unclaimed
 * reads, and the counters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../vmm/bus.h"

/* A device that records its last access and serves reads from regs[] */
struct dev {
	unsigned calls;
	uint64_t offset;
	unsigned len;
	bool is_write;
	uint8_t regs[256];
};

static void dev_access(void *opaque, uint64_t offset, uint8_t *data,
		       unsigned len, bool is_write)
{
	struct dev *d = opaque;

	__atomic_add_fetch(&d->calls, 1, __ATOMIC_RELAXED);
	d->offset = offset;
	d->len = len;
	d->is_write = is_write;
	for (unsigned i = 0; i < len; i++) {
		uint8_t *reg = &d->regs[(offset + i) & 0xff];

		if (is_write)
			*reg = data[i];
		else
			data[i] = *reg;
	}
}

static void dev_init(struct dev *d, uint8_t seed)
{
	memset(d, 0, sizeof(*d));
	for (unsigned i = 0; i < sizeof(d->regs); i++)
		d->regs[i] = seed + i;
}

static void reg_ok(struct bus *b, uint64_t base, uint64_t len, struct dev *d,
		   const char *name)
{
	struct error err = { 0 };

	if (bus_register(b, base, len, dev_access, d, name, &err) < 0)
		fail_msg("register %s at 0x%llx+0x%llx: %s", name,
			 (unsigned long long)base, (unsigned long long)len,
			 err.msg);
}

static void reg_fails(struct bus *b, uint64_t base, uint64_t len,
		      const char *name, const char *mention)
{
	struct error err = { 0 };
	struct dev d;
	unsigned n = b->n;

	dev_init(&d, 0);
	assert_int_equal(bus_register(b, base, len, dev_access, &d, name, &err), -1);
	if (!err.msg[0])
		fail_msg("no message for 0x%llx+0x%llx", (unsigned long long)base,
			 (unsigned long long)len);
	if (mention && !strstr(err.msg, mention))
		fail_msg("\"%s\" does not mention %s", err.msg, mention);
	assert_int_equal(b->n, n);
}

/* Read len bytes at addr; returns whether a device claimed them. */
static bool rd(struct bus *b, uint64_t addr, uint8_t *data, unsigned len)
{
	memset(data, 0x00, len);
	return bus_dispatch(b, addr, data, len, false);
}

static void assert_all_ones(const uint8_t *data, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		assert_int_equal(data[i], 0xff);
}

static void test_dispatch_offsets(void **state)
{
	uint8_t data[8], w[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct dev com;
	struct bus b;

	(void)state;
	bus_init(&b, "pio");
	dev_init(&com, 0x40);
	reg_ok(&b, 0x3f8, 8, &com, "serial");

	for (unsigned i = 0; i < 8; i++) {
		assert_true(rd(&b, 0x3f8 + i, data, 1));
		assert_int_equal(com.offset, i);
		assert_int_equal(com.len, 1);
		assert_false(com.is_write);
		assert_int_equal(data[0], 0x40 + i);
	}
	assert_true(rd(&b, 0x3fa, data, 2));
	assert_int_equal(com.offset, 2);
	assert_int_equal(com.len, 2);
	assert_int_equal(data[0], 0x42);
	assert_int_equal(data[1], 0x43);
	assert_true(rd(&b, 0x3fc, data, 4));
	assert_int_equal(com.offset, 4);
	assert_int_equal(com.len, 4);
	assert_true(rd(&b, 0x3f8, data, 8));
	assert_int_equal(com.offset, 0);
	assert_int_equal(com.len, 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(data[i], 0x40 + i);

	/* Writes carry the bytes through */
	assert_true(bus_dispatch(&b, 0x3f9, w, 4, true));
	assert_true(com.is_write);
	assert_int_equal(com.offset, 1);
	assert_int_equal(com.len, 4);
	assert_memory_equal(com.regs + 1, w, 4);
	assert_memory_equal(w, "\xde\xad\xbe\xef", 4);	/* not clobbered */

	assert_int_equal(com.calls, 8 + 3 + 1);
	assert_int_equal(b.dispatched, 8 + 3 + 1);
	assert_int_equal(b.unclaimed, 0);
	bus_destroy(&b);
}

/* Nothing there: reads see all-ones, writes are dropped, both counted. */
static void test_unclaimed(void **state)
{
	uint8_t data[16];
	struct dev d;
	struct bus b;

	(void)state;
	bus_init(&b, "mmio");
	memset(data, 0x11, sizeof(data));
	assert_false(bus_dispatch(&b, 0x1000, data, 4, false));
	assert_all_ones(data, 4);
	assert_int_equal(data[4], 0x11);		/* only len bytes */
	assert_int_equal(b.unclaimed, 1);

	dev_init(&d, 0x80);
	reg_ok(&b, 0x1000, 0x10, &d, "dev");
	/* Just before, just after, and straddling either edge */
	assert_false(rd(&b, 0xfff, data, 1));
	assert_all_ones(data, 1);
	assert_false(rd(&b, 0x1010, data, 1));
	assert_false(rd(&b, 0xffe, data, 4));
	assert_all_ones(data, 4);
	assert_false(rd(&b, 0x100e, data, 4));
	assert_all_ones(data, 4);
	assert_false(rd(&b, 0x100c, data, 8));
	assert_all_ones(data, 8);
	assert_false(rd(&b, 0xfff0, data, 8));
	assert_all_ones(data, 8);
	assert_int_equal(b.unclaimed, 7);

	memset(data, 0x22, sizeof(data));
	assert_false(bus_dispatch(&b, 0x2000, data, 8, true));
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(data[i], 0x22);
	assert_int_equal(b.unclaimed, 8);

	/* The whole device and its last byte still work */
	assert_true(rd(&b, 0x1000, data, 16));
	assert_true(rd(&b, 0x100f, data, 1));
	assert_int_equal(data[0], 0x8f);
	assert_int_equal(d.calls, 2);
	assert_int_equal(b.dispatched, 2);
	assert_int_equal(b.unclaimed, 8);
	bus_destroy(&b);
}

static void test_overlaps(void **state)
{
	struct dev a, l, r;
	uint8_t data[4];
	struct bus b;

	(void)state;
	bus_init(&b, "pio");
	dev_init(&a, 0);
	reg_ok(&b, 0x100, 0x10, &a, "alpha");

	reg_fails(&b, 0x100, 0x10, "same", "alpha");
	reg_fails(&b, 0x100, 1, "first", "alpha");
	reg_fails(&b, 0x104, 4, "inside", "alpha");
	reg_fails(&b, 0xf0, 0x30, "around", "alpha");
	reg_fails(&b, 0xf8, 9, "left", "alpha");
	reg_fails(&b, 0x10f, 0x10, "right", "alpha");
	reg_fails(&b, 0x10f, 1, "last", "alpha");
	reg_fails(&b, 0, 0x10000, "all", "alpha");

	/* Touching on either side is fine */
	dev_init(&l, 0x10);
	dev_init(&r, 0x20);
	reg_ok(&b, 0xf0, 0x10, &l, "left");
	reg_ok(&b, 0x110, 0x10, &r, "right");
	assert_int_equal(b.n, 3);
	reg_fails(&b, 0xff, 2, "between", NULL);
	reg_fails(&b, 0x10f, 2, "between", NULL);
	reg_fails(&b, 0xe8, 0x10, "overlaps left", "left");
	reg_fails(&b, 0x11f, 8, "overlaps right", "right");

	assert_true(rd(&b, 0xff, data, 1));
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.offset, 0xf);
	assert_true(rd(&b, 0x100, data, 1));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.offset, 0);
	assert_true(rd(&b, 0x110, data, 1));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.offset, 0);
	/* An access spanning two adjacent devices belongs to neither */
	assert_false(rd(&b, 0x10e, data, 4));
	assert_all_ones(data, 4);
	assert_int_equal(a.calls + l.calls + r.calls, 3);
	bus_destroy(&b);
}

static void test_bad_ranges(void **state)
{
	struct bus b;
	struct dev d;

	(void)state;
	bus_init(&b, "mmio");
	reg_fails(&b, 0x1000, 0, "empty", NULL);
	reg_fails(&b, 0xfffffffffffff000ULL, 0x2000, "wraps", NULL);
	reg_fails(&b, 1, 0xffffffffffffffffULL, "huge", NULL);
	reg_fails(&b, 0xffffffffffffffffULL, 2, "wraps2", NULL);
	assert_int_equal(b.n, 0);

	/* High addresses that do not wrap are fine */
	dev_init(&d, 0x30);
	reg_ok(&b, 0xffffffffffffe000ULL, 0x1000, &d, "top");
	reg_ok(&b, 0xfee00000ULL, 0x1000, &d, "lapic");
	{
		uint8_t data[4];

		assert_true(rd(&b, 0xffffffffffffefffULL, data, 1));
		assert_int_equal(d.offset, 0xfff);
		assert_false(rd(&b, 0xfffffffffffffffcULL, data, 4));
		assert_false(rd(&b, 0xffffffffffffeffeULL, data, 4));
		assert_true(rd(&b, 0xfee00300ULL, data, 4));
		assert_int_equal(d.offset, 0x300);
	}
	bus_destroy(&b);
}

static void test_unregister(void **state)
{
	struct dev a, m, z;
	uint8_t data[2];
	struct bus b;

	(void)state;
	bus_init(&b, "pio");
	dev_init(&a, 0);
	dev_init(&m, 0);
	dev_init(&z, 0);
	reg_ok(&b, 0x60, 1, &a, "a");
	reg_ok(&b, 0x70, 2, &m, "m");
	reg_ok(&b, 0x80, 1, &z, "z");

	bus_unregister(&b, 0x71);		/* not a base: nothing */
	bus_unregister(&b, 0x90);
	assert_int_equal(b.n, 3);
	assert_true(rd(&b, 0x71, data, 1));

	bus_unregister(&b, 0x70);
	assert_int_equal(b.n, 2);
	assert_false(rd(&b, 0x70, data, 2));
	assert_all_ones(data, 2);
	assert_false(rd(&b, 0x71, data, 1));
	assert_int_equal(m.calls, 1);
	assert_true(rd(&b, 0x60, data, 1));
	assert_true(rd(&b, 0x80, data, 1));
	assert_int_equal(a.calls, 1);
	assert_int_equal(z.calls, 1);

	/* The range is free again */
	reg_ok(&b, 0x70, 4, &z, "z2");
	assert_true(rd(&b, 0x73, data, 1));
	assert_int_equal(z.calls, 2);
	assert_int_equal(z.offset, 3);

	bus_unregister(&b, 0x60);
	bus_unregister(&b, 0x80);
	bus_unregister(&b, 0x70);
	assert_int_equal(b.n, 0);
	assert_false(rd(&b, 0x60, data, 1));
	bus_unregister(&b, 0x60);		/* empty bus */
	bus_destroy(&b);
}

/* Many ranges, registered out of order: kept sorted, each found. */
#define NDEV 200

static void test_many(void **state)
{
	static struct dev devs[NDEV];
	uint8_t data[4];
	struct bus b;

	(void)state;
	bus_init(&b, "mmio");
	for (unsigned k = 0; k < NDEV; k++) {
		unsigned i = (k * 73 + 11) % NDEV;	/* a permutation */

		dev_init(&devs[i], i);
		reg_ok(&b, 0x10000 + i * 0x100ULL, 0x80, &devs[i], "dev");
	}
	assert_int_equal(b.n, NDEV);
	for (unsigned i = 1; i < b.n; i++)
		assert_true(b.ranges[i - 1].base < b.ranges[i].base);
	for (unsigned i = 0; i < NDEV; i++) {
		uint64_t base = 0x10000 + i * 0x100ULL;

		assert_true(rd(&b, base + 0x7c, data, 4));
		assert_int_equal(devs[i].calls, 1);
		assert_int_equal(devs[i].offset, 0x7c);
		assert_int_equal(data[0], (uint8_t)(i + 0x7c));
		assert_false(rd(&b, base + 0x80, data, 1));	/* the gap */
		assert_false(rd(&b, base - 1, data, 1));
	}
	assert_int_equal(b.dispatched, NDEV);
	assert_int_equal(b.unclaimed, 2 * NDEV);
	bus_destroy(&b);
}

/* Handlers run without the bus lock, so one may change the map of its own
 * bus (a BAR write moving a range). A rdlock held here would deadlock. */
struct remapper {
	struct bus *b;
	struct dev target;
	uint64_t at;		/* where target is mapped, 0 when not */
};

static void remap_access(void *opaque, uint64_t offset, uint8_t *data,
			 unsigned len, bool is_write)
{
	struct remapper *rm = opaque;
	struct error err = { 0 };
	uint64_t to;

	(void)offset;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	to = data[0] * 0x1000ULL;
	if (rm->at)
		bus_unregister(rm->b, rm->at);
	rm->at = 0;
	if (to && bus_register(rm->b, to, 0x100, dev_access, &rm->target,
			       "target", &err) == 0)
		rm->at = to;
}

static void test_handler_changes_map(void **state)
{
	struct error err = { 0 };
	struct remapper rm;
	uint8_t v, data[1];
	struct bus b;

	(void)state;
	alarm(10);		/* a deadlock kills the test instead of hanging */
	bus_init(&b, "mmio");
	memset(&rm, 0, sizeof(rm));
	rm.b = &b;
	dev_init(&rm.target, 0x60);
	assert_int_equal(bus_register(&b, 0x100, 4, remap_access, &rm, "bar",
				      &err), 0);

	v = 0x10;
	assert_true(bus_dispatch(&b, 0x100, &v, 1, true));
	assert_int_equal(rm.at, 0x10000);
	assert_true(rd(&b, 0x10005, data, 1));
	assert_int_equal(data[0], 0x65);
	v = 0x20;
	assert_true(bus_dispatch(&b, 0x100, &v, 1, true));
	assert_false(rd(&b, 0x10005, data, 1));
	assert_true(rd(&b, 0x20005, data, 1));
	assert_int_equal(rm.target.offset, 5);
	v = 0;
	assert_true(bus_dispatch(&b, 0x100, &v, 1, true));
	assert_int_equal(b.n, 1);
	bus_destroy(&b);
	alarm(0);
}

/* Dispatch from several threads while another thread registers and
 * unregisters a range: every access is counted exactly once. */
struct hammer {
	struct bus *b;
	unsigned iters;
};

static void *hammer_dispatch(void *arg)
{
	struct hammer *h = arg;

	for (unsigned i = 0; i < h->iters; i++) {
		uint8_t data[4];

		bus_dispatch(h->b, 0x100 + (i & 0x1f), data, 1, i & 1);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct hammer h = { .iters = 20000 };
	struct dev fixed, flip;
	pthread_t t[3];
	struct bus b;

	(void)state;
	bus_init(&b, "mmio");
	h.b = &b;
	dev_init(&fixed, 0);
	dev_init(&flip, 0);
	reg_ok(&b, 0x100, 0x10, &fixed, "fixed");
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_dispatch, &h), 0);
	for (unsigned i = 0; i < 2000; i++) {
		reg_ok(&b, 0x110, 0x10, &flip, "flip");
		bus_unregister(&b, 0x110);
	}
	for (unsigned i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(b.dispatched + b.unclaimed, 3 * h.iters);
	assert_int_equal(b.dispatched, fixed.calls + flip.calls);
	assert_int_equal(fixed.calls, 3 * h.iters / 2);
	bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_offsets),
		cmocka_unit_test(test_unclaimed),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_unregister),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_handler_changes_map),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

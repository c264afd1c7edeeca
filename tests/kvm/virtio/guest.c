/* A freestanding guest that drives vessel's virtio-pci transport the way a
 * driver does, with no interrupts (MSI-X stays disabled; completions are
 * polled). It scans PCI bus 0 through config mechanism 1 (and cross-checks
 * each ID through ECAM), sizes BAR0 like firmware, walks the capability
 * list to the common/notify/ISR/device structures, initialises virtio-rng
 * and virtio-blk by the book (virtio 1.x, 3.1.1, VERSION_1 only), runs one
 * request on each, then feeds them malformed chains and rings; after each it
 * resets the device and shows a good request works again.
 *
 * Output on COM1, which tests/kvm/run.sh (t_virtio) asserts on:
 *   pci 00:SS.0 VVVV:DDDD              one per function
 *   rng: got N bytes: HEX
 *   blk: capacity C sector0: TEXT      the first 16 bytes of the disk
 *   DEV: hostile WHAT: needs_reset | status=S (len N) | completed len=N
 *   DEV: recovered after hostile WHAT
 *   check failed: ...                  a spec or sanity violation (go on)
 *   timeout: ...                       no answer in time (power off)
 *   virtio-guest: done (N checks failed)
 *
 * Small on purpose: /dev/kvm may be PVM, where each guest instruction costs
 * about a microsecond. Every wait is bounded by the ACPI PM timer and by an
 * iteration count. */
#include <stdarg.h>
#include <stdint.h>

/* ---- platform ---- */

#define COM1            0x3f8
#define PM1_CNT         0x604
#define PM_TMR          0x608
#define PM_TMR_HZ       3579545u
#define PCI_ADDR        0xcf8
#define PCI_DATA        0xcfc

/* Guest RAM used for rings and buffers (the guest image is at 1 MiB). */
#define RING_RNG        0x200000ULL
#define RING_BLK        0x201000ULL
#define BUF_RNG         0x210000ULL
#define BUF_HDR         0x211000ULL
#define BUF_DATA        0x212000ULL
#define BUF_STATUS      0x213000ULL
/* Within a ring page (queue size <= 8) */
#define RING_AVAIL      0x400
#define RING_USED       0x800

#define QSIZE           8

/* virtio */
#define VIRTIO_VENDOR   0x1af4
#define ST_ACK          0x01
#define ST_DRIVER       0x02
#define ST_DRIVER_OK    0x04
#define ST_FEATURES_OK  0x08
#define ST_NEEDS_RESET  0x40
#define ST_FAILED       0x80
#define D_NEXT          1
#define D_WRITE         2

/* common configuration (virtio 1.x, 4.1.4.3) */
#define C_DFSELECT      0x00
#define C_DF            0x04
#define C_GFSELECT      0x08
#define C_GF            0x0c
#define C_NUMQ          0x12
#define C_STATUS        0x14
#define C_GEN           0x15
#define C_QSELECT       0x16
#define C_QSIZE         0x18
#define C_QVECTOR       0x1a
#define C_QENABLE       0x1c
#define C_QNOTIFY       0x1e
#define C_QDESC         0x20
#define C_QAVAIL        0x28
#define C_QUSED         0x30

/* virtio-blk */
#define BLK_T_IN        0
#define BLK_S_OK        0
#define BLK_S_IOERR     1

/* Waits: give up after this long, or this many polls (a backstop: a poll
 * takes ~14 us on PVM, well under 1 us elsewhere). */
#define WAIT_MS         3000u
#define WAIT_ITERS      20000000ul

/* ---- port and MMIO access ---- */

static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

/* One plain mov each: KVM has to decode these. */
static inline uint8_t r8(uint64_t a) { uint8_t v; __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory"); return v; }
static inline uint16_t r16(uint64_t a) { uint16_t v; __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline uint32_t r32(uint64_t a) { uint32_t v; __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline void w8(uint64_t a, uint8_t v) { __asm__ volatile("movb %0, (%1)" :: "q"(v), "r"(a) : "memory"); }
static inline void w16(uint64_t a, uint16_t v) { __asm__ volatile("movw %0, (%1)" :: "r"(v), "r"(a) : "memory"); }
static inline void w32(uint64_t a, uint32_t v) { __asm__ volatile("movl %0, (%1)" :: "r"(v), "r"(a) : "memory"); }

static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

/* gcc may turn loops into calls to these. */
void *memset(void *d, int c, unsigned long n)
{
	volatile uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	volatile uint8_t *p = d;
	const volatile uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

static void zero_page(uint64_t a)
{
	volatile uint64_t *p = (volatile uint64_t *)a;

	for (unsigned i = 0; i < 512; i++)
		p[i] = 0;
}

/* ---- output ---- */

static void putc_(char c)
{
	for (unsigned i = 0; i < 1000 && !(inb(COM1 + 5) & 0x20); i++)
		;
	outb(COM1, (uint8_t)c);
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void putnum(unsigned long v, unsigned base, int width)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < 24);
	while (n < width && n < 24)
		buf[n++] = '0';
	while (n)
		putc_(buf[--n]);
}

/* %s %c %u %x with an optional 0-padded width and l modifier. */
static void pr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		int width = 0, lng = 0;

		if (*fmt != '%') {
			putc_(*fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == 'l') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': puts_(va_arg(ap, const char *)); break;
		case 'c': putc_((char)va_arg(ap, int)); break;
		case 'u':
			putnum(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, width);
			break;
		case 'x':
			putnum(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, width);
			break;
		case 0: fmt--; break;
		default: putc_(*fmt); break;
		}
	}
	va_end(ap);
}

static __attribute__((noreturn)) void poweroff(void)
{
	for (;;) {
		outw(PM1_CNT, (5 << 10) | (1 << 13));   /* SLP_TYP=5, SLP_EN */
		__asm__ volatile("hlt");
	}
}

static unsigned nchecks;

#define check(cond, ...) do {                           \
	if (!(cond)) {                                  \
		nchecks++;                              \
		pr("check failed: " __VA_ARGS__);       \
	}                                               \
} while (0)

static __attribute__((noreturn)) void timeout(const char *what)
{
	pr("timeout: %s\n", what);
	pr("virtio-guest: giving up (%u checks failed)\n", nchecks);
	poweroff();
}

/* ---- waiting ---- */

static uint32_t now(void)
{
	return inl(PM_TMR);
}

struct wait {
	uint32_t t0, last;
	unsigned stale;
};

static void wait_start(struct wait *w)
{
	w->t0 = w->last = now();
	w->stale = 0;
}

/* Called every 256 polls: 0 once WAIT_MS are over, or when the PM timer
 * does not move (then no deadline would ever come). */
static int wait_more(struct wait *w)
{
	uint32_t t = now();

	if (t - w->t0 > WAIT_MS * (PM_TMR_HZ / 1000))
		return 0;
	if (t == w->last && ++w->stale > 1000) {
		check(0, "the PM timer does not advance\n");
		return 0;
	}
	w->last = t;
	return 1;
}

/* Poll until `cond` holds: 1, or 0 after WAIT_MS (PM timer) or WAIT_ITERS
 * polls, whichever comes first. */
#define WAIT(cond) ({                                                   \
	struct wait w_;                                                 \
	int ok_ = 0;                                                    \
	wait_start(&w_);                                                \
	for (unsigned long i_ = 0; i_ < WAIT_ITERS; i_++) {             \
		if (cond) {                                             \
			ok_ = 1;                                        \
			break;                                          \
		}                                                       \
		if ((i_ & 255) == 255 && !wait_more(&w_))               \
			break;                                          \
		__asm__ volatile("pause" ::: "memory");                 \
	}                                                               \
	ok_;                                                            \
})

/* ---- PCI config mechanism 1 ---- */

static void cfg_sel(unsigned slot, unsigned off)
{
	outl(PCI_ADDR, 0x80000000u | slot << 11 | (off & 0xfc));
}

static uint32_t cfg_r32(unsigned slot, unsigned off) { cfg_sel(slot, off); return inl(PCI_DATA); }
static uint16_t cfg_r16(unsigned slot, unsigned off) { cfg_sel(slot, off); return inw(PCI_DATA + (off & 2)); }
static uint8_t cfg_r8(unsigned slot, unsigned off) { cfg_sel(slot, off); return inb(PCI_DATA + (off & 3)); }
static void cfg_w16(unsigned slot, unsigned off, uint16_t v) { cfg_sel(slot, off); outw(PCI_DATA + (off & 2), v); }
static void cfg_w32(unsigned slot, unsigned off, uint32_t v) { cfg_sel(slot, off); outl(PCI_DATA, v); }

#define ECAM 0xe0000000ULL

/* Size BAR0 the way firmware and Linux do: decoding off, all ones, read
 * back, restore. Moves the BAR (and vessel's ioeventfds) away and back. */
static uint32_t bar0_size(unsigned slot)
{
	uint16_t cmd = cfg_r16(slot, 0x04);
	uint32_t old = cfg_r32(slot, 0x10), mask, back;

	cfg_w16(slot, 0x04, cmd & ~0x2);
	cfg_w32(slot, 0x10, 0xffffffff);
	mask = cfg_r32(slot, 0x10);
	cfg_w32(slot, 0x10, old);
	cfg_w16(slot, 0x04, cmd);
	back = cfg_r32(slot, 0x10);
	check(back == old, "00:%02x.0: BAR0 0x%x after sizing, was 0x%x\n", slot, back, old);
	return ~(mask & ~0xfu) + 1;
}

/* ---- a virtio device ---- */

struct vdev {
	const char *name;
	unsigned slot;
	uint16_t devid;
	uint64_t common, notify, isr, dcfg;     /* 0 when the cap is missing */
	uint32_t mult, dcfg_len;
	uint64_t ring;
	uint16_t qsize, avail, used_seen;
	uint64_t notify_addr;
	uint64_t features;
	int inits;
};

static struct vdev rng = { .name = "rng", .ring = RING_RNG };
static struct vdev blk = { .name = "blk", .ring = RING_BLK };
static uint64_t ram_end;

static uint64_t bar_addr(unsigned slot, unsigned bar)
{
	uint32_t v;
	uint64_t a;

	if (bar > 5)
		return 0;
	v = cfg_r32(slot, 0x10 + 4 * bar);
	if (v & 1)
		return 0;                       /* an I/O BAR */
	a = v & ~0xfu;
	if (((v >> 1) & 3) == 2 && bar < 5)
		a |= (uint64_t)cfg_r32(slot, 0x14 + 4 * bar) << 32;
	return a;
}

/* Walk the capability list for the virtio structures (first of each type). */
static int find_caps(struct vdev *d)
{
	unsigned p, n = 0;

	check(cfg_r16(d->slot, 0x06) & 0x10, "%s: no capability list\n", d->name);
	pr("%s: 00:%02x.0 bar0 0x%x size 0x%x\n", d->name, d->slot,
	   cfg_r32(d->slot, 0x10), bar0_size(d->slot));
	/* Memory decoding and bus mastering on, as a driver does. */
	cfg_w16(d->slot, 0x04, cfg_r16(d->slot, 0x04) | 0x6);
	for (p = cfg_r8(d->slot, 0x34) & 0xfc; p && n < 48; n++) {
		uint32_t hdr = cfg_r32(d->slot, p);     /* id, next, len, type */
		unsigned id = hdr & 0xff, next = (hdr >> 8) & 0xfc;

		if (id == 0x09) {
			unsigned type = hdr >> 24, bar = cfg_r8(d->slot, p + 4);
			uint32_t off = cfg_r32(d->slot, p + 8);
			uint32_t len = cfg_r32(d->slot, p + 12);
			uint64_t base = bar_addr(d->slot, bar);
			uint64_t a = base ? base + off : 0;

			pr("%s: cap type %u bar %u off 0x%x len 0x%x\n", d->name, type, bar, off, len);
			check(base, "%s: cap type %u: BAR%u not a memory BAR\n", d->name, type, bar);
			if (type == 1 && !d->common) {
				check(len >= 0x38, "%s: common cfg len 0x%x < 0x38\n", d->name, len);
				d->common = a;
			} else if (type == 2 && !d->notify) {
				d->notify = a;
				d->mult = cfg_r32(d->slot, p + 16);
			} else if (type == 3 && !d->isr) {
				d->isr = a;
			} else if (type == 4 && !d->dcfg) {
				d->dcfg = a;
				d->dcfg_len = len;
			}
		}
		p = next;
	}
	check(!p, "%s: capability list does not end\n", d->name);
	check(d->common && d->notify && d->isr, "%s: common/notify/isr cap missing\n", d->name);
	return d->common && d->notify && d->isr ? 0 : -1;
}

/* Reset, negotiate VERSION_1 only, set up queue 0 with QSIZE entries at
 * d->ring, DRIVER_OK (virtio 1.x, 3.1.1). With bad_desc, the descriptor
 * table goes there instead and we stop after queue_enable: returns the
 * device status then. */
static int vinit_q(struct vdev *d, uint64_t bad_desc)
{
	uint64_t c = d->common;
	uint32_t lo, hi;
	uint16_t max, got;
	uint8_t st;
	int first = d->inits++ == 0;

	w8(c + C_STATUS, 0);
	if (!WAIT(r8(c + C_STATUS) == 0))
		timeout("device reset does not complete");
	w8(c + C_STATUS, ST_ACK);
	w8(c + C_STATUS, ST_ACK | ST_DRIVER);
	w32(c + C_DFSELECT, 0);
	lo = r32(c + C_DF);
	w32(c + C_DFSELECT, 1);
	hi = r32(c + C_DF);
	d->features = (uint64_t)hi << 32 | lo;
	if (first)
		pr("%s: device features 0x%lx, %u queues\n", d->name, d->features,
		   r16(c + C_NUMQ));
	if (!(hi & 1)) {
		check(0, "%s: VERSION_1 not offered\n", d->name);
		return -1;
	}
	w32(c + C_GFSELECT, 0);
	w32(c + C_GF, 0);
	w32(c + C_GFSELECT, 1);
	w32(c + C_GF, 1);                       /* VERSION_1 (bit 32) only */
	w8(c + C_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	st = r8(c + C_STATUS);
	if (!(st & ST_FEATURES_OK)) {
		check(0, "%s: FEATURES_OK not kept (status 0x%x)\n", d->name, st);
		return -1;
	}

	w16(c + C_QSELECT, 0);
	max = r16(c + C_QSIZE);
	if (!max) {
		check(0, "%s: queue 0 has size 0\n", d->name);
		return -1;
	}
	/* Spec 4.1.4.3.2: the device presents 0 in queue_enable on reset. */
	got = r16(c + C_QENABLE);
	check(got == 0, "%s: queue_enable=%u after reset, want 0\n", d->name, got);
	d->qsize = max < QSIZE ? max : QSIZE;
	w16(c + C_QSIZE, d->qsize);
	got = r16(c + C_QSIZE);
	check(got == d->qsize, "%s: queue_size reads %u after writing %u\n", d->name,
	      got, d->qsize);
	zero_page(d->ring);
	w32(c + C_QDESC, (uint32_t)(bad_desc ? bad_desc : d->ring));
	w32(c + C_QDESC + 4, (uint32_t)(bad_desc >> 32));
	w32(c + C_QAVAIL, (uint32_t)(d->ring + RING_AVAIL));
	w32(c + C_QAVAIL + 4, 0);
	w32(c + C_QUSED, (uint32_t)(d->ring + RING_USED));
	w32(c + C_QUSED + 4, 0);
	lo = r32(c + C_QUSED);
	check(lo == (uint32_t)(d->ring + RING_USED), "%s: queue_used reads 0x%x\n",
	      d->name, lo);
	d->notify_addr = d->notify + (uint64_t)r16(c + C_QNOTIFY) * d->mult;
	w16(c + C_QENABLE, 1);
	if (bad_desc)
		return r8(c + C_STATUS);
	got = r16(c + C_QENABLE);
	check(got == 1, "%s: queue_enable=%u after enabling\n", d->name, got);
	w8(c + C_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	st = r8(c + C_STATUS);
	check(st == (ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK),
	      "%s: status 0x%x after DRIVER_OK\n", d->name, st);
	if (first)
		pr("%s: ready, queue size %u (max %u), notify at 0x%lx\n", d->name,
		   d->qsize, max, d->notify_addr);
	d->avail = d->used_seen = 0;
	(void)r8(d->isr);                       /* clear it */
	return st & ST_FAILED ? -1 : 0;
}

static int vinit(struct vdev *d)
{
	return vinit_q(d, 0);
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* Descriptors 0..n-1, head 0, into the avail ring; kick. */
static void submit(struct vdev *d, const struct desc *ds, unsigned n, uint16_t head)
{
	volatile struct desc *t = (volatile struct desc *)d->ring;
	volatile uint16_t *avail = (volatile uint16_t *)(d->ring + RING_AVAIL);

	for (unsigned i = 0; i < n; i++) {
		t[i].addr = ds[i].addr;
		t[i].len = ds[i].len;
		t[i].flags = ds[i].flags;
		t[i].next = ds[i].next;
	}
	avail[2 + d->avail % d->qsize] = head;
	mb();
	avail[1] = ++d->avail;
	mb();
	w16(d->notify_addr, 0);                 /* queue index 0 */
}

static uint16_t used_idx(const struct vdev *d)
{
	return ((volatile uint16_t *)(d->ring + RING_USED))[1];
}

enum { W_TIMEOUT, W_USED, W_NEEDS_RESET };

/* Wait for the request to come back (*len = bytes written), or, when
 * allow_nr, for NEEDS_RESET. */
static int wait_used(struct vdev *d, int allow_nr, uint32_t *len)
{
	volatile uint32_t *e;
	uint8_t isr;

	if (!WAIT(used_idx(d) != d->used_seen ||
		  (allow_nr && (r8(d->common + C_STATUS) & ST_NEEDS_RESET))))
		return W_TIMEOUT;
	if (used_idx(d) == d->used_seen)
		return W_NEEDS_RESET;
	mb();
	e = (volatile uint32_t *)(d->ring + RING_USED + 4 + 8 * (d->used_seen % d->qsize));
	d->used_seen++;
	check(used_idx(d) == d->used_seen, "%s: used idx jumped to %u\n", d->name,
	      used_idx(d));
	check(e[0] == 0, "%s: used id %u, want 0\n", d->name, e[0]);
	*len = e[1];
	isr = r8(d->isr);
	check(isr & 1, "%s: ISR 0x%x after a used buffer, want bit 0\n", d->name, isr);
	return W_USED;
}

/* ---- rng ---- */

static void rng_good(const char *tag)
{
	struct desc ds = { BUF_RNG, 16, D_WRITE, 0 };
	volatile uint8_t *b = (volatile uint8_t *)BUF_RNG;
	uint32_t len = 0;
	unsigned nz = 0;

	for (unsigned i = 0; i < 16; i++)
		b[i] = 0;
	submit(&rng, &ds, 1, 0);
	if (wait_used(&rng, 0, &len) != W_USED)
		timeout("rng: request never completed");
	if (tag) {
		check(len > 0 && len <= 16, "rng: got %u bytes after hostile %s\n", len, tag);
		pr("rng: recovered after hostile %s\n", tag);
		return;
	}
	pr("rng: got %u bytes:", len);
	for (unsigned i = 0; i < 16; i++) {
		pr(" %02x", b[i]);
		nz += b[i] != 0;
	}
	pr("\n");
	check(len > 0, "rng: zero bytes\n");
	check(len <= 16, "rng: %u bytes in a 16-byte buffer\n", len);
	check(nz, "rng: all zero\n");
}

/* Submit a malformed request; report what the device did. */
static void hostile(struct vdev *d, const char *what, const struct desc *ds,
		    unsigned n, uint16_t head, uint16_t avail_bump)
{
	uint32_t len = 0;
	int r;

	if (avail_bump) {
		/* Publish an avail idx far ahead of what was written. */
		volatile uint16_t *avail = (volatile uint16_t *)(d->ring + RING_AVAIL);

		d->avail += avail_bump;
		mb();
		avail[1] = d->avail;
		mb();
		w16(d->notify_addr, 0);
	} else {
		submit(d, ds, n, head);
	}
	r = wait_used(d, 1, &len);
	if (r == W_NEEDS_RESET) {
		uint8_t isr = r8(d->isr);

		pr("%s: hostile %s: needs_reset\n", d->name, what);
		check(isr & 2, "%s: ISR 0x%x with NEEDS_RESET, want bit 1\n", d->name, isr);
	} else if (r == W_USED && d == &blk) {
		pr("%s: hostile %s: status=%u (len %u)\n", d->name, what,
		   *(volatile uint8_t *)BUF_STATUS, len);
	} else if (r == W_USED) {
		pr("%s: hostile %s: completed len=%u\n", d->name, what, len);
	} else {
		pr("timeout: %s: hostile %s: neither completed nor NEEDS_RESET\n",
		   d->name, what);
	}
}

static void rng_tests(void)
{
	struct desc ds[1];
	int st;

	if (find_caps(&rng) < 0 || vinit(&rng) < 0)
		return;
	rng_good(0);

	ds[0] = (struct desc){ ram_end, 16, D_WRITE, 0 };
	hostile(&rng, "addr", ds, 1, 0, 0);
	if (vinit(&rng) == 0)
		rng_good("addr");

	ds[0] = (struct desc){ ram_end - 8, 16, D_WRITE, 0 };
	hostile(&rng, "straddle", ds, 1, 0, 0);
	if (vinit(&rng) == 0)
		rng_good("straddle");

	ds[0] = (struct desc){ BUF_RNG, 16, D_WRITE | D_NEXT, 0 };
	hostile(&rng, "loop", ds, 1, 0, 0);
	if (vinit(&rng) == 0)
		rng_good("loop");

	ds[0] = (struct desc){ BUF_RNG, 16, D_WRITE, 0 };
	hostile(&rng, "head", ds, 1, 200, 0);
	if (vinit(&rng) == 0)
		rng_good("head");

	hostile(&rng, "avail-idx", 0, 0, 0, 1000);
	if (vinit(&rng) == 0)
		rng_good("avail-idx");

	/* Rings outside RAM at queue_enable: vessel refuses them then. */
	st = vinit_q(&rng, ram_end);
	if (st >= 0 && (st & ST_NEEDS_RESET))
		pr("rng: hostile ring: needs_reset\n");
	else if (st >= 0)
		pr("rng: hostile ring: accepted (status 0x%x, queue_desc 0x%x)\n",
		   st, r32(rng.common + C_QDESC));
	if (vinit(&rng) == 0)
		rng_good("ring");
}

/* ---- blk ---- */

static uint64_t blk_capacity(void)
{
	uint32_t lo, hi;
	uint8_t g;
	int n = 0;

	do {
		g = r8(blk.common + C_GEN);
		lo = r32(blk.dcfg);
		hi = r32(blk.dcfg + 4);
	} while (g != r8(blk.common + C_GEN) && ++n < 10);
	return (uint64_t)hi << 32 | lo;
}

/* Descriptors of a read request: header, `len` bytes of data at `data`, a
 * status byte at BUF_STATUS (preset to 0xff: not written). */
static void blk_setup(struct desc *ds, uint64_t sector, uint64_t data, uint32_t len)
{
	volatile uint32_t *h = (volatile uint32_t *)BUF_HDR;

	h[0] = BLK_T_IN;
	h[1] = 0;
	h[2] = (uint32_t)sector;
	h[3] = (uint32_t)(sector >> 32);
	*(volatile uint8_t *)BUF_STATUS = 0xff;
	ds[0] = (struct desc){ BUF_HDR, 16, D_NEXT, 1 };
	ds[1] = (struct desc){ data, len, D_WRITE | D_NEXT, 2 };
	ds[2] = (struct desc){ BUF_STATUS, 1, D_WRITE, 0 };
}

static char sector0[17];

static void blk_good(const char *tag)
{
	struct desc ds[3];
	volatile char *b = (volatile char *)BUF_DATA;
	uint32_t len = 0;
	uint8_t st;
	int same = 1;

	for (unsigned i = 0; i < 512; i++)
		b[i] = 0;
	blk_setup(ds, 0, BUF_DATA, 512);
	submit(&blk, ds, 3, 0);
	if (wait_used(&blk, 0, &len) != W_USED)
		timeout("blk: read of sector 0 never completed");
	st = *(volatile uint8_t *)BUF_STATUS;
	check(st == BLK_S_OK, "blk: read of sector 0: status %u\n", st);
	check(len >= 1 && len <= 513, "blk: used len %u for a 512-byte read\n", len);
	for (unsigned i = 0; i < 16; i++) {
		char c = b[i];

		c = c >= 0x20 && c < 0x7f ? c : '.';
		if (tag)
			same &= c == sector0[i];
		else
			sector0[i] = c;
	}
	if (tag) {
		check(same, "blk: sector 0 differs after hostile %s\n", tag);
		pr("blk: recovered after hostile %s\n", tag);
	} else {
		pr("blk: capacity %lu sector0: %s\n", blk_capacity(), sector0);
	}
}

static void blk_tests(void)
{
	struct desc ds[3];
	uint64_t cap;

	if (find_caps(&blk) < 0)
		return;
	check(blk.dcfg && blk.dcfg_len >= 8, "blk: no device config\n");
	if (!blk.dcfg || vinit(&blk) < 0)
		return;
	cap = blk_capacity();
	blk_good(0);

	blk_setup(ds, 0, ram_end, 512);
	hostile(&blk, "addr", ds, 3, 0, 0);
	if (vinit(&blk) == 0)
		blk_good("addr");

	ds[0] = (struct desc){ BUF_HDR, 16, D_NEXT, 0 };
	hostile(&blk, "loop", ds, 1, 0, 0);
	if (vinit(&blk) == 0)
		blk_good("loop");

	blk_setup(ds, 0, BUF_DATA, 100);
	hostile(&blk, "len", ds, 3, 0, 0);
	if (vinit(&blk) == 0)
		blk_good("len");

	blk_setup(ds, cap, BUF_DATA, 512);
	hostile(&blk, "sector", ds, 3, 0, 0);
	if (vinit(&blk) == 0)
		blk_good("sector");
}

/* ---- main ---- */

static uint64_t e820_ram_end(const uint8_t *bp)
{
	unsigned n = bp[0x1e8];
	uint64_t end = 0;

	for (unsigned i = 0; i < n && i < 128; i++) {
		const volatile uint8_t *e = bp + 0x2d0 + 20 * i;
		uint64_t a = *(const volatile uint64_t *)e;
		uint64_t s = *(const volatile uint64_t *)(e + 8);

		if (*(const volatile uint32_t *)(e + 16) == 1 && a + s > end)
			end = a + s;
	}
	return end;
}

void guest_main(const uint8_t *bp)
{
	int have_blk = 0;

	pr("virtio-guest: start\n");
	ram_end = e820_ram_end(bp);
	pr("ram end 0x%lx\n", ram_end);
	if (ram_end < 0x400000)
		timeout("no usable RAM in the e820 map");

	for (unsigned s = 0; s < 32; s++) {
		uint32_t id = cfg_r32(s, 0);
		uint16_t vid = id & 0xffff, did = id >> 16;

		if (vid == 0xffff)
			continue;
		pr("pci 00:%02x.0 %04x:%04x\n", s, vid, did);
		check(r32(ECAM + ((uint64_t)s << 15)) == id,
		      "00:%02x.0: ECAM reads id 0x%x, mechanism 1 0x%x\n", s,
		      r32(ECAM + ((uint64_t)s << 15)), id);
		if (vid != VIRTIO_VENDOR)
			continue;
		if (did == 0x1044 && !rng.devid) {
			rng.slot = s;
			rng.devid = did;
		} else if (did == 0x1042 && !blk.devid) {
			blk.slot = s;
			blk.devid = did;
			have_blk = 1;
		}
	}

	if (rng.devid)
		rng_tests();
	else
		check(0, "no virtio-rng (1af4:1044) on bus 0\n");
	if (have_blk)
		blk_tests();
	else
		pr("blk: not present\n");

	pr("virtio-guest: done (%u checks failed)\n", nchecks);
	poweroff();
}

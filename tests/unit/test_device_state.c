/* Save and restore of the legacy devices (serial, ACPI PM, RTC, i8042) and
 * the PCI host bridge, on a board without KVM (fake_board.h): a device
 * driven through its ports, saved, a second one restored from that reads
 * back the same through the bus and drives its interrupt line the same;
 * and hostile sections (bad values, every truncation) are refused as bad
 * input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The device files themselves, for their statics and their registration */
#include "../../devices/serial.c"
#include "../../devices/pm.c"
#include "../../devices/rtc.c"
#include "../../devices/i8042.c"

#include "fake_guest.h"
#include "fake_board.h"

#define RAM (1ULL << 20)

/* A board with a console (input from a pipe) and recorded IRQ levels */
struct lb {
	struct board b;
	struct console con;
	int in[2], out;
	int level[24];
	int events;
};

/* Which board each line belongs to (the lines live inside the devices) */
static struct { struct irq_line *line; struct lb *x; } lines[64];

static void lb_irq_set(struct irq_line *line, int level)
{
	for (unsigned i = 0; i < 64; i++)
		if (lines[i].line == line && lines[i].x)
			lines[i].x->level[line->gsi] = level;
}

static void lb_irq_init(struct device_env *env, struct irq_line *line,
			unsigned gsi)
{
	struct lb *x = (struct lb *)((char *)env - offsetof(struct lb, b.env));
	unsigned i;

	line->set = lb_irq_set;
	line->vm_fd = -1;
	line->gsi = gsi;
	for (i = 0; i < 64 && lines[i].x; i++)
		;
	assert_true(i < 64);
	lines[i].line = line;
	lines[i].x = x;
}

static void lb_forget(struct lb *x)
{
	for (unsigned i = 0; i < 64; i++)
		if (lines[i].x == x)
			lines[i].x = NULL;
}

static void lb_request(struct device_env *env, enum vm_event ev)
{
	struct lb *x = (struct lb *)((char *)env - offsetof(struct lb, b.env));

	(void)ev;
	x->events++;
}

static struct lb *lb_open(void)
{
	struct lb *x = calloc(1, sizeof(*x));
	struct error err;

	assert_non_null(x);
	board_open(&x->b, RAM);
	assert_int_equal(pipe(x->in), 0);
	x->out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(x->out >= 0);
	assert_int_equal(console_open(&x->con, &x->b.loop, x->in[0], x->out, &err), 0);
	x->b.env.console = &x->con;
	x->b.env.irq_init = lb_irq_init;
	x->b.env.request = lb_request;
	return x;
}

static void lb_close(struct lb *x)
{
	lb_forget(x);
	loop_stop(&x->b.loop);
	console_close(&x->con);
	close(x->in[0]);
	close(x->in[1]);
	close(x->out);
	board_close(&x->b);
	free(x);
}

static uint32_t pin(struct lb *x, uint16_t port, unsigned len)
{
	uint8_t d[4] = { 0 };
	uint32_t v;

	assert_true(bus_dispatch(&x->b.pio, port, d, len, false));
	memcpy(&v, d, 4);
	return v;
}

static void pout(struct lb *x, uint16_t port, uint32_t v, unsigned len)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	assert_true(bus_dispatch(&x->b.pio, port, d, len, true));
}

static void *make(struct lb *x, const struct device_ops *ops)
{
	struct error err;
	void *st;

	if (ops->create(&x->b.env, &st, &err) < 0)
		fail_msg("%s: create: %s", ops->name, err.msg);
	return st;
}

/* Save st's sections into an image (w owns it) */
static void save(const struct device_ops *ops, void *st, struct vmstate_writer *w)
{
	struct error err;

	vmstate_writer_init(w);
	if (ops->quiesce)
		ops->quiesce(st);
	if (ops->save(st, w, &err) < 0 || vmstate_finish(w, &err) < 0)
		fail_msg("%s: save: %s", ops->name, err.msg);
	if (ops->resume)
		ops->resume(st);
}

static void restore(const struct device_ops *ops, void *st,
		    const struct vmstate_writer *w)
{
	struct vmstate_reader r;
	struct error err;

	if (vmstate_open(&r, w->buf, w->len, &err) < 0 ||
	    ops->restore(st, &r, &err) < 0)
		fail_msg("%s: restore: %s", ops->name, err.msg);
	if (ops->resume)
		ops->resume(st);
}

/* Payload p as section id into a fresh device: 0, or -1 (an input error) */
static int restore_payload(const struct device_ops *ops, const char *id,
			   uint32_t version, const uint8_t *p, size_t len)
{
	struct lb *x = lb_open();
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct error err;
	void *st = make(x, ops);
	int ret;

	vmstate_writer_init(&w);
	vmstate_begin(&w, id, version);
	vmstate_put(&w, p, len);
	vmstate_end(&w);
	assert_int_equal(vmstate_finish(&w, &err), 0);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	ret = ops->restore(st, &r, &err);
	if (ret < 0 && !err.input)
		fail_msg("%s: not an input error: %s", id, err.msg);
	vmstate_writer_free(&w);
	ops->destroy(st);
	lb_close(x);
	return ret;
}

/* The section id's payload in w */
static size_t payload(const struct vmstate_writer *w, const char *id,
		      uint8_t *buf, size_t cap)
{
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err;

	assert_int_equal(vmstate_open(&r, w->buf, w->len, &err), 0);
	assert_int_equal(vmstate_find(&r, id, &s, &err), 0);
	assert_true(s.len <= cap);
	memcpy(buf, s.data, s.len);
	return s.len;
}

/* Every truncation and one byte too many refused; the whole accepted;
 * each (offset, value) patch refused. */
static void hostile(const struct device_ops *ops, const char *id,
		    const uint8_t *good, size_t len, const unsigned *off,
		    const uint8_t *val, unsigned n)
{
	uint8_t bad[8192];

	assert_true(len < sizeof(bad));
	assert_int_equal(restore_payload(ops, id, 1, good, len), 0);
	for (size_t k = 0; k < len; k++)
		if (restore_payload(ops, id, 1, good, k) == 0)
			fail_msg("%s truncated to %zu: accepted", id, k);
	memcpy(bad, good, len);
	bad[len] = 0;
	assert_int_equal(restore_payload(ops, id, 1, bad, len + 1), -1);
	assert_int_equal(restore_payload(ops, id, 2, good, len), -1);
	for (unsigned i = 0; i < n; i++) {
		memcpy(bad, good, len);
		bad[off[i]] = val[i];
		if (restore_payload(ops, id, 1, bad, len) == 0)
			fail_msg("%s: byte %u = 0x%x accepted", id, off[i], val[i]);
	}
}

/* ---- serial ---- */

static void serial_regs(struct lb *x, uint8_t *out)
{
	unsigned n = 0;

	pout(x, COM1_PORT + UART_LCR, pin(x, COM1_PORT + UART_LCR, 1) | LCR_DLAB, 1);
	out[n++] = pin(x, COM1_PORT + UART_RBR, 1);     /* DLL */
	out[n++] = pin(x, COM1_PORT + UART_IER, 1);     /* DLM */
	pout(x, COM1_PORT + UART_LCR, pin(x, COM1_PORT + UART_LCR, 1) & ~LCR_DLAB, 1);
	for (unsigned r = 1; r < 8; r++)
		out[n++] = pin(x, COM1_PORT + r, 1);
	out[n++] = x->level[COM1_IRQ];
	while (pin(x, COM1_PORT + UART_LSR, 1) & LSR_DR)        /* the FIFO */
		out[n++] = pin(x, COM1_PORT + UART_RBR, 1);
	out[n++] = x->level[COM1_IRQ];
}

static void test_serial(void **state)
{
	const struct device_ops *ops = board_device("serial");
	struct lb *a = lb_open(), *b = lb_open();
	void *sa = make(a, ops), *sb = make(b, ops);
	struct vmstate_writer w;
	uint8_t ra[64] = { 0 }, rb[64] = { 0 }, good[64];
	size_t len;
	static const unsigned off[] = { 0, 2, 4, 7, 8, 8, 9 };
	static const uint8_t val[] = { 0x10, 0x20, 0x02, 2, 0xff, 5, 0x20 };

	(void)state;
	pout(a, COM1_PORT + UART_LCR, 0x83, 1);
	pout(a, COM1_PORT + UART_RBR, 0x0c, 1);
	pout(a, COM1_PORT + UART_IER, 0x01, 1);
	pout(a, COM1_PORT + UART_LCR, 0x1b, 1);
	pout(a, COM1_PORT + UART_IER, IER_RDI, 1);
	pout(a, COM1_PORT + UART_MCR, MCR_OUT2 | MCR_DTR, 1);
	pout(a, COM1_PORT + UART_SCR, 0x5a, 1);
	pout(a, COM1_PORT + UART_IIR, FCR_FIFO, 1);
	serial_push(sa, (const uint8_t *)"hi!", 3);
	assert_int_equal(a->level[COM1_IRQ], 1);
	/* Quiesced, it takes no input (the console keeps it) */
	ops->quiesce(sa);
	assert_int_equal(serial_space(sa), 0);
	ops->resume(sa);
	assert_int_equal(serial_space(sa), RX_RING - 3);
	save(ops, sa, &w);
	restore(ops, sb, &w);
	assert_int_equal(b->level[COM1_IRQ], 1);        /* the line follows */
	serial_regs(a, ra);
	serial_regs(b, rb);
	assert_memory_equal(ra, rb, sizeof(ra));
	assert_int_equal(rb[1 + 1 + 7 + 1], 'h');       /* DLL DLM 7 regs level */
	assert_int_equal(rb[0], 0x0c);
	assert_int_equal(b->level[COM1_IRQ], 0);
	len = payload(&w, "serial", good, sizeof(good));
	assert_int_equal(len, 13);
	/* IER, MCR, FCR, thr_pending, FIFO length (twice), ... */
	hostile(ops, "serial", good, len, off, val, 7);
	vmstate_writer_free(&w);
	ops->destroy(sa);
	ops->destroy(sb);
	lb_close(a);
	lb_close(b);
}

/* ---- ACPI PM ---- */

static void test_pm(void **state)
{
	const struct device_ops *ops = board_device("acpi-pm");
	struct lb *a = lb_open(), *b = lb_open();
	void *sa = make(a, ops), *sb = make(b, ops);
	struct vmstate_writer w;
	uint8_t good[16];
	size_t len;
	static const unsigned off[] = { 4, 5 };
	static const uint8_t val[] = { 0, 0x20 };

	(void)state;
	pout(a, PM1_EVT_PORT + 2, PM1_PWRBTN, 2);      /* PWRBTN_EN */
	pout(a, PM1_CNT_PORT, 3 << 10, 2);              /* SLP_TYP, no SLP_EN */
	pout(a, PM_GPE0_PORT + 2, 0x0005, 2);
	assert_true(pm_power_button(sa));
	assert_int_equal(a->level[SCI_IRQ], 1);
	save(ops, sa, &w);
	restore(ops, sb, &w);
	assert_int_equal(b->level[SCI_IRQ], 1);
	assert_int_equal(pin(b, PM1_EVT_PORT, 4), pin(a, PM1_EVT_PORT, 4));
	assert_int_equal(pin(b, PM1_CNT_PORT, 2), pin(a, PM1_CNT_PORT, 2));
	assert_int_equal(pin(b, PM_GPE0_PORT, 4), pin(a, PM_GPE0_PORT, 4));
	assert_int_equal(pin(b, PM1_CNT_PORT, 2), (3 << 10) | PM1_SCI_EN);
	pout(b, PM1_EVT_PORT, PM1_PWRBTN, 2);           /* the guest acks */
	assert_int_equal(b->level[SCI_IRQ], 0);
	len = payload(&w, "acpi-pm", good, sizeof(good));
	assert_int_equal(len, 10);
	hostile(ops, "acpi-pm", good, len, off, val, 2);   /* no SCI_EN, SLP_EN */
	vmstate_writer_free(&w);
	ops->destroy(sa);
	ops->destroy(sb);
	lb_close(a);
	lb_close(b);
}

/* ---- RTC ---- */

static void test_rtc(void **state)
{
	const struct device_ops *ops = board_device("rtc");
	struct lb *a = lb_open(), *b = lb_open();
	void *sa = make(a, ops), *sb = make(b, ops);
	struct vmstate_writer w;
	uint8_t good[256];
	size_t len;
	static const unsigned off[] = { 0, 1 + 0x05 };
	static const uint8_t val[] = { 0x80, 1 };

	(void)state;
	pout(a, RTC_PORT, 0x20, 1);
	pout(a, RTC_PORT + 1, 0x77, 1);
	pout(a, RTC_PORT, 0x7f, 1);
	pout(a, RTC_PORT + 1, 0x11, 1);
	pout(a, RTC_PORT, 0x30, 1);                     /* left selected */
	save(ops, sa, &w);
	restore(ops, sb, &w);
	assert_int_equal(pin(b, RTC_PORT + 1, 1), pin(a, RTC_PORT + 1, 1));
	for (unsigned i = 0x0e; i < 0x80; i++) {
		if (i == 0x32)
			continue;       /* the century: the clock's */
		pout(a, RTC_PORT, i, 1);
		pout(b, RTC_PORT, i, 1);
		assert_int_equal(pin(b, RTC_PORT + 1, 1), pin(a, RTC_PORT + 1, 1));
	}
	pout(b, RTC_PORT, 0x20, 1);
	assert_int_equal(pin(b, RTC_PORT + 1, 1), 0x77);
	len = payload(&w, "rtc", good, sizeof(good));
	assert_int_equal(len, 129);
	hostile(ops, "rtc", good, len, off, val, 2);
	vmstate_writer_free(&w);
	ops->destroy(sa);
	ops->destroy(sb);
	lb_close(a);
	lb_close(b);
}

/* ---- i8042 ---- */

static void test_i8042(void **state)
{
	const struct device_ops *ops = board_device("i8042");
	struct lb *a = lb_open(), *b = lb_open();
	void *sa = make(a, ops), *sb = make(b, ops);
	struct vmstate_writer w;
	uint8_t good[8];
	size_t len;
	static const unsigned off[] = { 0, 3 };
	static const uint8_t val[] = { 0x80, 0xaa };

	(void)state;
	pout(a, I8042_CMD_PORT, CMD_WRITE_CTR, 1);
	pout(a, I8042_DATA_PORT, 0x47, 1);
	pout(a, I8042_CMD_PORT, CMD_READ_CTR, 1);       /* reply waiting */
	pout(a, I8042_CMD_PORT, CMD_WRITE_CTR, 1);      /* command pending */
	save(ops, sa, &w);
	restore(ops, sb, &w);
	assert_int_equal(pin(b, I8042_CMD_PORT, 1), pin(a, I8042_CMD_PORT, 1));
	assert_true(pin(b, I8042_CMD_PORT, 1) & STS_OBF);
	assert_int_equal(pin(b, I8042_DATA_PORT, 1), 0x47);
	assert_int_equal(pin(a, I8042_DATA_PORT, 1), 0x47);
	/* The pending WRITE_CTR takes the next data byte on both */
	pout(a, I8042_DATA_PORT, 0x21, 1);
	pout(b, I8042_DATA_PORT, 0x21, 1);
	pout(a, I8042_CMD_PORT, CMD_READ_CTR, 1);
	pout(b, I8042_CMD_PORT, CMD_READ_CTR, 1);
	assert_int_equal(pin(b, I8042_DATA_PORT, 1), 0x21);
	assert_int_equal(pin(a, I8042_DATA_PORT, 1), 0x21);
	len = payload(&w, "i8042", good, sizeof(good));
	assert_int_equal(len, 4);
	hostile(ops, "i8042", good, len, off, val, 2);
	vmstate_writer_free(&w);
	ops->destroy(sa);
	ops->destroy(sb);
	lb_close(a);
	lb_close(b);
}

/* ---- the PCI host bridge ---- */

static void test_pci_host(void **state)
{
	struct lb *a = lb_open(), *b = lb_open();
	struct vmstate_writer w;
	struct vmstate_reader r;
	struct vmstate_section s;
	struct error err;
	uint8_t good[300], bad[300];
	size_t len;

	(void)state;
	pout(a, PCI_CONFIG_ADDR_PORT, 0x80000004, 4);   /* bridge command */
	pout(a, PCI_CONFIG_DATA_PORT, PCI_CMD_MASTER, 2);
	pout(a, PCI_CONFIG_ADDR_PORT, 0x8000083c, 4);   /* slot 1, left there */
	vmstate_writer_init(&w);
	assert_int_equal(pci_host_save(&a->b.pci, &w, &err), 0);
	assert_int_equal(vmstate_finish(&w, &err), 0);
	assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
	if (pci_host_restore(&b->b.pci, &r, &err) < 0)
		fail_msg("restore: %s", err.msg);
	assert_int_equal(pin(b, PCI_CONFIG_ADDR_PORT, 4), 0x8000083c);
	pout(b, PCI_CONFIG_ADDR_PORT, 0x80000004, 4);
	assert_int_equal(pin(b, PCI_CONFIG_DATA_PORT, 2), PCI_CMD_MASTER);
	assert_int_equal(vmstate_find(&r, "pci-host", &s, &err), 0);
	len = s.len;
	assert_int_equal(len, 4 + PCI_CFG_SPACE);
	memcpy(good, s.data, len);
	vmstate_writer_free(&w);
	/* Truncations, a read-only byte changed (the vendor ID) */
	for (size_t k = 0; k <= len; k++) {
		memcpy(bad, good, len);
		if (k == len)
			bad[4] ^= 1;
		vmstate_writer_init(&w);
		vmstate_begin(&w, "pci-host", 1);
		vmstate_put(&w, bad, k == len ? len : k);
		vmstate_end(&w);
		assert_int_equal(vmstate_finish(&w, &err), 0);
		assert_int_equal(vmstate_open(&r, w.buf, w.len, &err), 0);
		assert_int_equal(pci_host_restore(&b->b.pci, &r, &err), -1);
		assert_int_equal(err.input, 1);
		vmstate_writer_free(&w);
	}
	lb_close(a);
	lb_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_pm),
		cmocka_unit_test(test_rtc),
		cmocka_unit_test(test_i8042),
		cmocka_unit_test(test_pci_host),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

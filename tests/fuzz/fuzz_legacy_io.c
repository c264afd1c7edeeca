/* libFuzzer target: a hostile guest's port I/O to the legacy devices (the
 * 16550 serial port, the RTC/CMOS, the i8042, the ACPI PM block and reset
 * port, the POST port) and the PCI host's 0xcf8/0xcfc, with console input
 * arriving in between. No KVM: tests/lib/board.h with a console (input
 * from a pipe, output to /dev/null) and IRQ lines that go nowhere. The
 * input is accesses of 4 bytes each:
 *   byte 0   bits 0-2 which port range (the table below), bit 3 write,
 *            bits 4-5 size 1, 2, 4 (3: 1), bit 6 instead: console input,
 *            byte 2 pushed (byte 1 % 4 + 1) times into the serial port;
 *   byte 1   offset into the range (modulo its length + 1: one past too);
 *   byte 2-3 the value written (repeated for 4 bytes).
 * Every access must return, a read filling exactly its bytes. Then what a
 * guest can bring the devices to must survive a snapshot: each device is
 * saved, and the save must load into a fresh set of devices. */
#include "../../devices/debugport.c"
#include "../../devices/i8042.c"
#include "../../devices/pm.c"
#include "../../devices/rtc.c"
#include "../../devices/serial.c"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../boot/layout.h"
#include "../../vmm/vmstate.h"
#include "../lib/board.h"

#define RAM (64u << 10)

static const struct { uint16_t port, len; } ranges[8] = {
	{ COM1_PORT, 8 }, { RTC_PORT, 2 }, { I8042_DATA_PORT, 1 },
	{ I8042_CMD_PORT, 1 }, { PM_BASE_PORT, 0x14 }, { RESET_PORT, 1 },
	{ DEBUG_PORT, 1 }, { PCI_CONFIG_ADDR_PORT, 8 },
};

static const struct device_ops *const devs[] = {
	&serial_ops, &rtc_ops, &i8042_ops, &pm_ops, &debugport_ops,
};
#define NDEVS (sizeof(devs) / sizeof(devs[0]))

struct lb {
	struct board b;
	struct console con;
	int in[2], out;
	void *st[NDEVS];
};

static void no_irq(struct irq_line *line, int level)
{
	(void)line;
	(void)level;
}

static void lines_init(struct device_env *env, struct irq_line *line,
		       unsigned gsi)
{
	(void)env;
	line->set = no_irq;
	line->vm_fd = -1;
	line->gsi = gsi;
}

static void no_request(struct device_env *env, enum vm_event ev)
{
	(void)env;
	(void)ev;
}

static int lb_open(struct lb *x)
{
	struct error err;

	memset(x, 0, sizeof(*x));
	x->in[0] = x->in[1] = x->out = -1;
	if (board_init(&x->b, calloc(1, RAM), RAM, "fuzz", &err) < 0 ||
	    pipe2(x->in, O_CLOEXEC) < 0 ||
	    (x->out = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 ||
	    console_open(&x->con, &x->b.loop, x->in[0], x->out, &err) < 0)
		return -1;
	x->b.env.console = &x->con;
	x->b.env.irq_init = lines_init;
	x->b.env.request = no_request;
	for (unsigned i = 0; i < NDEVS; i++)
		if (devs[i]->create(&x->b.env, &x->st[i], &err) < 0)
			return -1;
	return 0;
}

static void lb_close(struct lb *x)
{
	for (unsigned i = NDEVS; i-- > 0;)
		if (x->st[i])
			devs[i]->destroy(x->st[i]);
	console_close(&x->con);
	close(x->in[0]);
	close(x->in[1]);
	close(x->out);
	board_close(&x->b);
}

static void guest_io(struct lb *x, const uint8_t *op)
{
	unsigned r = op[0] & 7, len = 1u << (op[0] >> 4 & 3);
	uint16_t port = ranges[r].port + op[1] % (ranges[r].len + 1);
	uint64_t v16 = op[2] | op[3] << 8;

	if (op[0] & 0x40) {
		for (unsigned i = 0; i <= op[1] % 4u; i++)
			if (serial_space(x->st[0]))
				serial_push(x->st[0], &op[2], 1);
		return;
	}
	if (len > 4)
		len = 1;
	if (!board_access(&x->b.pio, port, v16 * 0x0001000100010001ull, len,
			  op[0] & 8))
		__builtin_trap();       /* written past the access */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lb a, b;
	struct vmstate_writer w;
	struct vmstate_reader rd;
	struct error err;

	if (size > 4 * 4096)
		return 0;
	if (lb_open(&a) < 0 || lb_open(&b) < 0)
		__builtin_trap();
	for (size_t i = 0; i + 4 <= size; i += 4)
		guest_io(&a, data + i);
	vmstate_writer_init(&w);
	for (unsigned i = 0; i < NDEVS; i++)
		if (devs[i]->save && devs[i]->save(a.st[i], &w, &err) < 0)
			__builtin_trap();
	if (vmstate_finish(&w, &err) < 0 ||
	    vmstate_open(&rd, w.buf, w.len, &err) < 0)
		__builtin_trap();
	for (unsigned i = 0; i < NDEVS; i++)
		if (devs[i]->restore && devs[i]->restore(b.st[i], &rd, &err) < 0)
			__builtin_trap();       /* a guest's state that cannot load */
	vmstate_writer_free(&w);
	lb_close(&a);
	lb_close(&b);
	return 0;
}

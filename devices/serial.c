/* A 16550A UART at 0x3f8 on IRQ 4, wired to the console. Transmission is
 * instantaneous (THR is always empty); received bytes wait in a small ring.
 * The interrupt line follows the pending-interrupt state (level). */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "device.h"
#include "../boot/layout.h"

#define RX_RING 4096

/* Register offsets and bits */
#define UART_RBR 0      /* read; THR on write; DLL with DLAB */
#define UART_IER 1      /* DLM with DLAB */
#define UART_IIR 2      /* read; FCR on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IIR_NONE  0x01
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_FIFO  0xc0
#define FCR_FIFO  0x01
#define FCR_CLRRX 0x02
#define LCR_DLAB  0x80
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

struct serial {
	pthread_mutex_t lock;
	struct device_env *env;
	struct irq_line irq;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	int thr_pending;        /* THR-empty interrupt pending */
	uint8_t rx[RX_RING];
	unsigned rx_head, rx_len;
	int level;
	bool paused;            /* quiesced: the console keeps its input */
};

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_FIFO) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_len)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NONE;
}

/* Caller holds s->lock. OUT2 gates the line on a PC. */
static void serial_update_irq(struct serial *s)
{
	int level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->level) {
		s->level = level;
		irq_set(&s->irq, level);
	}
}

static void serial_rx_push_locked(struct serial *s, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len && s->rx_len < RX_RING; i++)
		s->rx[(s->rx_head + s->rx_len++) % RX_RING] = buf[i];
}

static void serial_transmit(struct serial *s, uint8_t ch)
{
	if (s->mcr & MCR_LOOP) {
		serial_rx_push_locked(s, &ch, 1);
		return;
	}
	console_write(s->env->console, &ch, 1);
}

static uint8_t serial_read(struct serial *s, unsigned reg, int *kick)
{
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_len) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % RX_RING;
			s->rx_len--;
			*kick = 1;
		}
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		if ((v & 0x0f) == IIR_THRI)
			s->thr_pending = 0; /* reading IIR acknowledges THRE */
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case UART_MSR:
		if (s->mcr & MCR_LOOP)
			return ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
			       ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
			       ((s->mcr & MCR_OUT1) ? MSR_RI : 0) |
			       ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
		return MSR_DCD | MSR_DSR | MSR_CTS;
	default:
		return s->scr;
	}
}

static void serial_write(struct serial *s, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		serial_transmit(s, v);
		s->thr_pending = 1;     /* sent at once: THR is empty again */
		return;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling THRE interrupts while THR is empty raises one. */
		if (!(s->ier & IER_THRI) && (v & IER_THRI))
			s->thr_pending = 1;
		s->ier = v & 0x0f;
		return;
	case UART_IIR:
		if (v & FCR_CLRRX)
			s->rx_len = 0;
		s->fcr = v & FCR_FIFO;
		return;
	case UART_LCR:
		s->lcr = v;
		return;
	case UART_MCR:
		s->mcr = v & 0x1f;
		return;
	case UART_SCR:
		s->scr = v;
		return;
	default:
		return; /* LSR, MSR: read-only */
	}
}

static void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct serial *s = opaque;
	int kick = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < len; i++) {
		unsigned reg = (offset + i) & 7;

		if (is_write)
			serial_write(s, reg, data[i]);
		else
			data[i] = serial_read(s, reg, &kick);
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (kick)
		console_kick(s->env->console);  /* outside our lock */
}

static size_t serial_space(void *opaque)
{
	struct serial *s = opaque;
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->paused ? 0 : RX_RING - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void serial_push(void *opaque, const uint8_t *buf, size_t len)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	serial_rx_push_locked(s, buf, len);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static int serial_create(struct device_env *env, void **state, struct error *err)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return err_set(err, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	s->env = env;
	s->lcr = 0x03;
	env->irq_init(env, &s->irq, COM1_IRQ);
	if (bus_register(env->pio, COM1_PORT, 8, serial_io, s, "serial", err) < 0) {
		free(s);
		return -1;
	}
	console_set_sink(env->console, &(struct console_sink){
		serial_space, serial_push, s });
	*state = s;
	return 0;
}

static void serial_destroy(void *state)
{
	struct serial *s = state;

	console_set_sink(s->env->console, NULL);
	bus_unregister(s->env->pio, COM1_PORT);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- lifecycle ---- */

static void serial_quiesce(void *state)
{
	struct serial *s = state;

	pthread_mutex_lock(&s->lock);
	s->paused = true;       /* no input, so no interrupt, until resume */
	pthread_mutex_unlock(&s->lock);
}

static void serial_resume(void *state)
{
	struct serial *s = state;

	pthread_mutex_lock(&s->lock);
	s->paused = false;
	pthread_mutex_unlock(&s->lock);
	console_kick(s->env->console);
}

static int serial_save(void *state, struct vmstate_writer *w, struct error *err)
{
	struct serial *s = state;

	(void)err;
	vmstate_begin(w, "serial", 1);
	pthread_mutex_lock(&s->lock);
	vmstate_put_u8(w, s->ier);
	vmstate_put_u8(w, s->lcr);
	vmstate_put_u8(w, s->mcr);
	vmstate_put_u8(w, s->scr);
	vmstate_put_u8(w, s->fcr);
	vmstate_put_u8(w, s->dll);
	vmstate_put_u8(w, s->dlm);
	vmstate_put_u8(w, s->thr_pending);
	vmstate_put_u16(w, s->rx_len);
	for (unsigned i = 0; i < s->rx_len; i++)
		vmstate_put_u8(w, s->rx[(s->rx_head + i) % RX_RING]);
	pthread_mutex_unlock(&s->lock);
	vmstate_end(w);
	return 0;
}

static int serial_restore(void *state, const struct vmstate_reader *r,
			  struct error *err)
{
	struct serial *s = state;
	struct vmstate_section sec;
	uint8_t v[8];
	uint16_t n;

	if (vmstate_find(r, "serial", &sec, err) < 0 ||
	    vmstate_check_version(&sec, 1, err) < 0 ||
	    vmstate_get(&sec, v, sizeof(v), err) < 0 ||
	    vmstate_get_u16(&sec, &n, err) < 0)
		return -1;
	if ((v[0] & ~0x0f) || (v[2] & ~0x1f) || (v[4] & ~FCR_FIFO) || v[7] > 1 ||
	    n > RX_RING || sec.len - sec.pos != n)
		return err_input(err, "serial: bad register values or FIFO length");
	pthread_mutex_lock(&s->lock);
	s->ier = v[0];
	s->lcr = v[1];
	s->mcr = v[2];
	s->scr = v[3];
	s->fcr = v[4];
	s->dll = v[5];
	s->dlm = v[6];
	s->thr_pending = v[7];
	s->rx_head = 0;
	s->rx_len = n;
	memcpy(s->rx, sec.data + sec.pos, n);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* No reset hook: a guest reboot rebuilds the VM. */
static const struct device_ops serial_ops = {
	.name = "serial", .create = serial_create, .destroy = serial_destroy,
	.quiesce = serial_quiesce, .resume = serial_resume,
	.save = serial_save, .restore = serial_restore,
};
DEVICE_REGISTER(serial_ops);

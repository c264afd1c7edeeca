/* The ACPI fixed hardware: PM1 event and control blocks, the PM timer, a
 * GPE0 block, and the reset register (RESET_PORT, in the PM block). Writing SLP_TYP=S5 with
 * SLP_EN powers the machine off; writing the reset value resets it. The SCI
 * (IRQ 9) follows PM1 status & enable. The host presses the fixed-feature
 * power button with pm_power_button() (declared in vmm/vm.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include "device.h"
#include "../boot/layout.h"

#define PM1_SCI_EN       0x0001
#define PM1_PWRBTN       0x0100  /* PWRBTN_STS in PM1_STS, PWRBTN_EN in PM1_EN */
#define PM1_SLP_TYP(v)   (((v) >> 10) & 7)
#define PM1_SLP_EN       0x2000
#define PM_TIMER_HZ      3579545ULL

struct pm {
	pthread_mutex_t lock;
	struct device_env *env;
	struct irq_line sci;
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	uint16_t gpe0_sts, gpe0_en;
};

static uint32_t pm_timer(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((ts.tv_sec * PM_TIMER_HZ) +
			  (ts.tv_nsec * PM_TIMER_HZ) / 1000000000ULL);
}

static void pm_update_sci(struct pm *p)
{
	irq_set(&p->sci, (p->pm1_sts & p->pm1_en) || (p->gpe0_sts & p->gpe0_en));
}

/* Little-endian access to a 16-bit register pair within a block. */
static void reg16_access(uint16_t *regs, unsigned nregs, uint64_t off,
			 uint8_t *data, unsigned len, bool is_write, bool w1c_first)
{
	for (unsigned i = 0; i < len; i++) {
		unsigned idx = (off + i) / 2, shift = ((off + i) % 2) * 8;

		if (idx >= nregs) {
			if (!is_write)
				data[i] = 0;
			continue;
		}
		if (!is_write) {
			data[i] = regs[idx] >> shift;
		} else if (idx == 0 && w1c_first) {
			regs[0] &= ~((uint16_t)data[i] << shift);  /* write 1 to clear */
		} else {
			regs[idx] = (regs[idx] & ~(0xff << shift)) | (data[i] << shift);
		}
	}
}

static void pm_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		  bool is_write)
{
	struct pm *p = opaque;
	enum vm_event ev = VM_EVENT_NONE;

	pthread_mutex_lock(&p->lock);
	if (off < 4) {                                  /* PM1a_EVT: STS, EN */
		uint16_t regs[2] = { p->pm1_sts, p->pm1_en };

		reg16_access(regs, 2, off, data, len, is_write, true);
		p->pm1_sts = regs[0];
		p->pm1_en = regs[1];
	} else if (off < 6) {                           /* PM1a_CNT */
		uint16_t v = p->pm1_cnt | PM1_SCI_EN;

		reg16_access(&v, 1, off - 4, data, len, is_write, false);
		if (is_write) {
			if ((v & PM1_SLP_EN) && PM1_SLP_TYP(v) == SLP_TYP_S5)
				ev = VM_EVENT_POWEROFF;
			p->pm1_cnt = (v & ~PM1_SLP_EN) | PM1_SCI_EN;
		}
	} else if (off >= 8 && off < 12) {              /* PM_TMR */
		uint32_t t = pm_timer();

		for (unsigned i = 0; !is_write && i < len; i++)
			data[i] = off - 8 + i < 4 ? t >> ((off - 8 + i) * 8) : 0;
	} else if (off >= 0x10 && off < 0x14) {         /* GPE0: STS, EN */
		uint16_t regs[2] = { p->gpe0_sts, p->gpe0_en };

		reg16_access(regs, 2, off - 0x10, data, len, is_write, true);
		p->gpe0_sts = regs[0];
		p->gpe0_en = regs[1];
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pm_update_sci(p);
	pthread_mutex_unlock(&p->lock);
	if (ev != VM_EVENT_NONE)
		p->env->request(p->env, ev);
}

/* The power button was pressed: latch PWRBTN_STS (the guest clears it by
 * writing 1); the SCI fires if the guest enabled PWRBTN_EN. */
bool pm_power_button(void *state)
{
	struct pm *p = state;
	bool enabled;

	pthread_mutex_lock(&p->lock);
	p->pm1_sts |= PM1_PWRBTN;
	enabled = p->pm1_en & PM1_PWRBTN;
	pm_update_sci(p);
	pthread_mutex_unlock(&p->lock);
	return enabled;
}

static void reset_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		     bool is_write)
{
	struct pm *p = opaque;

	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] & 0x04)     /* RST_CPU: 0x06 from ACPI, 0x0e full reset */
		p->env->request(p->env, VM_EVENT_REBOOT);
}

static int pm_create(struct device_env *env, void **state, struct error *err)
{
	struct pm *p = calloc(1, sizeof(*p));

	if (!p)
		return err_set(err, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	p->env = env;
	p->pm1_cnt = PM1_SCI_EN;
	env->irq_init(env, &p->sci, SCI_IRQ);
	if (bus_register(env->pio, PM_BASE_PORT, 0x14, pm_io, p, "acpi-pm", err) < 0 ||
	    bus_register(env->pio, RESET_PORT, 1, reset_io, p, "reset", err) < 0) {
		bus_unregister(env->pio, PM_BASE_PORT);
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

static void pm_destroy(void *state)
{
	struct pm *p = state;

	bus_unregister(p->env->pio, PM_BASE_PORT);
	bus_unregister(p->env->pio, RESET_PORT);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* ---- save and restore (the PM timer follows the host clock) ---- */

static int pm_save(void *state, struct vmstate_writer *w, struct error *err)
{
	struct pm *p = state;

	(void)err;
	vmstate_begin(w, "acpi-pm", 1);
	pthread_mutex_lock(&p->lock);
	vmstate_put_u16(w, p->pm1_sts);
	vmstate_put_u16(w, p->pm1_en);
	vmstate_put_u16(w, p->pm1_cnt);
	vmstate_put_u16(w, p->gpe0_sts);
	vmstate_put_u16(w, p->gpe0_en);
	pthread_mutex_unlock(&p->lock);
	vmstate_end(w);
	return 0;
}

static int pm_restore(void *state, const struct vmstate_reader *r,
		      struct error *err)
{
	struct pm *p = state;
	struct vmstate_section s;
	uint16_t v[5];

	if (vmstate_find(r, "acpi-pm", &s, err) < 0 ||
	    vmstate_check_version(&s, 1, err) < 0)
		return -1;
	for (unsigned i = 0; i < 5; i++)
		if (vmstate_get_u16(&s, &v[i], err) < 0)
			return -1;
	/* SCI_EN always reads 1, SLP_EN is never kept */
	if (!(v[2] & PM1_SCI_EN) || (v[2] & PM1_SLP_EN) || s.pos != s.len)
		return err_input(err, "acpi-pm: PM1 control 0x%x", v[2]);
	pthread_mutex_lock(&p->lock);
	p->pm1_sts = v[0];
	p->pm1_en = v[1];
	p->pm1_cnt = v[2];
	p->gpe0_sts = v[3];
	p->gpe0_en = v[4];
	pm_update_sci(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* No reset, quiesce or resume: a reboot rebuilds the VM, and the block
 * only changes on guest access (or pm_power_button). */
static const struct device_ops pm_ops = {
	.name = "acpi-pm", .create = pm_create, .destroy = pm_destroy,
	.save = pm_save, .restore = pm_restore,
};
DEVICE_REGISTER(pm_ops);

/* A read-only MC146818 CMOS clock at 0x70/0x71 showing the host's UTC time
 * in BCD, 24-hour mode. Linux reads it once for the wall clock. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include "device.h"

#define RTC_PORT 0x70

struct rtc {
	pthread_mutex_t lock;
	struct device_env *env;
	uint8_t index;
	uint8_t nvram[128];
};

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_reg(struct rtc *r, uint8_t idx)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (idx) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case 0x32: return bcd((tm.tm_year + 1900) / 100);
	case 0x0a: return 0x26;         /* no update in progress, 32768 Hz */
	case 0x0b: return 0x02;         /* 24-hour, BCD, no interrupts */
	case 0x0c: return 0x00;
	case 0x0d: return 0x80;         /* valid RAM and time */
	default:   return r->nvram[idx & 0x7f];
	}
}

static void rtc_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		   bool is_write)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		if (is_write)
			r->index = data[0] & 0x7f;  /* bit 7 is the NMI mask */
		else
			data[0] = 0xff;
	} else if (is_write) {
		if (r->index >= 0x0e)
			r->nvram[r->index] = data[0];
	} else {
		data[0] = rtc_reg(r, r->index);
	}
	for (unsigned i = 1; !is_write && i < len; i++)
		data[i] = 0xff;
	pthread_mutex_unlock(&r->lock);
}

static int rtc_create(struct device_env *env, void **state, struct error *err)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return err_set(err, "out of memory");
	pthread_mutex_init(&r->lock, NULL);
	r->env = env;
	if (bus_register(env->pio, RTC_PORT, 2, rtc_io, r, "rtc", err) < 0) {
		free(r);
		return -1;
	}
	*state = r;
	return 0;
}

static void rtc_destroy(void *state)
{
	struct rtc *r = state;

	bus_unregister(r->env->pio, RTC_PORT);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- save and restore: the index and the CMOS RAM the guest wrote;
 * the time itself follows the host clock ---- */

static int rtc_save(void *state, struct vmstate_writer *w, struct error *err)
{
	struct rtc *r = state;

	(void)err;
	vmstate_begin(w, "rtc", 1);
	pthread_mutex_lock(&r->lock);
	vmstate_put_u8(w, r->index);
	vmstate_put(w, r->nvram, sizeof(r->nvram));
	pthread_mutex_unlock(&r->lock);
	vmstate_end(w);
	return 0;
}

static int rtc_restore(void *state, const struct vmstate_reader *rd,
		       struct error *err)
{
	struct rtc *r = state;
	struct vmstate_section s;
	uint8_t index, nvram[128];

	if (vmstate_find(rd, "rtc", &s, err) < 0 ||
	    vmstate_check_version(&s, 1, err) < 0 ||
	    vmstate_get_u8(&s, &index, err) < 0 ||
	    vmstate_get(&s, nvram, sizeof(nvram), err) < 0)
		return -1;
	if (index > 0x7f || s.pos != s.len)
		return err_input(err, "rtc: index 0x%x", index);
	for (unsigned i = 0; i < 0x0e; i++)
		if (nvram[i])   /* clock registers: never written */
			return err_input(err, "rtc: clock register 0x%x set", i);
	pthread_mutex_lock(&r->lock);
	r->index = index;
	memcpy(r->nvram, nvram, sizeof(nvram));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* No reset, quiesce or resume: nothing runs on its own. */
static const struct device_ops rtc_ops = {
	.name = "rtc", .create = rtc_create, .destroy = rtc_destroy,
	.save = rtc_save, .restore = rtc_restore,
};
DEVICE_REGISTER(rtc_ops);

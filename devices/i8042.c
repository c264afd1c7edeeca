/* Just enough of the i8042 keyboard controller for Linux to find it and to
 * reset the machine through it (command 0xfe). No keyboard is attached. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "device.h"
#include "../boot/layout.h"

#define STS_OBF      0x01  /* output buffer full */
#define STS_SYS      0x04  /* system flag: passed POST */
#define STS_CMD      0x08  /* last write was a command */
#define STS_UNLOCKED 0x10  /* keyboard not inhibited (no keylock) */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_SELFTEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_AUX_TEST 0xa9
#define CMD_RESET    0xfe

struct i8042 {
	pthread_mutex_t lock;
	struct device_env *env;
	uint8_t status, ctr, out, pending_cmd;
};

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->status |= STS_OBF;
}

static enum vm_event i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->status |= STS_CMD;
	switch (cmd) {
	case CMD_READ_CTR:
		i8042_reply(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
		k->pending_cmd = cmd;
		break;
	case CMD_SELFTEST:
		i8042_reply(k, 0x55);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		i8042_reply(k, 0x00);
		break;
	default:
		/* 0xf0-0xff pulse output lines; bit 0 clear resets the CPU. */
		if ((cmd & 0xf0) == 0xf0 && !(cmd & 0x01))
			return VM_EVENT_REBOOT;
		break;
	}
	return VM_EVENT_NONE;
}

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		     bool is_write, uint64_t port)
{
	struct i8042 *k = opaque;
	enum vm_event ev = VM_EVENT_NONE;

	(void)off;
	pthread_mutex_lock(&k->lock);
	if (port == I8042_CMD_PORT) {
		if (is_write)
			ev = i8042_command(k, data[0]);
		else
			data[0] = k->status;
	} else if (is_write) {
		k->status &= ~STS_CMD;
		if (k->pending_cmd == CMD_WRITE_CTR)
			k->ctr = data[0];
		k->pending_cmd = 0;
	} else {
		data[0] = k->out;
		k->status &= ~STS_OBF;
	}
	for (unsigned i = 1; !is_write && i < len; i++)
		data[i] = 0xff;
	pthread_mutex_unlock(&k->lock);
	if (ev != VM_EVENT_NONE)
		k->env->request(k->env, ev);
}

static void i8042_data_io(void *o, uint64_t off, uint8_t *d, unsigned len, bool w)
{
	i8042_io(o, off, d, len, w, I8042_DATA_PORT);
}

static void i8042_cmd_io(void *o, uint64_t off, uint8_t *d, unsigned len, bool w)
{
	i8042_io(o, off, d, len, w, I8042_CMD_PORT);
}

static int i8042_create(struct device_env *env, void **state, struct error *err)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return err_set(err, "out of memory");
	pthread_mutex_init(&k->lock, NULL);
	k->env = env;
	k->status = STS_SYS | STS_UNLOCKED;
	k->ctr = 0x30;  /* both ports disabled, no interrupts */
	if (bus_register(env->pio, I8042_DATA_PORT, 1, i8042_data_io, k, "i8042", err) < 0 ||
	    bus_register(env->pio, I8042_CMD_PORT, 1, i8042_cmd_io, k, "i8042", err) < 0) {
		bus_unregister(env->pio, I8042_DATA_PORT);
		free(k);
		return -1;
	}
	*state = k;
	return 0;
}

static void i8042_destroy(void *state)
{
	struct i8042 *k = state;

	bus_unregister(k->env->pio, I8042_DATA_PORT);
	bus_unregister(k->env->pio, I8042_CMD_PORT);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* ---- save and restore ---- */

static int i8042_save(void *state, struct vmstate_writer *w, struct error *err)
{
	struct i8042 *k = state;

	(void)err;
	vmstate_begin(w, "i8042", 1);
	pthread_mutex_lock(&k->lock);
	vmstate_put_u8(w, k->status);
	vmstate_put_u8(w, k->ctr);
	vmstate_put_u8(w, k->out);
	vmstate_put_u8(w, k->pending_cmd);
	pthread_mutex_unlock(&k->lock);
	vmstate_end(w);
	return 0;
}

static int i8042_restore(void *state, const struct vmstate_reader *r,
			 struct error *err)
{
	struct i8042 *k = state;
	struct vmstate_section s;
	uint8_t v[4];

	if (vmstate_find(r, "i8042", &s, err) < 0 ||
	    vmstate_check_version(&s, 1, err) < 0 ||
	    vmstate_get(&s, v, sizeof(v), err) < 0)
		return -1;
	if ((v[0] & ~(STS_OBF | STS_SYS | STS_CMD | STS_UNLOCKED)) ||
	    (v[3] != 0 && v[3] != CMD_WRITE_CTR) || s.pos != s.len)
		return err_input(err, "i8042: status 0x%x, command 0x%x", v[0], v[3]);
	pthread_mutex_lock(&k->lock);
	k->status = v[0];
	k->ctr = v[1];
	k->out = v[2];
	k->pending_cmd = v[3];
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* No reset, quiesce or resume: no interrupts, nothing runs on its own. */
static const struct device_ops i8042_ops = {
	.name = "i8042", .create = i8042_create, .destroy = i8042_destroy,
	.save = i8042_save, .restore = i8042_restore,
};
DEVICE_REGISTER(i8042_ops);

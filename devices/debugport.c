/* The POST-code port 0x80 as a boot marker: the guest's first write to it
 * is a milestone of the boot timeline (vessel run --timings), with the
 * value written. A guest's /init can mark itself with
 * `printf '\1' | dd of=/dev/port bs=1 seek=128`. Reads see all-ones, as
 * an absent port. Nothing else happens: the device has no state to save. */
#include <stdlib.h>

#include "device.h"
#include "../vmm/timeline.h"

#define DEBUG_PORT 0x80

struct debugport {
	struct device_env *env;
};

static void debugport_io(void *opaque, uint64_t off, uint8_t *data,
			 unsigned len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write) {
		for (unsigned i = 0; i < len; i++)
			data[i] = 0xff;
		return;
	}
	if (!timeline_marked(MS_DEBUG_PORT))
		timeline_mark_detail(MS_DEBUG_PORT, "value 0x%02x", data[0]);
}

static int debugport_create(struct device_env *env, void **state,
			    struct error *err)
{
	struct debugport *d = calloc(1, sizeof(*d));

	if (!d)
		return err_set(err, "out of memory");
	d->env = env;
	if (bus_register(env->pio, DEBUG_PORT, 1, debugport_io, d, "debugport",
			 err) < 0) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static void debugport_destroy(void *state)
{
	struct debugport *d = state;

	bus_unregister(d->env->pio, DEBUG_PORT);
	free(d);
}

static const struct device_ops debugport_ops = {
	.name = "debugport", .create = debugport_create,
	.destroy = debugport_destroy,
};
DEVICE_REGISTER(debugport_ops);

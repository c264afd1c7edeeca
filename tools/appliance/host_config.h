/* host.yaml: what an appliance's host is (issue #14). Read at build time
 * by `vessel image build` (to refuse a bad file with FILE:LINE errors) and
 * at boot by `vessel init` (vessel as PID 1), from /etc/vessel/host.yaml.
 *
 *   hostname: edge-1                # default "vessel"
 *   console: ttyS0                  # kernel console and init's log (default ttyS0)
 *   kernel: /boot/vmlinuz-6.1.0-x   # optional; `image build --kernel` overrides
 *   modules: [e1000]                # optional: extra modules to load at boot
 *   bridges:
 *     - {name: br0, address: 10.0.0.1/24, interfaces: [eth0]}
 *   data: {size: 4G}                # the data partition (absent: none)
 *   watchdog: 60s                   # /dev/watchdog timeout (absent: not used)
 *   rescue_shell: true              # a busybox shell on the console (default)
 */
#ifndef VESSEL_HOST_CONFIG_H
#define VESSEL_HOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/error.h"

struct host_bridge {
	char *name;             /* an interface name (IFNAMSIZ-1 at most) */
	char *address;          /* "A.B.C.D/N", or NULL */
	char **interfaces;      /* host NICs made ports of it */
	size_t ninterfaces;
};

struct host_config {
	char *file;             /* the path it was read from */
	char *hostname;
	char *console;
	char *kernel;           /* resolved against the file's dir, or NULL */
	char **modules;
	size_t nmodules;
	struct host_bridge *bridges;
	size_t nbridges;
	uint64_t data_size;     /* bytes; 0: no data partition */
	double watchdog;        /* seconds; 0: no watchdog */
	bool rescue_shell;
};

/* Parse path into *hc (zeroed first). Errors name the file, the line and
 * what was expected ("host.yaml:4: bridges[0].address: expected
 * A.B.C.D/N, got '10.0.0.1'"); unknown keys are errors. */
int host_config_load(const char *path, struct host_config *hc,
		     struct error *err);
void host_config_free(struct host_config *hc);

#endif

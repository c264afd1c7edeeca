/* host.yaml (issue #14): a key table for the guest files' loader
 * (tools/config.c, tools/schema.c), so parsing, defaults, "FILE:LINE: key:
 * expected X, got Y" errors and unknown-key rejection come from the same
 * machinery as guest files. What one key cannot see (two bridges of one
 * name, an interface in two bridges) is checked after loading. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "host_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../schema.h"

#define MIB (1024LL * 1024)
#define TIB (1024LL * 1024 * MIB)

#define AT(st, f) .off = offsetof(st, f), .size = sizeof(((st *)0)->f)
#define AT2(st, f) .off2 = offsetof(st, f)
#define H(f) AT(struct host_config, f)
#define B(f) AT(struct host_bridge, f)
#define TABLE(id, arr) { id, arr, sizeof(arr) / sizeof((arr)[0]) }

/* ---- validators ---- */

/* NULL if val has 1 to max characters, each a letter, a digit or one of
 * extra (none of edge at either end); else "expected WHAT, got 'val'". */
static const char *charset(const char *val, size_t max, const char *extra,
			   const char *edge, const char *what, char *buf,
			   size_t len)
{
	size_t n = strlen(val);
	bool ok = n >= 1 && n <= max && !strchr(edge, val[0]) &&
		  !strchr(edge, val[n - 1]);

	for (const char *c = val; ok && *c; c++)
		ok = isalnum((unsigned char)*c) || strchr(extra, *c);
	if (ok)
		return NULL;
	snprintf(buf, len, "expected %s, got '%s'", what, val);
	return buf;
}

/* RFC 1123 labels, dotted: letters, digits, '-' and '.'. */
static const char *check_hostname(const char *val, char *buf, size_t len)
{
	return charset(val, 64, "-.", "-.", "a host name (1 to 64 letters, "
		       "digits, '-' and '.')", buf, len);
}

/* A device under /dev: ttyS0, hvc0, tty1, ttyAMA0. */
static const char *check_console(const char *val, char *buf, size_t len)
{
	return charset(val, 31, "", "", "a console device name such as ttyS0 "
		       "(letters and digits)", buf, len);
}

/* MODULE_NAME_LEN is 56 with the NUL; '-' and '_' are the same to modprobe. */
static const char *check_module(const char *val, char *buf, size_t len)
{
	return charset(val, 55, "_-", "", "a module name (letters, digits, "
		       "'_' and '-')", buf, len);
}

static const char *check_ifname(const char *val, char *buf, size_t len)
{
	char why[256];

	if (!schema_check_ifname(val, why, sizeof(why)))
		return NULL;
	snprintf(buf, len, "expected an interface name (1 to 15 characters, "
		 "no '/', ':' or spaces), got '%s'", val);
	return buf;
}

static const char *check_address(const char *val, char *buf, size_t len)
{
	char why[256];

	if (!schema_check_cidr(val, why, sizeof(why)))
		return NULL;
	snprintf(buf, len, "expected A.B.C.D/N, got '%s'", val);
	return buf;
}

/* ---- the tables ---- */

static const struct key bridge_keys[] = {
	{ .name = "name", .type = KT_STRING, .flags = KF_REQUIRED, B(name),
	  .check = check_ifname,
	  .help = "The bridge's interface name, created at boot." },
	{ .name = "address", .type = KT_STRING, B(address),
	  .check = check_address, .def_doc = "none",
	  .help = "IPv4 address of the bridge with prefix length." },
	{ .name = "interfaces", .type = KT_STR_LIST, B(interfaces),
	  AT2(struct host_bridge, ninterfaces), .check = check_ifname,
	  .def_doc = "[]", .help = "Host NICs made ports of the bridge." },
};

static const struct key data_keys[] = {
	{ .name = "size", .type = KT_SIZE, .flags = KF_REQUIRED, H(data_size),
	  .imin = 16 * MIB, .imax = 16 * TIB,
	  .help = "Size of the data partition (ext4, label vessel-data)." },
};

static const struct key_table bridge_table = TABLE("bridges", bridge_keys);
static const struct key_table data_table = TABLE("data", data_keys);

static const struct key host_keys[] = {
	{ .name = "hostname", .type = KT_STRING, H(hostname), .def = "vessel",
	  .check = check_hostname, .help = "The appliance's host name." },
	{ .name = "console", .type = KT_STRING, H(console), .def = "ttyS0",
	  .check = check_console,
	  .help = "Kernel console, init's log and the rescue shell." },
	{ .name = "kernel", .type = KT_PATH, .flags = KF_ABSENT_OK, H(kernel),
	  .def_doc = "none",
	  .help = "Kernel for `vessel image build`, relative to host.yaml." },
	{ .name = "modules", .type = KT_STR_LIST, H(modules), AT2(struct
	  host_config, nmodules), .check = check_module, .def_doc = "[]",
	  .help = "Extra kernel modules loaded at boot." },
	{ .name = "bridges", .type = KT_MAP_LIST, H(bridges),
	  AT2(struct host_config, nbridges), .sub = &bridge_table,
	  .item_size = sizeof(struct host_bridge), .def_doc = "[]",
	  .help = "Bridges created at boot, for guests' nets." },
	{ .name = "data", .type = KT_MAP, .off = 0, .sub = &data_table,
	  .def_doc = "none", .help = "The data partition: {size: 4G}." },
	{ .name = "watchdog", .type = KT_NUMBER, .flags = KF_SECONDS,
	  H(watchdog), .dmin = 1, .dmax = 3600, .def_doc = "none",
	  .help = "/dev/watchdog timeout (seconds; 60s, 2m)." },
	{ .name = "rescue_shell", .type = KT_BOOL, H(rescue_shell),
	  .def = "true", .help = "A shell on the console, respawned." },
};

static const struct key_table host_table = TABLE("host", host_keys);

/* ---- checks across keys ---- */

static int check_bridges(const struct host_config *hc, struct error *err)
{
	for (size_t i = 0; i < hc->nbridges; i++) {
		const struct host_bridge *b = &hc->bridges[i];

		for (size_t j = 0; j < i; j++)
			if (!strcmp(hc->bridges[j].name, b->name))
				return err_input(err, "%s: bridges[%zu].name: "
						 "'%s' is bridges[%zu] already",
						 hc->file, i, b->name, j);
		for (size_t k = 0; k < b->ninterfaces; k++)
			for (size_t j = 0; j <= i; j++)
				for (size_t l = 0; l < hc->bridges[j].ninterfaces &&
				     (j < i || l < k); l++)
					if (!strcmp(hc->bridges[j].interfaces[l],
						    b->interfaces[k]))
						return err_input(err, "%s: bridges[%zu]."
							"interfaces[%zu]: '%s' is a port "
							"of bridges[%zu] already",
							hc->file, i, k,
							b->interfaces[k], j);
	}
	return 0;
}

int host_config_load(const char *path, struct host_config *hc,
		     struct error *err)
{
	memset(hc, 0, sizeof(*hc));
	err_clear(err);
	hc->file = strdup(path);
	if (!hc->file)
		return err_set(err, "%s: out of memory", path);
	if (config_load_keys(path, "host file", &host_table, hc, err) < 0 ||
	    check_bridges(hc, err) < 0) {
		host_config_free(hc);
		return -1;
	}
	return 0;
}

void host_config_free(struct host_config *hc)
{
	if (!hc)
		return;
	config_free_keys(&host_table, hc);
	free(hc->file);
	memset(hc, 0, sizeof(*hc));
}

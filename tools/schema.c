/* The key tables of a guest file, and the scalar codecs they rely on.
 * To add a key: add a row to the right table below; parsing, defaults,
 * validation, config_free() and config_help() all follow from the row. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "schema.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define KIB 1024LL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

/* Linux PID_MAX_LIMIT: no pids.max above it makes sense. */
#define PIDS_MAX 4194304

/* Where a field lands: offset and width inside struct st. */
#define AT(st, f) .off = offsetof(st, f), .size = sizeof(((st *)0)->f)
#define AT2(st, f) .off2 = offsetof(st, f)
#define G(f) AT(struct guest_config, f)
#define G2(f) AT2(struct guest_config, f)
#define TABLE(id, arr) { id, arr, sizeof(arr) / sizeof((arr)[0]) }

/* ---- validators (key.check) ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *check_name(const char *val, char *buf, size_t len)
{
	size_t n = strlen(val);

	if (n == 0 || n > 64)
		return "must be 1 to 64 characters long";
	if (val[0] == '.' || val[0] == '-')
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)val[i]) && !strchr("._-", val[i]))
			goto bad;
	return NULL;
bad:
	snprintf(buf, len, "invalid name '%s' (use letters, digits, '.', '_' "
		 "and '-', not starting with '.' or '-')", val);
	return buf;
}

static const char *check_hostname(const char *val, char *buf, size_t len)
{
	(void)buf;
	(void)len;
	if (val[0] == '\0' || strlen(val) > 64)
		return "must be 1 to 64 characters long";
	return NULL;
}

static const char *check_file(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(buf, len, "'%s' is not a regular file", path);
		return buf;
	}
	return NULL;
}

/* A disk: a regular file (raw image) or a block device. */
static const char *check_disk(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(buf, len, "'%s' is neither a file nor a block device", path);
		return buf;
	}
	return NULL;
}

static const char *check_mac(const char *val, char *buf, size_t len)
{
	unsigned b[6];
	char end;

	if (sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6 || strlen(val) != 17) {
		snprintf(buf, len, "bad MAC address '%s' (want xx:xx:xx:xx:xx:xx)", val);
		return buf;
	}
	if (b[0] & 1) {
		snprintf(buf, len, "'%s' is a multicast address", val);
		return buf;
	}
	return NULL;
}

static const char *check_rootfs(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return NULL;
	if (ends_with(path, ".tar") || ends_with(path, ".tar.gz") ||
	    ends_with(path, ".tgz"))
		return check_file(path, buf, len);
	snprintf(buf, len, "'%s' is neither a directory nor a .tar or .tar.gz "
		 "archive", path);
	return buf;
}

static const char *check_absolute(const char *val, char *buf, size_t len)
{
	if (val[0] == '/')
		return NULL;
	snprintf(buf, len, "must be an absolute path, got '%s'", val);
	return buf;
}

static const char *check_ifname(const char *val, char *buf, size_t len)
{
	size_t n = strlen(val);

	/* IFNAMSIZ is 16 including the NUL. */
	if (n == 0 || n > 15 || strchr(val, '/') || strpbrk(val, " \t\n:")) {
		snprintf(buf, len, "bad interface name '%s' (1 to 15 "
			 "characters, no '/', ':' or spaces)", val);
		return buf;
	}
	return NULL;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static const char *check_ipv4(const char *val, char *buf, size_t len)
{
	if (is_ipv4(val))
		return NULL;
	snprintf(buf, len, "bad IPv4 address '%s'", val);
	return buf;
}

static const char *check_cidr(const char *val, char *buf, size_t len)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(val, '/');
	int64_t prefix;

	if (!slash || (size_t)(slash - val) >= sizeof(addr))
		goto bad;
	memcpy(addr, val, slash - val);
	addr[slash - val] = '\0';
	if (!is_ipv4(addr) || schema_parse_int(slash + 1, &prefix) < 0 ||
	    !isdigit((unsigned char)slash[1]) || prefix < 0 || prefix > 32)
		goto bad;
	return NULL;
bad:
	snprintf(buf, len, "bad CIDR address '%s' (use an IPv4 address and a "
		 "prefix length, e.g. 10.0.0.2/24)", val);
	return buf;
}

/* ---- computed defaults (key.def_fn) ---- */

/* The config file's name without its directory and .yaml/.yml. */
static int default_name(const struct guest_config *cfg, char *buf, size_t len)
{
	const char *base = strrchr(cfg->path, '/');
	size_t n;

	base = base ? base + 1 : cfg->path;
	n = strlen(base);
	if (ends_with(base, ".yaml"))
		n -= 5;
	else if (ends_with(base, ".yml"))
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, base);
	return 0;
}

static int default_hostname(const struct guest_config *cfg, char *buf,
			    size_t len)
{
	snprintf(buf, len, "%s", cfg->name ? cfg->name : "");
	return 0;
}

/* ---- the tables ---- */

static const struct choice kind_choices[] = {
	{ "vm", GUEST_VM },
	{ "container", GUEST_CONTAINER },
	{ NULL, 0 },
};

static const struct choice reboot_choices[] = {
	{ "restart", ON_REBOOT_RESTART },
	{ "exit", ON_REBOOT_EXIT },
	{ NULL, 0 },
};

static const struct choice triple_fault_choices[] = {
	{ "crash", ON_TRIPLE_FAULT_CRASH },
	{ "reboot", ON_TRIPLE_FAULT_REBOOT },
	{ NULL, 0 },
};

static const struct choice restart_choices[] = {
	{ "no", RESTART_NO },
	{ "on-failure", RESTART_ON_FAILURE },
	{ "always", RESTART_ALWAYS },
	{ NULL, 0 },
};

static const struct key common_keys[] = {
	{ .name = "name", .type = KT_STRING, G(name),
	  .def_fn = default_name, .check = check_name,
	  .def_doc = "the file name without .yaml/.yml",
	  .help = "Name of the guest (letters, digits, '.', '_', '-')." },
	{ .name = "kind", .type = KT_ENUM, .flags = KF_KIND, G(kind),
	  .choices = kind_choices, .def = "vm",
	  .help = "Run a virtual machine or a container; may appear anywhere "
		  "in the file." },
	{ .name = "autostart", .type = KT_BOOL, G(autostart), .def = "false",
	  .help = "Start this guest with `vessel up`." },
	{ .name = "order", .type = KT_INT, G(order), .imin = INT_MIN,
	  .imax = INT_MAX, .def = "0",
	  .help = "Start order for `vessel up`, lowest first." },
	{ .name = "up_delay", .type = KT_NUMBER, G(up_delay), .dmin = 0,
	  .dmax = INFINITY, .def = "0",
	  .help = "Seconds `vessel up` waits after starting this guest." },
	{ .name = "restart", .type = KT_ENUM, G(restart),
	  .choices = restart_choices, .def = "no",
	  .help = "When the supervisor restarts a guest that ended on its own: "
		  "never, after a failure (a non-zero exit, a signal, a VM "
		  "crash), or always. Never after `vessel stop` or `down`." },
	{ .name = "restart_max", .type = KT_INT, G(restart_max), .imin = 0,
	  .imax = 1000000, .def = "5",
	  .help = "Give up after this many restarts in a row of runs shorter "
		  "than restart_window (0: never give up)." },
	{ .name = "restart_window", .type = KT_NUMBER, .flags = KF_SECONDS,
	  G(restart_window), .dmin = 0, .dmax = 86400 * 365, .def = "60",
	  .help = "A run at least this long (seconds; 60s, 2m, 1h) resets the "
		  "give-up count and the restart backoff." },
};

static const struct choice cache_choices[] = {
	{ "none", DISK_CACHE_NONE },
	{ "writeback", DISK_CACHE_WRITEBACK },
	{ NULL, 0 },
};

static const struct key disk_keys[] = {
	{ .name = "path", .type = KT_PATH, .flags = KF_REQUIRED,
	  AT(struct disk_spec, path), .check = check_disk,
	  .help = "Raw image file or block device, relative to this file." },
	{ .name = "readonly", .type = KT_BOOL, AT(struct disk_spec, readonly),
	  .def = "false", .help = "Read-only disk: writes fail in the guest." },
	{ .name = "cache", .type = KT_ENUM, AT(struct disk_spec, cache),
	  .choices = cache_choices, .def = "none",
	  .help = "none: O_DIRECT with libaio; writeback: the host page cache." },
	{ .name = "slot", .type = KT_INT, AT(struct disk_spec, slot), .imin = 1,
	  .imax = VM_PCI_SLOTS - 1, .unique = "PCI slot",
	  .def_doc = "the next free one (disks, nets, then rng, in file order)",
	  .help = "PCI slot: the guest sees the disk at 00:SS.0 (vda, vdb, "
		  "... follow slot order). No two disks or NICs may share one." },
};

static const struct choice vhost_choices[] = {
	{ "auto", NIC_VHOST_AUTO },
	{ "true", NIC_VHOST_ON },
	{ "false", NIC_VHOST_OFF },
	{ NULL, 0 },
};

_Static_assert(sizeof(((struct nic_spec *)0)->vhost_at) == SCHEMA_WHERE_LEN,
	       "nets[].vhost_at must hold a KF_WHERE");

static const struct key vm_net_keys[] = {
	{ .name = "tap", .type = KT_STRING, .flags = KF_REQUIRED,
	  AT(struct nic_spec, tap), .check = check_ifname,
	  .help = "Tap device; created if absent, removed on exit if vessel "
		  "created it." },
	{ .name = "mac", .type = KT_STRING, AT(struct nic_spec, mac),
	  .check = check_mac, .def_doc = "derived from the name and index",
	  .help = "The guest's MAC address." },
	{ .name = "bridge", .type = KT_STRING, AT(struct nic_spec, bridge),
	  .check = check_ifname, .def_doc = "none",
	  .help = "Existing host bridge to attach the tap to." },
	{ .name = "slot", .type = KT_INT, AT(struct nic_spec, slot), .imin = 1,
	  .imax = VM_PCI_SLOTS - 1, .unique = "PCI slot",
	  .def_doc = "the next free one (disks, nets, then rng, in file order)",
	  .help = "PCI slot: the guest sees the NIC at 00:SS.0 (eth0, eth1, "
		  "... follow slot order). No two disks or NICs may share one." },
	{ .name = "vhost", .type = KT_ENUM, .flags = KF_WHERE,
	  AT(struct nic_spec, vhost), AT2(struct nic_spec, vhost_at),
	  .choices = vhost_choices, .def = "auto",
	  .help = "The kernel's vhost-net moves the packets (/dev/vhost-net). "
		  "auto: when it opens and sets up, else the user-space path "
		  "(saying why once); true: it must work, or the NIC fails to "
		  "start; false: never." },
};

static const struct key_table disk_table = TABLE("disks", disk_keys);
static const struct key_table vm_net_table = TABLE("nets", vm_net_keys);

static const struct key vm_keys[] = {
	{ .name = "vcpus", .type = KT_INT, G(vm.vcpus), .imin = 1,
	  .imax = 255, .def = "1", .help = "Number of virtual CPUs." },
	{ .name = "memory", .type = KT_SIZE, G(vm.memory), .imin = 32 * MIB,
	  .imax = TIB, .def = "256M",
	  .help = "Guest RAM: bytes, or a number with a K, M or G suffix." },
	{ .name = "kernel", .type = KT_PATH, .flags = KF_REQUIRED,
	  G(vm.kernel), .check = check_file,
	  .help = "Kernel image (bzImage or ELF vmlinux), relative to this "
		  "file." },
	{ .name = "initrd", .type = KT_PATH, G(vm.initrd), .check = check_file,
	  .def_doc = "none",
	  .help = "Initial ramdisk, relative to this file." },
	{ .name = "cmdline", .type = KT_STRING, G(vm.cmdline),
	  .def = "console=ttyS0", .help = "Kernel command line." },
	{ .name = "cmdline_auto", .type = KT_BOOL, G(vm.cmdline_auto),
	  .def = "true",
	  .help = "Add the kernel parameters vessel's board calls for to "
		  "cmdline, each unless cmdline sets it: noreplace-smp with "
		  "1 vCPU (Linux then keeps its SMP lock prefixes instead of "
		  "rewriting thousands of them as it boots)." },
	{ .name = "on_reboot", .type = KT_ENUM, G(vm.on_reboot),
	  .choices = reboot_choices, .def = "restart",
	  .help = "What a guest reboot does: restart the VM or exit vessel." },
	{ .name = "on_triple_fault", .type = KT_ENUM, G(vm.on_triple_fault),
	  .choices = triple_fault_choices, .def = "crash",
	  .help = "On a triple fault: report a crash, or reboot the VM." },
	{ .name = "disks", .type = KT_MAP_LIST, G(vm.disks), G2(vm.ndisks),
	  .sub = &disk_table, .item_size = sizeof(struct disk_spec),
	  .def_doc = "[]", .help = "virtio-blk disks: /dev/vda, vdb, ... in order "
					     "(of their PCI slots)." },
	{ .name = "nets", .type = KT_MAP_LIST, G(vm.nets), G2(vm.nnets),
	  .sub = &vm_net_table, .item_size = sizeof(struct nic_spec),
	  .def_doc = "[]", .help = "virtio-net NICs on taps: eth0, eth1, ... in order "
					     "(of their PCI slots)." },
	{ .name = "rng", .type = KT_BOOL, G(vm.rng), .def = "true",
	  .help = "A virtio-rng device fed by getrandom(2), in the first PCI "
		  "slot after the disks and NICs." },
	{ .name = "kernel_cache", .type = KT_BOOL, G(vm.kernel_cache),
	  .def = "true",
	  .help = "Boot a compressed bzImage from its ELF vmlinux, decompressed "
		  "once on the host and kept in the kernel cache "
		  "($VESSEL_KERNEL_CACHE, /var/cache/vessel/kernels for root, "
		  "else $XDG_CACHE_HOME or ~/.cache, under vessel/kernels)." },
};

static const struct key mount_keys[] = {
	{ .name = "source", .type = KT_PATH, .flags = KF_REQUIRED,
	  AT(struct ct_mount, source),
	  .help = "Host file or directory, relative to this file." },
	{ .name = "target", .type = KT_STRING, .flags = KF_REQUIRED,
	  AT(struct ct_mount, target), .check = check_absolute,
	  .help = "Absolute path inside the container." },
	{ .name = "readonly", .type = KT_BOOL, AT(struct ct_mount, readonly),
	  .def = "false", .help = "Mount read-only." },
};

static const struct key ct_net_keys[] = {
	{ .name = "bridge", .type = KT_STRING, .flags = KF_REQUIRED,
	  AT(struct ct_net, bridge), .check = check_ifname,
	  .help = "Host bridge to attach a veth pair to." },
	{ .name = "address", .type = KT_STRING, AT(struct ct_net, address),
	  .check = check_cidr, .def_doc = "none",
	  .help = "IPv4 address with prefix length, e.g. 10.0.0.2/24." },
	{ .name = "gateway", .type = KT_STRING, AT(struct ct_net, gateway),
	  .check = check_ipv4, .def_doc = "none",
	  .help = "IPv4 default gateway." },
};

static const struct key_table mount_table = TABLE("mounts", mount_keys);
static const struct key_table ct_net_table = TABLE("nets", ct_net_keys);

static const struct key ct_keys[] = {
	{ .name = "rootfs", .type = KT_PATH, .flags = KF_REQUIRED,
	  G(ct.rootfs), .check = check_rootfs,
	  .help = "Root filesystem: a directory or a .tar/.tar.gz archive, "
		  "relative to this file." },
	{ .name = "readonly", .type = KT_BOOL, G(ct.readonly), .def = "false",
	  .help = "Mount the root filesystem read-only." },
	{ .name = "command", .type = KT_STR_LIST, .flags = KF_NONEMPTY,
	  G(ct.command), G2(ct.ncommand), .def = "/sbin/init",
	  .def_doc = "[/sbin/init]",
	  .help = "Program and arguments to run; a single string is a "
		  "one-item list (no shell splitting)." },
	{ .name = "env", .type = KT_STR_MAP, G(ct.env), G2(ct.nenv),
	  .def_doc = "{}", .help = "Environment variables, NAME: value." },
	{ .name = "hostname", .type = KT_STRING, G(ct.hostname),
	  .def_fn = default_hostname, .check = check_hostname,
	  .def_doc = "the guest name",
	  .help = "Host name in the UTS namespace." },
	{ .name = "user", .type = KT_USER, G(ct.uid), G2(ct.gid), .def = "0:0",
	  .help = "Numeric uid:gid to run the command as." },
	{ .name = "memory", .type = KT_SIZE, G(ct.memory), .imin = 0,
	  .imax = INT64_MAX, .def = "0", .def_doc = "0 (unlimited)",
	  .help = "Memory limit: bytes, or a number with a K, M or G suffix." },
	{ .name = "cpus", .type = KT_NUMBER, .flags = KF_MIN_EXCL, G(ct.cpus),
	  .dmin = 0, .dmax = INFINITY, .def = "0", .def_doc = "0 (unlimited)",
	  .help = "CPU limit in CPUs, e.g. 0.5." },
	{ .name = "pids", .type = KT_INT, G(ct.pids), .imin = 1,
	  .imax = PIDS_MAX, .def = "0", .def_doc = "0 (unlimited)",
	  .help = "Maximum number of processes." },
	{ .name = "mounts", .type = KT_MAP_LIST, G(ct.mounts), G2(ct.nmounts),
	  .sub = &mount_table, .item_size = sizeof(struct ct_mount),
	  .def_doc = "[]", .help = "Bind mounts from the host." },
	{ .name = "userns", .type = KT_BOOL, G(ct.userns), .def = "false",
	  .help = "Run in a new user namespace." },
	{ .name = "nets", .type = KT_MAP_LIST, G(ct.nets), G2(ct.nnets),
	  .sub = &ct_net_table, .item_size = sizeof(struct ct_net),
	  .def_doc = "[] (no network)",
	  .help = "Network interfaces, each a veth on a host bridge." },
};

static const struct key_table vm_table = TABLE("vm", vm_keys);
static const struct key_table ct_table = TABLE("container", ct_keys);

const struct key_table schema_common = TABLE("common", common_keys);

const struct kind_schema schema_kinds[] = {
	{ "vm", GUEST_VM, &vm_table },
	{ "container", GUEST_CONTAINER, &ct_table },
};

const size_t schema_nkinds = sizeof(schema_kinds) / sizeof(schema_kinds[0]);

const struct kind_schema *schema_kind(enum guest_kind kind)
{
	for (size_t i = 0; i < schema_nkinds; i++)
		if (schema_kinds[i].kind == kind)
			return &schema_kinds[i];
	return NULL;
}

const struct key *schema_find(const struct key_table *t, const char *name)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i].name, name) == 0)
			return &t->keys[i];
	return NULL;
}

/* ---- scalar codecs ---- */

int schema_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int schema_parse_number(const char *s, double *out)
{
	char *end;
	double v;

	/* Plain decimal notation only: no hex floats, inf or nan. */
	if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int schema_parse_seconds(const char *s, double *out)
{
	static const struct { const char *suffix; double scale; } units[] = {
		{ "ms", 0.001 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	char num[64];
	size_t n = strlen(s), k;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		k = strlen(units[i].suffix);
		if (n > k && n - k < sizeof(num) &&
		    strcmp(s + n - k, units[i].suffix) == 0) {
			memcpy(num, s, n - k);
			num[n - k] = '\0';
			if (schema_parse_number(num, out) < 0)
				return -1;
			*out *= units[i].scale;
			return isfinite(*out) ? 0 : -1;
		}
	}
	return schema_parse_number(s, out);
}

static int suffix_shift(char c)
{
	switch (toupper((unsigned char)c)) {
	case 'K': return 10;
	case 'M': return 20;
	case 'G': return 30;
	case 'T': return 40;
	}
	return -1;
}

int schema_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned digit = *s - '0';

		if (v > (UINT64_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (*s) {
		shift = suffix_shift(*s++);
		if (shift < 0 || *s)
			return -1;
	}
	if (v > UINT64_MAX >> shift)
		return -1;
	*out = v << shift;
	return 0;
}

int schema_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

/* One id of "uid:gid": digits only, below (uint32_t)-1 which means "none". */
static int parse_id(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v >= UINT32_MAX)
		return -1;
	*out = v;
	return 0;
}

int schema_parse_user(const char *s, uid_t *uid, gid_t *gid)
{
	const char *colon = strchr(s, ':');
	uint32_t u, g;

	if (!colon || parse_id(s, colon - s, &u) < 0 ||
	    parse_id(colon + 1, strlen(colon + 1), &g) < 0)
		return -1;
	*uid = u;
	*gid = g;
	return 0;
}

void schema_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "TGMK";
	int shift = 40;

	for (const char *u = units; *u; u++, shift -= 10) {
		uint64_t unit = 1ULL << shift;

		if (bytes && bytes % unit == 0) {
			snprintf(buf, len, "%llu%c",
				 (unsigned long long)(bytes / unit), *u);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

/* ---- descriptions for messages and help ---- */

const char *schema_type_name(const struct key *k)
{
	switch (k->type) {
	case KT_STRING: return "string";
	case KT_PATH: return "path";
	case KT_INT: return "integer";
	case KT_NUMBER: return "number";
	case KT_SIZE: return "size";
	case KT_BOOL: return "bool";
	case KT_ENUM: return "choice";
	case KT_USER: return "uid:gid";
	case KT_STR_LIST: return "list of strings";
	case KT_STR_MAP: return "map of strings";
	case KT_MAP_LIST: return "list of maps";
	case KT_MAP: return "map";
	}
	return "?";
}

static void choices_text(const struct key *k, const char *sep,
			 const char *last_sep, char *buf, size_t len)
{
	size_t n = 0, used = 0;

	while (k->choices[n].name)
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		const char *s = i == 0 ? "" : i == n - 1 ? last_sep : sep;
		int w = snprintf(buf + used, len - used, "%s%s", s,
				 k->choices[i].name);

		if (w < 0)
			break;
		used += w;
	}
}

static void number_range(const struct key *k, char *buf, size_t len)
{
	const char *op = k->flags & KF_MIN_EXCL ? ">" : ">=";

	if (isinf(k->dmax))
		snprintf(buf, len, "%s %g", op, k->dmin);
	else
		snprintf(buf, len, "%g to %g", k->dmin, k->dmax);
}

static void size_range(const struct key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	schema_format_size(k->imin, lo, sizeof(lo));
	schema_format_size(k->imax, hi, sizeof(hi));
	if (k->imax != INT64_MAX)
		snprintf(buf, len, "%s to %s", lo, hi);
	else if (k->imin)
		snprintf(buf, len, ">= %s", lo);
	else
		buf[0] = '\0';
}

void schema_range(const struct key *k, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (k->type) {
	case KT_INT:
		/* A range as wide as an int is no restriction worth showing. */
		if (k->imin > INT_MIN || k->imax < INT_MAX)
			snprintf(buf, len, "%lld to %lld", (long long)k->imin,
				 (long long)k->imax);
		break;
	case KT_NUMBER:
		number_range(k, buf, len);
		break;
	case KT_SIZE:
		size_range(k, buf, len);
		break;
	case KT_ENUM:
		choices_text(k, " | ", " | ", buf, len);
		break;
	default:
		break;
	}
}

void schema_describe(const struct key *k, char *buf, size_t len)
{
	char range[128];

	schema_range(k, range, sizeof(range));
	switch (k->type) {
	case KT_INT:
		snprintf(buf, len, "an integer%s%s", *range ? " from " : "",
			 range);
		break;
	case KT_NUMBER:
		snprintf(buf, len, "a number %s%s", range, k->flags & KF_SECONDS ?
			 " (seconds, or with an ms, s, m or h suffix)" : "");
		break;
	case KT_SIZE:
		snprintf(buf, len, "a size%s%s",
			 *range && isdigit((unsigned char)*range) ? " from " :
			 *range ? " " : "", range);
		break;
	case KT_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case KT_ENUM:
		choices_text(k, ", ", " or ", buf, len);
		break;
	case KT_USER:
		snprintf(buf, len, "uid:gid (numbers)");
		break;
	case KT_PATH:
		snprintf(buf, len, "a path");
		break;
	default:
		snprintf(buf, len, "a %s", schema_type_name(k));
		break;
	}
}

const char *schema_check_name(const char *val, char *buf, size_t len)
{
	return check_name(val, buf, len);
}

const char *schema_check_ifname(const char *val, char *buf, size_t len)
{
	return check_ifname(val, buf, len);
}

const char *schema_check_cidr(const char *val, char *buf, size_t len)
{
	return check_cidr(val, buf, len);
}

/* `vessel init`: vessel as PID 1 of the appliance (issue #14; README.md,
 * "The appliance"). init.c runs the sequence and the event loop; each
 * step lives in a file of its own, declared here. Every step logs its own
 * "vessel-init: ..." lines and reports failures through err. */
#ifndef VESSEL_APPLIANCE_INIT_H
#define VESSEL_APPLIANCE_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/error.h"
#include "host_config.h"

#define INIT_HOST_YAML   "/etc/vessel/host.yaml"
#define INIT_GUESTS_DIR  "/etc/vessel/guests"
#define INIT_LOAD_ORDER  "/lib/modules/load-order"
#define INIT_DATA_DIR    "/data"
#define INIT_DATA_LABEL  "vessel-data"
#define INIT_E2FSCK      "/sbin/e2fsck"

/* "vessel-init: ..." on stderr (the console). */
void init_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int init_main(int argc, char **argv);

/* init_mounts.c: make / a bind mount of the initramfs (so that
 * containers can pivot_root); then /proc, /sys, /dev, /dev/pts, /run, /tmp, /sys/fs/cgroup. */
int init_root_bind(struct error *err);
int init_mount_all(struct error *err);
/* Unmount path (lazily if busy after a few tries). */
int init_umount(const char *path, struct error *err);

/* init_modules.c */
struct module_list {
	char **paths;		/* absolute, in load order */
	size_t n;
};
/* Parse a load-order file's text: one path per line, relative to modroot
 * (/lib/modules/KVER) unless absolute; blank lines and '#' comments are
 * skipped; ".." components and over-long lines are refused. */
int modules_parse(const char *text, size_t len, const char *modroot,
		  struct module_list *ml, struct error *err);
void modules_free(struct module_list *ml);
/* finit_module() each; returns how many failed, each logged. loaded:
 * how many are now in the kernel (EEXIST counts); absent: how many found
 * no hardware (ENODEV, EOPNOTSUPP: kvm_intel on an AMD machine). */
size_t modules_load(const struct module_list *ml, size_t *loaded,
		    size_t *absent);
/* Read and load INIT_LOAD_ORDER, then check host.yaml's modules: are in. */
int init_modules(const struct host_config *hc, struct error *err);

/* init_net.c: lo up; each bridge created, addressed, ports attached, up. */
int init_net(const struct host_config *hc, struct error *err);

/* init_data.c */
struct ext4_info {
	char label[17];
	bool clean;		/* s_state valid, no errors, no recovery due */
};
/* Read the ext4 superblock of the device or image open at fd: 1 if it is
 * ext4 (info filled), 0 if not, -1 on a read error. */
int ext4_probe(int fd, struct ext4_info *info, struct error *err);
/* The /sys/class/block entry (under sysfs) whose ext4 label is label:
 * its name copied to dev (e.g. "vda", "sda2"); 1 if found, 0 if not. */
int find_label(const char *sysfs, const char *devdir, const char *label,
	       char *dev, size_t len, struct ext4_info *info,
	       struct error *err);
/* Find the data filesystem (waiting up to wait_s for it to appear),
 * log clean/not clean, e2fsck -p, mount it at /data. 0 if mounted,
 * 1 if there is none, -1 on an error. */
int init_data(double wait_s, struct error *err);

/* watchdog.c: /dev/watchdog with a timeout, fed, closed with the magic
 * 'V' on a clean shutdown. */
struct watchdog {
	int fd;			/* -1: none */
	int timeout;		/* seconds the device runs with */
};
int watchdog_open(struct watchdog *w, double timeout, struct error *err);
void watchdog_feed(struct watchdog *w);
void watchdog_close(struct watchdog *w);	/* the magic close */

/* power.c: the input devices that have KEY_POWER (the ACPI power
 * button), opened non-blocking; is one event a power-button press? */
size_t power_open(const char *dir, int *fds, size_t max);
bool power_pressed(int fd);

/* rescue_shell.c: /bin/sh on /dev/TTY as its controlling terminal. */
int rescue_shell_spawn(const char *tty, struct error *err);

#endif

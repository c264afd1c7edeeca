#include "masks.h"
#include "mounts.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const masked[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
	"/proc/sysrq-trigger", "/proc/timer_list", "/proc/timer_stats",
	"/sys/firmware", "/sys/devices/virtual/powercap",
};

static const char *const readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
};

static int mask(const char *path, struct error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(err, "masking %s", path);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID |
			  MS_NODEV | MS_NOEXEC, "size=0,mode=555") < 0)
			return err_sys(err, "masking %s with a tmpfs", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		return err_sys(err, "masking %s with /dev/null", path);
	}
	return 0;
}

static int make_ro(const char *path, struct error *err)
{
	if (access(path, F_OK) < 0)
		return 0;
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys(err, "bind-mounting %s", path);
	return remount_ro(path, err);
}

int masks_apply(struct error *err)
{
	size_t i;

	for (i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++)
		if (make_ro(readonly[i], err) < 0)
			return -1;
	for (i = 0; i < sizeof(masked) / sizeof(masked[0]); i++)
		if (mask(masked[i], err) < 0)
			return -1;
	return 0;
}

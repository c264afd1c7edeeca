/* The data partition: the block device whose ext4 label is vessel-data
 * (a whole disk or a partition), checked and mounted at /data. */
#include "init.h"
#include "../base/le.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The ext2/3/4 superblock: 1024 bytes at offset 1024. */
#define SB_OFFSET        1024
#define SB_SIZE          1024
#define SB_MAGIC_OFF     0x38
#define SB_STATE_OFF     0x3a
#define SB_INCOMPAT_OFF  0x60
#define SB_LABEL_OFF     0x78
#define EXT4_MAGIC       0xef53
#define STATE_VALID      0x0001	/* unmounted cleanly */
#define STATE_ERROR      0x0002	/* errors detected */
#define INCOMPAT_RECOVER 0x0004	/* the journal needs replaying */

int ext4_probe(int fd, struct ext4_info *info, struct error *err)
{
	unsigned char sb[SB_SIZE];
	ssize_t n;
	unsigned state;

	n = pread(fd, sb, sizeof(sb), SB_OFFSET);
	if (n < 0)
		return err_sys(err, "reading the superblock");
	if ((size_t)n < sizeof(sb) || rd16(sb + SB_MAGIC_OFF) != EXT4_MAGIC)
		return 0;
	memcpy(info->label, sb + SB_LABEL_OFF, 16);
	info->label[16] = '\0';
	state = rd16(sb + SB_STATE_OFF);
	info->clean = (state & STATE_VALID) && !(state & STATE_ERROR) &&
		      !(rd32(sb + SB_INCOMPAT_OFF) & INCOMPAT_RECOVER);
	return 1;
}

int find_label(const char *sysfs, const char *devdir, const char *label,
	       char *dev, size_t len, struct ext4_info *info,
	       struct error *err)
{
	char path[512];
	struct dirent *de;
	int found = 0, fd;
	DIR *d;

	snprintf(path, sizeof(path), "%s/class/block", sysfs);
	d = opendir(path);
	if (!d)
		return err_sys(err, "%s", path);
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= len)
			continue;
		snprintf(path, sizeof(path), "%s/%s", devdir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;	/* an empty drive, a dead device */
		if (ext4_probe(fd, info, err) == 1 &&
		    !strcmp(info->label, label)) {
			snprintf(dev, len, "%s", de->d_name);
			found = 1;
		}
		close(fd);
	}
	closedir(d);
	return found;
}

static int run_e2fsck(const char *devpath, struct error *err)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return err_sys(err, "fork");
	if (pid == 0) {
		execl(INIT_E2FSCK, "e2fsck", "-p", devpath, (char *)NULL);
		fprintf(stderr, "vessel-init: data: %s: %s\n", INIT_E2FSCK,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_sys(err, "waitpid");
	if (!WIFEXITED(status))
		return err_set(err, "e2fsck killed by signal %d",
			       WTERMSIG(status));
	/* 0: clean, 1: errors fixed, 2: fixed, reboot advised (for a root
	 * fs only); 4 and up: errors left or e2fsck failed. */
	if (WEXITSTATUS(status) >= 4)
		return err_set(err, "e2fsck -p %s: exit status %d (errors "
			       "left: fix them from the rescue shell)",
			       devpath, WEXITSTATUS(status));
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int init_data(double wait_s, struct error *err)
{
	struct ext4_info info;
	char dev[64], devpath[80];
	int r;

	/* Block devices show up as their drivers probe (modules just
	 * loaded): look again for a while. */
	for (double waited = 0;; waited += 0.1) {
		r = find_label("/sys", "/dev", INIT_DATA_LABEL, dev,
			       sizeof(dev), &info, err);
		if (r != 0 || waited >= wait_s)
			break;
		sleep_ms(100);
	}
	if (r <= 0)
		return r;
	snprintf(devpath, sizeof(devpath), "/dev/%s", dev);
	init_log("data: %s (label %s)", devpath, INIT_DATA_LABEL);
	init_log("data: %s", info.clean ? "clean" : "not cleanly unmounted");
	if (run_e2fsck(devpath, err) < 0)
		return -1;
	if (mkdir(INIT_DATA_DIR, 0755) < 0 && errno != EEXIST)
		return err_sys(err, "mkdir %s", INIT_DATA_DIR);
	if (mount(devpath, INIT_DATA_DIR, "ext4", MS_NOATIME, NULL) < 0)
		return err_sys(err, "mount %s on %s", devpath, INIT_DATA_DIR);
	init_log("data: %s mounted on %s", devpath, INIT_DATA_DIR);
	return 0;
}

/* The power button: an input device reporting KEY_POWER (the ACPI
 * button driver's "Power Button"), read through evdev. */
#include "init.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BITS_PER_LONG (8 * sizeof(long))

static bool has_key_power(int fd)
{
	unsigned long keys[KEY_MAX / BITS_PER_LONG + 1] = { 0 };

	if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) < 0)
		return false;
	return keys[KEY_POWER / BITS_PER_LONG] >>
	       (KEY_POWER % BITS_PER_LONG) & 1;
}

size_t power_open(const char *dir, int *fds, size_t max)
{
	char path[512];
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);
	int fd;

	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		if (strncmp(de->d_name, "event", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (has_key_power(fd))
			fds[n++] = fd;
		else
			close(fd);
	}
	closedir(d);
	return n;
}

bool power_pressed(int fd)
{
	struct input_event ev[16];
	bool pressed = false;
	ssize_t n;

	while ((n = read(fd, ev, sizeof(ev))) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++)
			if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER &&
			    ev[i].value == 1)
				pressed = true;
	return pressed;
}

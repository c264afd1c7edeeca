/* The fuzz input as a file: the parsers under test open paths. One memfd,
 * rewritten for each input, named by its /proc/self/fd path. */
#ifndef VESSEL_FUZZ_INPUT_H
#define VESSEL_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* The path of a file holding data, or NULL. */
static const char *input_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-input", 0);
		if (fd < 0)
			return NULL;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return NULL;
	return path;
}

#endif

/* libFuzzer target: the destination's reader of a migration stream
 * (mig_receive in vmm/machine/migration_stream.c) and the source's reader
 * of the answer (mig_read_reply). The input is the stream, read from a
 * memfd into a directory made once (on /dev/shm when there is one: the
 * reader fsyncs) and emptied after each run. A stream must be received,
 * or refused as bad input or as the source's abort, never a host error;
 * what was received matches the counts mig_receive returns. The prepared
 * hook runs at most once, with a name and a directory (neither empty) and
 * the definition and the RAM-sized memory file in; a received stream ran
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/machine/migration.h"
#include "../../vmm/machine/snapshot.h"

static const char *const names[] = {
	SNAPSHOT_CONFIG, SNAPSHOT_MEMORY, SNAPSHOT_STATE,
};

static int dir_fd = -1;
static char dir[64];

static void cleanup(void)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(dir_fd, names[i], 0);
	rmdir(dir);
}

static int init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/fuzz-mig-XXXXXX", base);
	if (!mkdtemp(dir))
		return -1;
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -1;
	atexit(cleanup);
	return 0;
}

static int input_fd(const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz-mig", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	return fd;
}

/* The size of dir/name, or -1 when it does not exist. */
static long long file_size(const char *name)
{
	struct stat sb;

	if (fstatat(dir_fd, name, &sb, 0) < 0)
		return errno == ENOENT ? -1 : -2;
	return sb.st_size;
}

static int prepared(void *opaque, const struct mig_rx_stats *st,
		    struct error *err)
{
	int *calls = opaque;

	(void)err;
	if (++*calls > 1 || !st->name[0] || !st->config_dir[0] ||
	    strlen(st->name) > MIG_MAX_NAME ||
	    strlen(st->config_dir) >= sizeof(st->config_dir) ||
	    file_size(SNAPSHOT_MEMORY) != (long long)st->ram_size ||
	    file_size(SNAPSHOT_CONFIG) != (long long)st->config_len)
		__builtin_trap();
	return 0;
}

static void receive(int fd)
{
	struct mig_rx_stats st;
	struct error err = { 0 };
	int calls = 0;
	const struct mig_rx_hooks hooks = { prepared, &calls };

	if (mig_receive(fd, dir, &st, &hooks, &err) == 0) {
		if (err.msg[0] || calls != 1 ||
		    file_size(SNAPSHOT_CONFIG) != (long long)st.config_len ||
		    file_size(SNAPSHOT_MEMORY) != (long long)st.ram_size ||
		    file_size(SNAPSHOT_STATE) != (long long)st.state_len ||
		    st.page_bytes % MIG_PAGE || st.page_bytes < st.frames * MIG_PAGE)
			__builtin_trap();
	} else if (!err.msg[0] ||
		   (!err.input && strncmp(err.msg, "the source gave up: ", 20))) {
		__builtin_trap();       /* refused without saying why, or blamed the host */
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (unlinkat(dir_fd, names[i], 0) < 0 && errno != ENOENT)
			__builtin_trap();
}

static void reply(int fd)
{
	char msg[MIG_MAX_MESSAGE + 1];
	struct error err = { 0 };
	bool ok;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return;
	if (mig_read_reply(fd, &ok, msg, sizeof(msg), &err) == 0) {
		for (const char *p = msg; *p; p++)
			if ((unsigned char)*p < 0x20 && *p != '\t')
				__builtin_trap();
	} else if (!err.msg[0]) {
		__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd;

	if (dir_fd < 0 && init() < 0) {
		perror("fuzz_migration_stream: a directory for the stream");
		abort();
	}
	fd = input_fd(data, size);
	if (fd < 0)
		return 0;
	receive(fd);
	reply(fd);
	return 0;
}

/* libFuzzer target: the destination's reader of a migration stream
 * (mig_receive in vmm/machine/migration_stream.c) and the source's reader
 * of the answer (mig_read_reply). The input is the stream, read from a
 * memfd into a directory made once (on /dev/shm when there is one: the
 * reader fsyncs) and emptied after each run. A stream must be received,
 * or refused as bad input or as the source's abort, never a host error;
 * what was received matches the counts mig_receive returns. The prepared
 * hook runs at most once, with a name and a directory (neither empty) and
 * the definition and the RAM-sized memory file in; a received stream ran
 * it. The disk hook runs before it, for disks 0, 1, ... in order (fewer
 * than MIG_MAX_DISKS), each described within the limits, and gives a
 * copied disk an empty memfd: after the receive, which closed them all,
 * none is longer than its disk's size (no data written past it); a
 * received stream counted every disk, and disk data only with a copied
 * disk. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* What the hooks saw in one receive. */
struct calls {
	int prepared;
	unsigned disks;                 /* disk hook calls */
	struct {
		uint64_t size;
		int fd;                 /* the image given to the receive */
		int ours;               /* our copy of it */
	} d[MIG_MAX_DISKS];
};

static int disk(void *opaque, const struct mig_rx_stats *st,
		const struct mig_disk *d, int *fd, struct error *err)
{
	struct calls *c = opaque;
	size_t plen;

	if (c->prepared || d->index != c->disks || d->index >= MIG_MAX_DISKS ||
	    st->ndisks != d->index || d->size > MIG_MAX_DISK_SIZE || !d->path)
		__builtin_trap();
	plen = strnlen(d->path, PATH_MAX);
	if (plen < 1 || plen >= PATH_MAX)
		__builtin_trap();
	c->d[c->disks].size = d->size;
	c->d[c->disks].fd = c->d[c->disks].ours = -1;
	c->disks++;
	if (!d->copied)
		return 0;
	*fd = memfd_create("fuzz-mig-disk", MFD_CLOEXEC);
	if (*fd < 0)
		return err_sys(err, "memfd_create");    /* fds leaked: trapped */
	c->d[d->index].fd = *fd;
	c->d[d->index].ours = dup(*fd);
	if (c->d[d->index].ours < 0)
		__builtin_trap();
	return 0;
}

static int prepared(void *opaque, const struct mig_rx_stats *st,
		    struct error *err)
{
	struct calls *c = opaque;

	(void)err;
	if (++c->prepared > 1 || !st->name[0] || !st->config_dir[0] ||
	    c->disks != st->ndisks ||
	    strlen(st->name) > MIG_MAX_NAME ||
	    strlen(st->config_dir) >= sizeof(st->config_dir) ||
	    file_size(SNAPSHOT_MEMORY) != (long long)st->ram_size ||
	    file_size(SNAPSHOT_CONFIG) != (long long)st->config_len)
		__builtin_trap();
	return 0;
}

/* A SYNC comes only after the guest was prepared. */
static int synced(void *opaque, uint64_t token, struct error *err)
{
	struct calls *c = opaque;

	(void)token;
	(void)err;
	if (c->prepared != 1)
		__builtin_trap();
	return 0;
}

static void receive(int fd)
{
	struct mig_rx_stats st;
	struct error err = { 0 };
	struct calls c = { 0 };
	const struct mig_rx_hooks hooks = {
		.prepared = prepared, .disk = disk, .synced = synced,
		.opaque = &c,
	};
	bool copied = false;
	int rc = mig_receive(fd, dir, &st, &hooks, &err);

	/* The receive closed the images, received or not; none grew past its
	 * disk's size. */
	for (unsigned i = 0; i < c.disks; i++) {
		struct stat sb;

		if (c.d[i].ours < 0)
			continue;
		if (fcntl(c.d[i].fd, F_GETFD) >= 0 || errno != EBADF ||
		    fstat(c.d[i].ours, &sb) < 0 || (uint64_t)sb.st_size > c.d[i].size)
			__builtin_trap();
		close(c.d[i].ours);
		copied = true;
	}
	if (rc == 0) {
		if (err.msg[0] || c.prepared != 1 || st.ndisks != c.disks ||
		    (st.disk_bytes && !copied) ||
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

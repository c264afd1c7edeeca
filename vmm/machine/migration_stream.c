/* The migration stream (migration.h, docs/migration.md): frames written
 * by the source, and the destination's reader, which turns a stream into
 * a snapshot directory and trusts nothing in it. */
#include "migration.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "snapshot.h"
#include "../../boot/layout.h"
#include "../../tools/base/fdio.h"
#include "../../tools/base/le.h"

#define HDR_LEN   16    /* magic, u32 version, u32 flags */
#define FRAME_LEN 16    /* u32 type, u32 zero, u64 length */

/* Printable ASCII only: a message from the other side goes to a terminal. */
static void sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			s[i] = '?';
}

/* ---- writing ---- */

static int send_all(int fd, struct iovec *iov, int n, struct error *err)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_sys(err, "migration stream: sending to the "
				       "destination");
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int mig_send_header(int fd, struct error *err)
{
	uint8_t h[HDR_LEN] = { 0 };
	struct iovec iov = { h, sizeof(h) };

	memcpy(h, MIG_MAGIC, 8);
	le32(h + 8, MIG_VERSION);
	return send_all(fd, &iov, 1, err);
}

int mig_send_frame(int fd, uint32_t type, const void *a, size_t alen,
		   const void *b, size_t blen, struct error *err)
{
	uint8_t h[FRAME_LEN] = { 0 };
	struct iovec iov[3] = {
		{ h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen },
	};

	le32(h, type);
	le64(h + 8, (uint64_t)alen + blen);
	return send_all(fd, iov, 3, err);
}

int mig_send_reply(int fd, bool ok, const char *msg)
{
	uint8_t h[16];
	size_t n = msg ? strnlen(msg, MIG_MAX_MESSAGE) : 0;
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)msg, n } };
	struct error err;

	memcpy(h, MIG_REPLY_MAGIC, 8);
	le32(h + 8, ok ? 0 : 1);
	le32(h + 12, (uint32_t)n);
	return send_all(fd, iov, 2, &err);
}

int mig_send_ack(int fd, uint64_t token, struct error *err)
{
	uint8_t h[16];
	struct iovec iov = { h, sizeof(h) };

	memcpy(h, MIG_ACK_MAGIC, 8);
	le64(h + 8, token);
	return send_all(fd, &iov, 1, err);
}

/* The 16 bytes each message from the destination starts with; what
 * names the message ("answer", "ack") in errors. */
static int read_back(int fd, uint8_t h[16], const char *what,
		     struct error *err)
{
	ssize_t got = read_full(fd, h, 16);

	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return err_set(err, "migration: no %s from the destination in "
			       "time", what);
	if (got < 0)
		return err_sys(err, "migration: reading the destination's %s",
			       what);
	if (got < 16)
		return err_set(err, "migration: the destination closed the "
			       "connection without an %s", what);
	return 0;
}

/* The rest of an answer whose 16 bytes h were read. */
static int reply_rest(int fd, const uint8_t *h, bool *ok, char *msg,
		      size_t size, struct error *err)
{
	uint32_t status = rd32(h + 8), n = rd32(h + 12);
	char text[MIG_MAX_MESSAGE + 1];

	if (memcmp(h, MIG_REPLY_MAGIC, 8) || status > 1 || n > MIG_MAX_MESSAGE)
		return err_input(err, "migration: the destination's answer is "
				 "malformed");
	if (read_full(fd, text, n) != (ssize_t)n)
		return err_set(err, "migration: the destination's answer was cut");
	text[n] = '\0';
	sanitize(text, n);
	*ok = status == 0;
	snprintf(msg, size, "%s", text);
	return 0;
}

int mig_read_reply(int fd, bool *ok, char *msg, size_t size, struct error *err)
{
	uint8_t h[16];

	if (read_back(fd, h, "answer", err) < 0)
		return -1;
	return reply_rest(fd, h, ok, msg, size, err);
}

int mig_read_ack(int fd, uint64_t token, struct error *err)
{
	uint8_t h[16];

	if (read_back(fd, h, "ack", err) < 0)
		return -1;
	if (!memcmp(h, MIG_REPLY_MAGIC, 8)) {
		/* The destination failed (and said why) instead. */
		char msg[MIG_MAX_MESSAGE + 1];
		bool ok;

		if (reply_rest(fd, h, &ok, msg, sizeof(msg), err) < 0)
			return -1;
		return err_set(err, "the destination failed: %s", msg);
	}
	if (memcmp(h, MIG_ACK_MAGIC, 8) || rd64(h + 8) != token)
		return err_input(err, "migration: the destination's ack is "
				 "malformed");
	return 0;
}

/* ---- reading ---- */

struct rx {
	int fd;
	const char *dir;
	int mem_fd;
	struct mig_rx_stats *st;
	const struct mig_rx_hooks *hooks;
	uint8_t *buf;           /* cap bytes, at most MIG_MAX_PAGES */
	size_t cap;
	/* From the DISKS frame: each disk's size and, copied, its image */
	struct {
		uint64_t size;
		uint64_t unsynced;      /* written since writeback was asked */
		int fd;
	} disk[MIG_MAX_DISKS];
};

/* Writeback is started every this many bytes written to an image, so that
 * the sync at the end (in the downtime) has little left to do. */
#define DISK_WRITEBACK (32u << 20)

/* The frame buffer, at least size bytes (at most MIG_MAX_PAGES): grown
 * as frames need it, so a small stream allocates little. */
static int rx_buf(struct rx *r, size_t size, struct error *err)
{
	uint8_t *b;

	if (size <= r->cap)
		return 0;
	if (size < 65536)
		size = 65536;
	if (size > MIG_MAX_PAGES)
		size = MIG_MAX_PAGES;
	b = realloc(r->buf, size);
	if (!b)
		return err_set(err, "out of memory");
	r->buf = b;
	r->cap = size;
	return 0;
}

/* Exactly len bytes, or an error naming what was being read. */
static int rx_read(struct rx *r, void *p, size_t len, const char *what,
		   struct error *err)
{
	ssize_t n = read_full(r->fd, p, len);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ?
			err_input(err, "migration stream: nothing arrived for too "
				  "long while reading %s", what) :
			err_sys(err, "migration stream: reading %s", what);
	if ((size_t)n < len)
		return err_input(err, "migration stream: truncated in %s "
				 "(%zd of %zu bytes)", what, n, len);
	return 0;
}

static int rx_path(const struct rx *r, const char *name, char *out,
		   struct error *err)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", r->dir, name);

	if (n < 0 || n >= PATH_MAX)
		return err_input(err, "%s: path too long", r->dir);
	return 0;
}

/* A new file DIR/name holding the next len bytes of the stream. */
static int rx_file(struct rx *r, const char *name, uint64_t len,
		   struct error *err)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	if (rx_path(r, name, path, err) < 0 ||
	    rx_buf(r, len < MIG_MAX_PAGES ? (size_t)len : MIG_MAX_PAGES, err) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, "%s", path);
	while (len && rc == 0) {
		size_t n = len < MIG_MAX_PAGES ? (size_t)len : MIG_MAX_PAGES;

		rc = rx_read(r, r->buf, n, name, err);
		if (rc == 0 && write_all(fd, r->buf, n) < 0)
			rc = err_sys(err, "writing %s", path);
		len -= n;
	}
	/* No fsync here or for the memory: the files live only until the
	 * supervisor started from them runs (a crash of this host loses the
	 * guest's RAM with its process in any case, and until the answer the
	 * source still runs it). */
	close(fd);
	return rc;
}

static int rx_ram(struct rx *r, uint64_t len, struct error *err)
{
	char path[PATH_MAX];
	uint8_t b[8];
	uint64_t size;

	if (len != 8)
		return err_input(err, "migration stream: RAM frame of %llu "
				 "bytes (expected 8)", (unsigned long long)len);
	if (rx_read(r, b, 8, "the RAM size", err) < 0)
		return -1;
	size = rd64(b);
	if (size < MIN_RAM_SIZE || size > MAX_RAM_SIZE || size % MIG_PAGE)
		return err_input(err, "migration stream: RAM size %llu is out "
				 "of range", (unsigned long long)size);
	if (rx_path(r, SNAPSHOT_MEMORY, path, err) < 0)
		return -1;
	r->mem_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->mem_fd < 0)
		return err_sys(err, "%s", path);
	if (ftruncate(r->mem_fd, (off_t)size) < 0)
		return err_sys(err, "%s: cannot size it", path);
	r->st->ram_size = size;
	return 0;
}

/* u32 name length | name | directory: no NUL in either, neither empty. */
static int rx_origin(struct rx *r, uint64_t len, struct error *err)
{
	char b[4 + MIG_MAX_NAME + sizeof(r->st->config_dir)];
	uint32_t nlen;

	if (len < 4 + 2 || len > 4 + MIG_MAX_NAME + sizeof(r->st->config_dir) - 1)
		return err_input(err, "migration stream: origin frame of %llu "
				 "bytes", (unsigned long long)len);
	if (rx_read(r, b, (size_t)len, "the origin", err) < 0)
		return -1;
	nlen = rd32((uint8_t *)b);
	if (nlen < 1 || nlen > MIG_MAX_NAME || nlen >= len - 4 ||
	    len - 4 - nlen > sizeof(r->st->config_dir) - 1 ||
	    memchr(b + 4, '\0', (size_t)len - 4))
		return err_input(err, "migration stream: malformed origin frame");
	memcpy(r->st->name, b + 4, nlen);
	r->st->name[nlen] = '\0';
	memcpy(r->st->config_dir, b + 4 + nlen, (size_t)len - 4 - nlen);
	r->st->config_dir[len - 4 - nlen] = '\0';
	return 0;
}

int mig_send_origin(int fd, const char *name, const char *dir,
		    struct error *err)
{
	size_t nlen = strlen(name), dlen = strlen(dir);
	uint8_t b[4 + MIG_MAX_NAME + 4096];

	if (nlen < 1 || nlen > MIG_MAX_NAME || dlen < 1 || dlen > 4095)
		return err_set(err, "migration: the guest's name or directory "
			       "is too long");
	le32(b, (uint32_t)nlen);
	memcpy(b + 4, name, nlen);
	memcpy(b + 4 + nlen, dir, dlen);
	return mig_send_frame(fd, MIG_ORIGIN, b, 4 + nlen + dlen, NULL, 0, err);
}

#define DISK_ENTRY 16    /* u32 flags, u64 size, u32 path length */

int mig_send_disks(int fd, const struct mig_disk *d, unsigned n,
		   struct error *err)
{
	size_t len = 4, off;
	uint8_t *b;
	int r;

	if (n < 1 || n > MIG_MAX_DISKS)
		return err_set(err, "migration: %u disks (1 to %u)", n,
			       MIG_MAX_DISKS);
	for (unsigned i = 0; i < n; i++) {
		size_t plen = strlen(d[i].path);

		if (plen < 1 || plen >= PATH_MAX)
			return err_set(err, "migration: disk %u: %s path", i,
				       plen ? "too long a" : "an empty");
		len += DISK_ENTRY + plen;
	}
	b = malloc(len);
	if (!b)
		return err_set(err, "out of memory");
	le32(b, n);
	off = 4;
	for (unsigned i = 0; i < n; i++) {
		size_t plen = strlen(d[i].path);

		le32(b + off, (d[i].readonly ? MIG_DISK_RO : 0) |
		     (d[i].copied ? MIG_DISK_COPIED : 0));
		le64(b + off + 4, d[i].size);
		le32(b + off + 12, (uint32_t)plen);
		memcpy(b + off + DISK_ENTRY, d[i].path, plen);
		off += DISK_ENTRY + plen;
	}
	r = mig_send_frame(fd, MIG_DISKS, b, len, NULL, 0, err);
	free(b);
	return r;
}

/* u32 count | per disk: u32 flags | u64 size | u32 path length | path.
 * Each disk goes to the disk hook, which makes a copied one's image. */
static int rx_disks(struct rx *r, uint64_t len, struct error *err)
{
	char path[PATH_MAX];
	uint64_t off = 4;
	uint32_t n;

	if (len < 4 + DISK_ENTRY + 1 ||
	    len > 4 + MIG_MAX_DISKS * (uint64_t)(DISK_ENTRY + PATH_MAX - 1))
		return err_input(err, "migration stream: disks frame of %llu "
				 "bytes", (unsigned long long)len);
	if (rx_buf(r, (size_t)len, err) < 0 ||
	    rx_read(r, r->buf, (size_t)len, "the disks", err) < 0)
		return -1;
	n = rd32(r->buf);
	if (n < 1 || n > MIG_MAX_DISKS)
		return err_input(err, "migration stream: %u disks (1 to %u)",
				 n, MIG_MAX_DISKS);
	if (!r->hooks || !r->hooks->disk)
		return err_input(err, "migration stream: disks, which this "
				 "receiver does not take");
	for (uint32_t i = 0; i < n; i++) {
		struct mig_disk d = { .index = i, .path = path };
		uint32_t flags, plen;
		int fd = -1, rc;

		if (len - off < DISK_ENTRY)
			return err_input(err, "migration stream: disks frame "
					 "cut in disk %u", i);
		flags = rd32(r->buf + off);
		d.size = rd64(r->buf + off + 4);
		plen = rd32(r->buf + off + 12);
		off += DISK_ENTRY;
		if (flags & ~(MIG_DISK_RO | MIG_DISK_COPIED))
			return err_input(err, "migration stream: disk %u: "
					 "unknown flags 0x%x", i, flags);
		if (d.size > MIG_MAX_DISK_SIZE)
			return err_input(err, "migration stream: disk %u: %llu "
					 "bytes (at most %llu)", i,
					 (unsigned long long)d.size,
					 (unsigned long long)MIG_MAX_DISK_SIZE);
		if (plen < 1 || plen >= PATH_MAX || plen > len - off ||
		    memchr(r->buf + off, '\0', plen))
			return err_input(err, "migration stream: disk %u: "
					 "malformed path", i);
		memcpy(path, r->buf + off, plen);
		path[plen] = '\0';
		off += plen;
		d.readonly = flags & MIG_DISK_RO;
		d.copied = flags & MIG_DISK_COPIED;
		rc = r->hooks->disk(r->hooks->opaque, r->st, &d, &fd, err);
		if (fd >= 0 && !d.copied) {
			close(fd);
			fd = -1;
		}
		r->disk[i].fd = fd;     /* closed at the end, even on error */
		r->disk[i].size = d.size;
		if (rc < 0)
			return -1;
		if (d.copied && fd < 0)
			return err_set(err, "disk %u: no image to copy it to", i);
		r->st->ndisks = i + 1;
	}
	if (off != len)
		return err_input(err, "migration stream: %llu bytes after the "
				 "last disk", (unsigned long long)(len - off));
	return 0;
}

/* u32 disk | u32 0 | u64 offset | the bytes, inside a copied disk. */
static int rx_disk_data(struct rx *r, uint64_t len, struct error *err)
{
	uint8_t b[16];
	uint64_t off, n;
	uint32_t i;

	if (len < 16 + 1 || len - 16 > MIG_MAX_PAGES)
		return err_input(err, "migration stream: disk data frame of "
				 "%llu bytes (16 + 1 to %u)",
				 (unsigned long long)len, MIG_MAX_PAGES);
	n = len - 16;
	if (rx_read(r, b, 16, "a disk data frame", err) < 0)
		return -1;
	i = rd32(b);
	off = rd64(b + 8);
	if (i >= r->st->ndisks)
		return err_input(err, "migration stream: data for disk %u, "
				 "which the disks frame did not describe", i);
	if (r->disk[i].fd < 0)
		return err_input(err, "migration stream: data for disk %u, "
				 "which is not copied", i);
	if (rd32(b + 4))
		return err_input(err, "migration stream: data for disk %u with "
				 "reserved bits set", i);
	if (off > r->disk[i].size || n > r->disk[i].size - off)
		return err_input(err, "migration stream: disk %u data at "
				 "%llu+%llu is outside its %llu bytes", i,
				 (unsigned long long)off, (unsigned long long)n,
				 (unsigned long long)r->disk[i].size);
	if (rx_buf(r, (size_t)n, err) < 0 ||
	    rx_read(r, r->buf, (size_t)n, "a disk data frame", err) < 0)
		return -1;
	if (pwrite_all(r->disk[i].fd, r->buf, (size_t)n, (off_t)off) < 0)
		return err_sys(err, "writing disk %u", i);
	r->disk[i].unsynced += n;
	if (r->disk[i].unsynced >= DISK_WRITEBACK) {
		/* Start writeback now; the sync at the end waits for it. */
		sync_file_range(r->disk[i].fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		r->disk[i].unsynced = 0;
	}
	r->st->disk_bytes += n;
	return 0;
}

/* u64 token: all before it is written; the hook answers the source. */
static int rx_sync(struct rx *r, uint64_t len, struct error *err)
{
	uint8_t b[8];

	if (len != 8)
		return err_input(err, "migration stream: sync frame of %llu "
				 "bytes (expected 8)", (unsigned long long)len);
	if (rx_read(r, b, 8, "a sync frame", err) < 0)
		return -1;
	if (!r->hooks || !r->hooks->synced)
		return err_input(err, "migration stream: a sync frame, which "
				 "this receiver does not answer");
	return r->hooks->synced(r->hooks->opaque, rd64(b), err);
}

/* All there: the copied images durable before the guest may run on them
 * (the source stops once it is told so). */
static int rx_disks_sync(struct rx *r, struct error *err)
{
	for (unsigned i = 0; i < r->st->ndisks; i++)
		if (r->disk[i].fd >= 0 && fdatasync(r->disk[i].fd) < 0)
			return err_sys(err, "syncing disk %u", i);
	return 0;
}

static int rx_pages(struct rx *r, uint64_t len, struct error *err)
{
	uint8_t b[8];
	uint64_t off, n;

	if (len < 8 + MIG_PAGE || len - 8 > MIG_MAX_PAGES || (len - 8) % MIG_PAGE)
		return err_input(err, "migration stream: pages frame of %llu "
				 "bytes (expected 8 + a multiple of %u, at most "
				 "%u)", (unsigned long long)len, MIG_PAGE,
				 MIG_MAX_PAGES);
	n = len - 8;
	if (rx_read(r, b, 8, "a pages frame", err) < 0)
		return -1;
	off = rd64(b);
	if (off % MIG_PAGE)
		return err_input(err, "migration stream: pages at 0x%llx: not "
				 "page-aligned", (unsigned long long)off);
	if (off > r->st->ram_size || n > r->st->ram_size - off)
		return err_input(err, "migration stream: pages at 0x%llx+0x%llx "
				 "are outside the guest's %llu bytes of RAM",
				 (unsigned long long)off, (unsigned long long)n,
				 (unsigned long long)r->st->ram_size);
	if (rx_buf(r, (size_t)n, err) < 0 ||
	    rx_read(r, r->buf, (size_t)n, "a pages frame", err) < 0)
		return -1;
	if (pwrite_all(r->mem_fd, r->buf, (size_t)n, (off_t)off) < 0)
		return err_sys(err, "writing the guest's memory");
	r->st->frames++;
	r->st->page_bytes += n;
	return 0;
}

static int rx_abort(struct rx *r, uint64_t len, struct error *err)
{
	char msg[MIG_MAX_MESSAGE + 1];

	if (len > MIG_MAX_MESSAGE)
		return err_input(err, "migration stream: abort message of %llu "
				 "bytes", (unsigned long long)len);
	if (rx_read(r, msg, (size_t)len, "an abort", err) < 0)
		return -1;
	msg[len] = '\0';
	sanitize(msg, (size_t)len);
	return err_set(err, "the source gave up: %s", msg);
}

/* Frames come in this order: CONFIG, ORIGIN, DISKS (if the guest has
 * disks), RAM, PAGES, DISK_DATA and SYNC..., STATE, END; ABORT may come
 * at any point. */
enum rx_phase { WANT_CONFIG, WANT_ORIGIN, WANT_RAM, IN_PAGES, WANT_END, DONE };

static int rx_frames(struct rx *r, struct error *err)
{
	enum rx_phase phase = WANT_CONFIG;
	uint8_t h[HDR_LEN];

	if (rx_read(r, h, HDR_LEN, "the stream header", err) < 0)
		return -1;
	if (memcmp(h, MIG_MAGIC, 8))
		return err_input(err, "migration stream: not a vessel migration "
				 "(bad magic)");
	if (rd32(h + 8) != MIG_VERSION || rd32(h + 12) != 0)
		return err_input(err, "migration stream: version %u (flags %u); "
				 "this vessel speaks version %u", rd32(h + 8),
				 rd32(h + 12), MIG_VERSION);
	while (phase != DONE) {
		uint8_t f[FRAME_LEN];
		uint32_t type;
		uint64_t len;

		if (rx_read(r, f, FRAME_LEN, "a frame header", err) < 0)
			return -1;
		type = rd32(f);
		len = rd64(f + 8);
		if (rd32(f + 4) != 0)
			return err_input(err, "migration stream: frame %u has "
					 "reserved bits set", type);
		if (type == MIG_ABORT)
			return rx_abort(r, len, err);
		if (type == MIG_CONFIG && phase == WANT_CONFIG) {
			if (len < 1 || len > MIG_MAX_CONFIG)
				return err_input(err, "migration stream: a "
						 "definition of %llu bytes (1 to "
						 "%u)", (unsigned long long)len,
						 MIG_MAX_CONFIG);
			if (rx_file(r, SNAPSHOT_CONFIG, len, err) < 0)
				return -1;
			r->st->config_len = len;
			phase = WANT_ORIGIN;
		} else if (type == MIG_ORIGIN && phase == WANT_ORIGIN) {
			if (rx_origin(r, len, err) < 0)
				return -1;
			phase = WANT_RAM;
		} else if (type == MIG_DISKS && phase == WANT_RAM) {
			if (r->st->ndisks)
				return err_input(err, "migration stream: a second "
						 "disks frame");
			if (rx_disks(r, len, err) < 0)
				return -1;
		} else if (type == MIG_RAM && phase == WANT_RAM) {
			if (rx_ram(r, len, err) < 0)
				return -1;
			if (r->hooks && r->hooks->prepared &&
			    r->hooks->prepared(r->hooks->opaque, r->st, err) < 0)
				return -1;
			phase = IN_PAGES;
		} else if (type == MIG_PAGES && phase == IN_PAGES) {
			if (rx_pages(r, len, err) < 0)
				return -1;
		} else if (type == MIG_DISK_DATA && phase == IN_PAGES) {
			if (rx_disk_data(r, len, err) < 0)
				return -1;
		} else if (type == MIG_SYNC && phase == IN_PAGES) {
			if (rx_sync(r, len, err) < 0)
				return -1;
		} else if (type == MIG_STATE && phase == IN_PAGES) {
			if (len < 1 || len > VMSTATE_MAX_SIZE)
				return err_input(err, "migration stream: a state "
						 "image of %llu bytes (1 to %u)",
						 (unsigned long long)len,
						 VMSTATE_MAX_SIZE);
			if (rx_file(r, SNAPSHOT_STATE, len, err) < 0)
				return -1;
			r->st->state_len = len;
			phase = WANT_END;
		} else if (type == MIG_END && phase == WANT_END) {
			if (len)
				return err_input(err, "migration stream: an end "
						 "frame with %llu bytes",
						 (unsigned long long)len);
			if (rx_disks_sync(r, err) < 0)
				return -1;
			phase = DONE;
		} else {
			static const char *const want[] = {
				"the definition", "the origin",
				"the disks or the RAM size",
				"pages, disk data, a sync or the state",
				"the end",
				"nothing",
			};

			return err_input(err, "migration stream: frame type %u "
					 "where %s was expected", type, want[phase]);
		}
	}
	return 0;
}

int mig_receive(int fd, const char *dir, struct mig_rx_stats *st,
		const struct mig_rx_hooks *hooks, struct error *err)
{
	struct rx r = { .fd = fd, .dir = dir, .mem_fd = -1, .st = st,
			.hooks = hooks };
	int rc;

	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < MIG_MAX_DISKS; i++)
		r.disk[i].fd = -1;
	rc = rx_frames(&r, err);
	if (r.mem_fd >= 0)
		close(r.mem_fd);
	for (unsigned i = 0; i < MIG_MAX_DISKS; i++)
		if (r.disk[i].fd >= 0)
			close(r.disk[i].fd);
	free(r.buf);
	return rc;
}

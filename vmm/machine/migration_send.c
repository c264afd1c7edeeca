/* The source side of a live migration (migration.h): the stream's
 * opening, pre-copy rounds while the guest runs, and the final pass with
 * the guest paused. run.c's vm_control_migrate() drives it and owns the
 * pausing. */
#include "migration_send.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "machine.h"
#include "snapshot.h"
#include "../../devices/block/dirty.h"
#include "../../tools/base/clock.h"
#include "../../tools/base/fdio.h"
#include "../../tools/base/le.h"

#define DEF_DOWNTIME_MS 300
#define DEF_TIMEOUT_MS  (600 * 1000)
#define DEF_ROUNDS      30
#define DISK_CHUNK      (1u << 20)      /* disk bytes per frame */

static uint64_t elapsed(const struct mig_sender *s)
{
	return (uint64_t)(now_ms() - s->t0);
}

/* Hold the rate to o->bandwidth: sleep until `bytes` since `since` fit. */
static void throttle(const struct mig_sender *s, uint64_t bytes, long long since)
{
	uint64_t due;
	long long late;

	if (!s->o->bandwidth)
		return;
	due = bytes * 1000 / s->o->bandwidth;
	late = (long long)due - (now_ms() - since);
	if (late > 0) {
		struct timespec ts = { late / 1000, (late % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

static int not_converged(struct mig_sender *s, struct error *err)
{
	if (!s->p.rate) {	/* still in the first pass */
		long long ms = now_ms() - s->round_t0;

		s->p.rate = s->round_bytes * 1000 / (uint64_t)(ms > 0 ? ms : 1);
	}
	return err_set(err, "did not converge in %u rounds (%llu s): the guest "
		       "dirties %llu MiB/s, %llu MiB/s get through; %llu MiB would "
		       "be left for a downtime of at most %llu ms", s->round,
		       (unsigned long long)(elapsed(s) / 1000),
		       (unsigned long long)(s->p.dirty_rate >> 20),
		       (unsigned long long)(s->p.rate >> 20),
		       (unsigned long long)(s->p.dirty_bytes >> 20),
		       (unsigned long long)s->max_dt);
}

/* A PAGES or DISK_DATA frame: its header h (hlen bytes), then len bytes. */
static int send_data(struct mig_sender *s, uint32_t type, const uint8_t *h,
		     size_t hlen, const uint8_t *p, size_t len,
		     struct error *err)
{
	/* The time limit holds within a round too (a slow link). Not in the
	 * final pass: the guest is paused, and what is left is bounded. */
	if (!s->final && elapsed(s) > s->timeout)
		return not_converged(s, err);
	if (mig_send_frame(s->o->fd, type, h, hlen, p, len, err) < 0)
		return -1;
	s->sent += 16 + hlen + len;
	s->round_bytes += len;
	throttle(s, s->round_bytes, s->round_t0);
	return 0;
}

static int send_pages(struct mig_sender *s, uint64_t off, const uint8_t *p,
		      size_t len, struct error *err)
{
	uint8_t h[8];

	le64(h, off);
	return send_data(s, MIG_PAGES, h, sizeof(h), p, len, err);
}

/* The next run of marked bits in bm (nbits long) from *pos on, at most
 * max long: its start in *start, its marks cleared, *pos past it; returns
 * its length, 0 when no mark is left. RAM pages and disk blocks alike. */
static uint64_t take_run(uint64_t *bm, uint64_t nbits, uint64_t *pos,
			 uint64_t max, uint64_t *start)
{
	uint64_t b = *pos, n = 0;

	while (b < nbits && !(bm[b / 64] >> (b % 64) & 1))
		b = bm[b / 64] >> (b % 64) ? b + 1 : (b / 64 + 1) * 64;
	*start = b;
	while (b < nbits && (bm[b / 64] >> (b % 64) & 1) && n < max) {
		bm[b / 64] &= ~(1ull << (b % 64));
		b++;
		n++;
	}
	*pos = b;
	return n;
}

/* Bytes [off, off + len) of copied disk i (len at most DISK_CHUNK). */
static int send_disk_range(struct mig_sender *s, unsigned i, uint64_t off,
			   size_t len, struct error *err)
{
	uint8_t h[16] = { 0 };
	ssize_t n = pread_full(s->disk[i].fd, s->dbuf, len, (off_t)off);

	if (n < 0)
		return err_sys(err, "disk %u: reading the image", i);
	if ((size_t)n < len)	/* shrunk under us: what is gone reads 0 */
		memset(s->dbuf + n, 0, len - (size_t)n);
	le32(h, i);
	le64(h + 8, off);
	return send_data(s, MIG_DISK_DATA, h, sizeof(h), s->dbuf, len, err);
}

/* The first pass over a copied disk: its data, not its holes (the
 * destination's new image reads zeroes there). */
static int send_disk_all(struct mig_sender *s, unsigned i, struct error *err)
{
	const uint64_t size = s->disk[i].size;
	uint64_t off = 0;

	while (off < size) {
		off_t data = lseek(s->disk[i].fd, (off_t)off, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;                  /* holes to the end */
		if (data < 0) {                 /* no SEEK_DATA: all of it */
			data = (off_t)off;
			hole = (off_t)size;
		} else {
			hole = lseek(s->disk[i].fd, data, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole > size)
				hole = (off_t)size;
		}
		for (off = (uint64_t)data; off < (uint64_t)hole;) {
			size_t len = (uint64_t)hole - off < DISK_CHUNK ?
				(size_t)((uint64_t)hole - off) : DISK_CHUNK;

			if (vm_event_pending(s->vm))
				return err_set(err, "the guest stopped or "
					       "rebooted during the migration");
			if (send_disk_range(s, i, off, len, err) < 0)
				return -1;
			off += len;
		}
	}
	return 0;
}

/* The blocks of copied disk i marked in its bm, in runs, marks cleared. */
static int send_disk_marked(struct mig_sender *s, unsigned i,
			    struct error *err)
{
	struct mig_send_disk *d = &s->disk[i];
	const uint64_t blocks = (d->size + BLK_DIRTY_BLOCK - 1) >> BLK_DIRTY_SHIFT;
	uint64_t b = 0, start, n;

	while (d->bm && (n = take_run(d->bm, blocks, &b,
				      DISK_CHUNK >> BLK_DIRTY_SHIFT, &start))) {
		uint64_t off = start << BLK_DIRTY_SHIFT;
		uint64_t len = n << BLK_DIRTY_SHIFT;

		if (len > d->size - off)
			len = d->size - off;
		if (send_disk_range(s, i, off, (size_t)len, err) < 0)
			return -1;
	}
	return 0;
}

static int walk_run(void *ctx, uint64_t off, const uint8_t *p, size_t len,
		    struct error *err)
{
	struct mig_sender *s = ctx;

	if (vm_event_pending(s->vm))
		return err_set(err, "the guest stopped or rebooted during the "
			       "migration");
	return send_pages(s, off, p, len, err);
}

static uint64_t count_bits(const uint64_t *bm, size_t words)
{
	uint64_t n = 0;

	for (size_t i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(bm[i]);
	return n;
}

/* Pages written since the last harvest, ORed into s->bm, and the disk
 * blocks into each copied disk's bm; returns the bytes to send. */
static int harvest(struct mig_sender *s, uint64_t *dirty, struct error *err)
{
	if (vm_dirty_log_take(s->vm, s->bm, s->scratch, err) < 0)
		return -1;
	gmem_dirty_take(&s->vm->mem, s->bm);
	*dirty = count_bits(s->bm, s->words) * MIG_PAGE;
	for (unsigned i = 0; i < s->ncopied; i++)
		if (s->disk[i].log) {
			blk_dirty_take(s->disk[i].log, s->disk[i].bm);
			*dirty += count_bits(s->disk[i].bm,
					     blk_dirty_words(s->disk[i].size)) *
				  BLK_DIRTY_BLOCK;
		}
	return 0;
}

/* Send every page marked in s->bm, in runs, and clear the marks. */
static int send_marked(struct mig_sender *s, struct error *err)
{
	const uint64_t pages = s->vm->mem.ram_size / MIG_PAGE;
	uint8_t *base = s->vm->mem.region[0].hva;
	uint64_t pg = 0, start, n;

	while ((n = take_run(s->bm, pages, &pg, MIG_MAX_PAGES / MIG_PAGE,
			     &start)))
		if (send_pages(s, start * MIG_PAGE, base + start * MIG_PAGE,
			       (size_t)(n * MIG_PAGE), err) < 0)
			return -1;
	return 0;
}

/* Every marked page and disk block, marks cleared. */
static int send_dirty(struct mig_sender *s, struct error *err)
{
	if (send_marked(s, err) < 0)
		return -1;
	for (unsigned i = 0; i < s->ncopied; i++)
		if (send_disk_marked(s, i, err) < 0)
			return -1;
	return 0;
}

static void report(struct mig_sender *s, uint64_t dirty)
{
	struct mig_progress *p = &s->p;
	uint64_t ms = (uint64_t)(now_ms() - s->round_t0);

	if (!ms)
		ms = 1;
	p->round = s->round;
	p->sent = s->sent;
	p->round_bytes = s->round_bytes;
	p->dirty_bytes = dirty;
	if (s->round_bytes >= (1u << 20) || !p->rate)
		p->rate = s->round_bytes * 1000 / ms;
	p->dirty_rate = p->dirty_bytes * 1000 / ms;
	p->expected_downtime_ms = p->rate ? p->dirty_bytes * 1000 / p->rate : 0;
	p->elapsed_ms = elapsed(s);
	if (s->o->progress)
		s->o->progress(s->o->opaque, p);
}

/* The image's size: a file's, or a block device's. */
static int image_size_fd(int fd, uint64_t *size)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		return -1;
	*size = (uint64_t)end;
	return 0;
}

/* --with-disks: open every image to read it, and start logging the
 * guest's writes to the writable ones (before the first pass reads). */
static int disks_begin(struct mig_sender *s, struct error *err)
{
	const struct devices_spec *dv = &s->vm->devices;

	for (unsigned i = 0; i < MIG_MAX_DISKS; i++)
		s->disk[i].fd = -1;
	if (dv->ndisks > MIG_MAX_DISKS)
		return err_set(err, "%zu disks: a migration takes %u at most",
			       dv->ndisks, MIG_MAX_DISKS);
	if (!s->o->with_disks || !dv->ndisks)
		return 0;
	s->dbuf = malloc(DISK_CHUNK);
	if (!s->dbuf)
		return err_set(err, "out of memory");
	for (unsigned i = 0; i < dv->ndisks; i++) {
		struct mig_send_disk *d = &s->disk[i];

		s->ncopied = i + 1;
		d->fd = open(dv->disks[i].path, O_RDONLY | O_CLOEXEC);
		if (d->fd < 0 || image_size_fd(d->fd, &d->size) < 0)
			return err_sys(err, "disk %u (%s)", i, dv->disks[i].path);
		if (dv->disks[i].readonly || !s->vm->disk_dirty)
			continue;
		d->bm = calloc(blk_dirty_words(d->size) + 1, sizeof(uint64_t));
		if (!d->bm)
			return err_set(err, "out of memory");
		d->log = &s->vm->disk_dirty[i];
		if (blk_dirty_start(d->log, d->size, err) < 0) {
			d->log = NULL;
			return -1;
		}
	}
	return 0;
}

/* The DISKS frame: each image, its size, and whether it is copied. */
static int disks_describe(struct mig_sender *s, struct error *err)
{
	const struct devices_spec *dv = &s->vm->devices;
	struct mig_disk d[MIG_MAX_DISKS];

	if (!dv->ndisks)
		return 0;
	for (unsigned i = 0; i < dv->ndisks; i++) {
		d[i] = (struct mig_disk){
			.index = i, .path = dv->disks[i].path,
			.readonly = dv->disks[i].readonly,
			.copied = i < s->ncopied, .size = s->disk[i].size,
		};
		if (!d[i].copied) {
			int fd = open(d[i].path, O_RDONLY | O_CLOEXEC);
			int r = fd < 0 ? -1 : image_size_fd(fd, &d[i].size);

			if (fd >= 0)
				close(fd);
			if (r < 0)
				return err_sys(err, "disk %u (%s)", i, d[i].path);
		}
	}
	return mig_send_disks(s->o->fd, d, (unsigned)dv->ndisks, err);
}

int mig_begin(struct mig_sender *s, struct vm *vm, const struct mig_opts *o,
	      struct error *err)
{
	uint64_t largest = 0;
	uint8_t ram[8];

	memset(s, 0, sizeof(*s));
	s->vm = vm;
	s->o = o;
	s->t0 = now_ms();
	s->max_dt = o->max_downtime_ms ? o->max_downtime_ms : DEF_DOWNTIME_MS;
	s->timeout = o->timeout_ms ? o->timeout_ms : DEF_TIMEOUT_MS;
	s->words = gmem_dirty_words(&vm->mem);
	for (unsigned i = 0; i < vm->mem.nregions; i++)
		if (vm->mem.region[i].size > largest)
			largest = vm->mem.region[i].size;
	s->bm = calloc(s->words, sizeof(uint64_t));
	s->scratch = calloc((largest / MIG_PAGE + 63) / 64, sizeof(uint64_t));
	if (!s->bm || !s->scratch)
		return err_set(err, "out of memory");
	le64(ram, vm->mem.ram_size);
	if (disks_begin(s, err) < 0)
		return -1;
	if (mig_send_header(o->fd, err) < 0 ||
	    mig_send_frame(o->fd, MIG_CONFIG, o->config, o->config_len, NULL, 0,
			   err) < 0 ||
	    mig_send_origin(o->fd, o->name, o->config_dir, err) < 0 ||
	    disks_describe(s, err) < 0 ||
	    mig_send_frame(o->fd, MIG_RAM, ram, 8, NULL, 0, err) < 0)
		return -1;
	s->stream_ok = true;
	/* Marks first: a page the devices write after this is marked, one
	 * the vCPUs write after the next line is logged, and the first pass
	 * reads every page after both. */
	if (gmem_dirty_start(&vm->mem, err) < 0)
		return -1;
	if (vm_dirty_log(vm, true, err) < 0)
		return -1;
	s->logging = true;
	return 0;
}

/* Converged: send what is marked now, while the guest runs, and wait
 * until the destination has written everything sent so far. What sits in
 * the socket buffers and the destination's backlog would otherwise be
 * received after the pause, in the downtime. */
static int catch_up(struct mig_sender *s, struct error *err)
{
	uint8_t token[8];

	s->round++;
	s->round_t0 = now_ms();
	s->round_bytes = 0;
	if (send_dirty(s, err) < 0)
		return -1;
	le64(token, s->round);
	if (mig_send_frame(s->o->fd, MIG_SYNC, token, 8, NULL, 0, err) < 0)
		return -1;
	s->sent += 16 + 8;
	return mig_read_ack(s->o->fd, s->round, err);
}

int mig_precopy(struct mig_sender *s, struct error *err)
{
	unsigned rounds = s->o->max_rounds ? s->o->max_rounds : DEF_ROUNDS;
	bool caught_up = false;

	s->round_t0 = now_ms();
	/* The disks first: the RAM the guest dirties meanwhile is read once,
	 * after. */
	for (unsigned i = 0; i < s->ncopied; i++)
		if (send_disk_all(s, i, err) < 0)
			return -1;
	if (gmem_walk_data(&s->vm->mem, walk_run, s, err) < 0)
		return -1;
	for (;;) {
		uint64_t dirty;

		if (harvest(s, &dirty, err) < 0)
			return -1;
		report(s, dirty);
		if (s->p.expected_downtime_ms <= s->max_dt && caught_up)
			return 0;
		if (s->p.expected_downtime_ms <= s->max_dt) {
			if (catch_up(s, err) < 0)
				return -1;
			caught_up = true;
			continue;
		}
		if (vm_event_pending(s->vm))
			return err_set(err, "the guest stopped or rebooted during "
				       "the migration");
		if (s->round + 1 > rounds || elapsed(s) > s->timeout)
			return not_converged(s, err);
		s->round++;
		s->round_t0 = now_ms();
		s->round_bytes = 0;
		if (send_dirty(s, err) < 0)
			return -1;
	}
}

int mig_complete(struct mig_sender *s, const struct vm_snapshot_opts *so,
		 struct mig_result *res, char *answer, size_t size,
		 struct error *err)
{
	struct vmstate_writer w;
	long long t = now_ms(), t1;
	uint64_t dirty;
	bool ok = false;
	int r;

	res->pause_ms = s->paused_at ? (uint64_t)(t - s->paused_at) : 0;
	s->round++;
	s->final = true;
	s->round_t0 = t;
	s->round_bytes = 0;
	if (harvest(s, &dirty, err) < 0 || send_dirty(s, err) < 0)
		return -1;
	report(s, 0);
	t1 = now_ms();
	res->last_ms = (uint64_t)(t1 - t);
	vmstate_writer_init(&w);
	r = vm_snapshot_state(s->vm, so, &w, err);
	if (r == 0)
		r = mig_send_frame(s->o->fd, MIG_STATE, w.buf, w.len, NULL, 0, err);
	if (r == 0)
		s->sent += 16 + w.len;
	vmstate_writer_free(&w);
	t = now_ms();
	res->state_ms = (uint64_t)(t - t1);
	/* The disks go to the destination, synced, before it may open them. */
	if (r < 0 || vm_devices_handover(s->vm, true, err) < 0)
		return -1;
	s->released = true;
	t1 = now_ms();
	res->handover_ms = (uint64_t)(t1 - t);
	if (mig_send_frame(s->o->fd, MIG_END, NULL, 0, NULL, 0, err) < 0)
		return -1;
	s->stream_ok = false;	/* all sent: no abort frame after this */
	if (mig_read_reply(s->o->fd, &ok, answer, size, err) < 0)
		return -1;
	res->answer_ms = (uint64_t)(now_ms() - t1);
	if (!ok)
		return err_set(err, "the destination failed: %s", answer);
	s->released = false;	/* theirs now */
	res->last = s->p;
	res->rounds = s->round + 1;	/* and the final pass */
	res->total_ms = elapsed(s);	/* the caller sets downtime_ms */
	return 0;
}

int mig_take_back(struct mig_sender *s, struct error *err)
{
	if (!s->released)
		return 0;
	if (vm_devices_handover(s->vm, false, err) < 0)
		return err_prefix(err, "the destination may hold the disks (and "
				  "run the guest): this copy stays paused");
	s->released = false;
	return 0;
}

void mig_end(struct mig_sender *s, const char *why)
{
	if (s->stream_ok && why) {
		struct error e;

		mig_send_frame(s->o->fd, MIG_ABORT, why, strnlen(why, MIG_MAX_MESSAGE),
			       NULL, 0, &e);
	}
	if (s->logging) {
		struct error e;

		vm_dirty_log(s->vm, false, &e);
	}
	if (s->vm)
		gmem_dirty_stop(&s->vm->mem);
	for (unsigned i = 0; i < s->ncopied; i++) {
		if (s->disk[i].log)
			blk_dirty_stop(s->disk[i].log);
		if (s->disk[i].fd >= 0)
			close(s->disk[i].fd);
		free(s->disk[i].bm);
		s->disk[i] = (struct mig_send_disk){ .fd = -1 };
	}
	s->ncopied = 0;
	free(s->dbuf);
	free(s->bm);
	free(s->scratch);
	s->bm = s->scratch = NULL;
	s->dbuf = NULL;
}

#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>

#include "../boot/layout.h"
#include "../tools/base/fdio.h"
#include "../tools/base/le.h"

static void gmem_layout(struct gmem *m, uint8_t *host, uint64_t ram_size)
{
	uint64_t low = ram_size < MMIO_HOLE_START ? ram_size : MMIO_HOLE_START;

	memset(m->region, 0, sizeof(m->region));
	m->nregions = 0;
	m->ram_size = ram_size;
	m->region[m->nregions++] = (struct gmem_region){ 0, low, host };
	if (ram_size > low)
		m->region[m->nregions++] = (struct gmem_region){
			HIGH_RAM_START, ram_size - low, host + low };
}

void gmem_init_fake(struct gmem *m, void *host, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	gmem_layout(m, host, ram_size);
	m->map = NULL;
	m->map_size = 0;
	m->fd = -1;
}

static int check_size(uint64_t ram_size, struct error *err)
{
	if (ram_size < MIN_RAM_SIZE)
		return err_set(err, "memory: %llu bytes is too small (minimum %llu)",
			       (unsigned long long)ram_size,
			       (unsigned long long)MIN_RAM_SIZE);
	if (ram_size > MAX_RAM_SIZE || (size_t)ram_size != ram_size)
		return err_set(err, "memory: %llu bytes is too large",
			       (unsigned long long)ram_size);
	return 0;
}

/* Guest RAM is anonymous memory, aligned to 2 MiB so that huge pages
 * can back it: Debian turns transparent huge pages on for anonymous
 * memory but off for shmem (a memfd), and a guest on 4 KiB pages boots
 * and runs markedly slower (#18). MADV_DONTFORK keeps a fork from
 * sharing it copy-on-write. */
#define RAM_ALIGN (2u << 20)

int gmem_alloc(struct gmem *m, uint64_t ram_size, struct error *err)
{
	uint8_t *p, *a;
	size_t len;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (check_size(ram_size, err) < 0)
		return -1;
	len = (size_t)ram_size + RAM_ALIGN;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return err_sys(err, "cannot map %llu bytes of guest memory",
			       (unsigned long long)ram_size);
	a = (uint8_t *)(((uintptr_t)p + RAM_ALIGN - 1) & ~(uintptr_t)(RAM_ALIGN - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + ram_size < p + len)
		munmap(a + ram_size, (size_t)(p + len - (a + ram_size)));
#ifdef MADV_HUGEPAGE
	madvise(a, ram_size, MADV_HUGEPAGE); /* best effort: THP may be off */
#endif
#ifdef MADV_DONTFORK
	madvise(a, ram_size, MADV_DONTFORK);
#endif
	gmem_layout(m, a, ram_size);
	m->map = a;
	m->map_size = ram_size;
	return 0;
}

void gmem_free(struct gmem *m)
{
	free(m->dirty);
	if (m->map) {	/* fd (a restored memory file) is ours only with a mapping */
		munmap(m->map, m->map_size);
		if (m->fd >= 0)
			close(m->fd);
	}
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, size_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->region[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off >= r->size)
			continue;
		if (len > r->size - off) /* no overflow: off < size */
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len,
	       struct error *err)
{
	void *dst = gmem_ptr(m, gpa, len);

	if (!dst)
		return err_set(err, "guest range 0x%llx+0x%zx is outside RAM",
			       (unsigned long long)gpa, len);
	memcpy(dst, src, len);
	return 0;
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len,
	      struct error *err)
{
	const void *src = gmem_ptr(m, gpa, len);

	if (!src)
		return err_set(err, "guest range 0x%llx+0x%zx is outside RAM",
			       (unsigned long long)gpa, len);
	memcpy(dst, src, len);
	return 0;
}

/* ---- pages the VMM writes ---- */

#define DIRTY_PAGE 4096u

size_t gmem_dirty_words(const struct gmem *m)
{
	return (size_t)((m->ram_size / DIRTY_PAGE + 63) / 64);
}

int gmem_dirty_start(struct gmem *m, struct error *err)
{
	if (!m->dirty) {
		m->dirty = calloc(gmem_dirty_words(m), sizeof(uint64_t));
		if (!m->dirty)
			return err_set(err, "out of memory for the dirty bitmap");
	} else {
		/* Marks left by an earlier (failed) migration: its first pass
		 * sends every page anyway. */
		memset(m->dirty, 0, gmem_dirty_words(m) * sizeof(uint64_t));
	}
	__atomic_store_n(&m->dirty_on, 1, __ATOMIC_RELEASE);
	return 0;
}

void gmem_dirty_stop(struct gmem *m)
{
	__atomic_store_n(&m->dirty_on, 0, __ATOMIC_RELEASE);
}

void gmem_dirty_mark(const struct gmem *m, const void *p, size_t len)
{
	const uint8_t *base = m->nregions ? m->region[0].hva : NULL;
	uint64_t off, first, last;

	if (!__atomic_load_n(&m->dirty_on, __ATOMIC_ACQUIRE) || !len || !base ||
	    (const uint8_t *)p < base)
		return;
	off = (uint64_t)((const uint8_t *)p - base);
	if (off >= m->ram_size || len > m->ram_size - off)
		return;
	first = off / DIRTY_PAGE;
	last = (off + len - 1) / DIRTY_PAGE;
	for (uint64_t pg = first; pg <= last; pg++)
		__atomic_fetch_or(&m->dirty[pg / 64], 1ull << (pg % 64),
				  __ATOMIC_RELEASE);
}

void gmem_dirty_take(struct gmem *m, uint64_t *out)
{
	size_t n = gmem_dirty_words(m);

	if (!m->dirty)
		return;
	for (size_t i = 0; i < n; i++)
		if (__atomic_load_n(&m->dirty[i], __ATOMIC_RELAXED))
			out[i] |= __atomic_exchange_n(&m->dirty[i], 0,
						      __ATOMIC_ACQUIRE);
}

/* ---- snapshot and restore of RAM ---- */

#define PAGE       4096u
#define SCAN_CHUNK (64u << 20)  /* RAM looked at per residency query */
#define BATCH      (16u << 20)  /* most bytes handed to one write */

static bool page_zero(const uint8_t *p, size_t len)
{
	return p[0] == 0 && !memcmp(p, p + 1, len - 1);
}

/* vec[i] = 1 for each page of [p, p + npages pages) in memory or swap.
 * Fresh RAM is anonymous; a restored guest's RAM is a MAP_PRIVATE file
 * mapping whose written pages are anonymous: only the page tables know
 * either. pagemap says present (bit 63) or swapped (bit 62). Without
 * pagemap every page is looked at: reading an untouched anonymous page
 * maps the zero page and allocates nothing (mincore would miss swap). */
static void mark_resident(int pagemap, uint8_t *p, size_t npages,
			  uint64_t *pm, uint8_t *vec)
{
	size_t n = npages * sizeof(uint64_t);

	if (pagemap >= 0 &&
	    pread(pagemap, pm, n, (off_t)((uintptr_t)p / PAGE * 8)) == (ssize_t)n) {
		for (size_t i = 0; i < npages; i++)
			vec[i] = (pm[i] >> 62) != 0;
		return;
	}
	memset(vec, 1, npages);
}

/* vec[i] |= 1 for each page of file range [start, start + len) that holds
 * data in fd (the memory file a restored guest maps). */
static void mark_data(int fd, uint64_t start, uint64_t len, uint8_t *vec)
{
	uint64_t pos = start, end = start + len;

	while (pos < end) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			return;			/* no data after pos */
		if (d < 0) {			/* no SEEK_DATA: all of it */
			d = (off_t)pos;
			h = (off_t)end;
		} else {
			if ((uint64_t)d >= end)
				return;
			h = lseek(fd, d, SEEK_HOLE);
			if (h < 0 || (uint64_t)h > end)
				h = (off_t)end;
		}
		memset(vec + ((uint64_t)d - start) / PAGE, 1,
		       ((uint64_t)h - start + PAGE - 1) / PAGE -
		       ((uint64_t)d - start) / PAGE);
		pos = (uint64_t)h;
	}
}

/* Calls fn for each run of non-zero pages of RAM, in RAM order, at most
 * BATCH bytes at a time. Pages neither in the backing file nor resident
 * are holes and never read (reading would allocate them). */
int gmem_walk_data(const struct gmem *m, gmem_run_fn fn, void *ctx,
		   struct error *err)
{
	uint8_t *vec = malloc(SCAN_CHUNK / PAGE);
	uint64_t *pm = malloc(SCAN_CHUNK / PAGE * sizeof(uint64_t));
	int pagemap = -1, rc = -1;
	uint64_t base = 0;

	if (!vec || !pm) {
		err_set(err, "out of memory");
		goto out;
	}
	if (m->map)
		pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	for (unsigned r = 0; r < m->nregions; r++) {
		const struct gmem_region *g = &m->region[r];

		for (uint64_t c = 0; c < g->size; c += SCAN_CHUNK) {
			size_t clen = g->size - c < SCAN_CHUNK ? g->size - c : SCAN_CHUNK;
			size_t np = (clen + PAGE - 1) / PAGE, run = 0, start = 0;

			if (!m->map) {		/* fake memory: look at it all */
				memset(vec, 1, np);
			} else {
				mark_resident(pagemap, g->hva + c, np, pm, vec);
				if (m->fd >= 0)	/* restored: the file's pages too */
					mark_data(m->fd, base + c, clen, vec);
			}
			for (size_t i = 0; i < np; i++) {
				size_t off = i * PAGE;
				size_t len = clen - off < PAGE ? clen - off : PAGE;
				bool keep = vec[i] && !page_zero(g->hva + c + off, len);

				if (keep && !run)
					start = off;
				if (keep)
					run += len;
				if (run && (!keep || run >= BATCH || i == np - 1)) {
					if (fn(ctx, base + c + start, g->hva + c + start,
					       run, err) < 0)
						goto out;
					run = 0;
				}
			}
		}
		base += g->size;
	}
	rc = 0;
out:
	if (pagemap >= 0)
		close(pagemap);
	free(pm);
	free(vec);
	return rc;
}

struct save_ctx {
	int fd;
	uint64_t written;
};

static int save_run(void *ctx, uint64_t off, const uint8_t *p, size_t len,
		    struct error *err)
{
	struct save_ctx *s = ctx;

	while (len) {
		ssize_t n = pwrite(s->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? err_sys(err, "cannot write the memory file")
				     : err_set(err, "cannot write the memory file");
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
		s->written += (uint64_t)n;
	}
	return 0;
}

int gmem_save(const struct gmem *m, int fd, uint64_t *written, struct error *err)
{
	struct save_ctx s = { fd, 0 };

	*written = 0;
	/* Empty first: what was in the file must not show through holes */
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)m->ram_size) < 0)
		return err_sys(err, "cannot size the memory file");
	if (gmem_walk_data(m, save_run, &s, err) < 0)
		return -1;
	*written = s.written;
	return 0;
}

int gmem_map_file(struct gmem *m, uint64_t ram_size, int fd, struct error *err)
{
	struct stat st;
	void *p;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (check_size(ram_size, err) < 0)
		goto fail;
	if (fstat(fd, &st) < 0) {
		err_sys(err, "memory file");
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != ram_size) {
		err_input(err, "memory file: %lld bytes, the guest has %llu bytes "
			  "of RAM", (long long)st.st_size,
			  (unsigned long long)ram_size);
		goto fail;
	}
	p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		err_sys(err, "cannot map the memory file");
		goto fail;
	}
	gmem_layout(m, p, ram_size);
	m->map = p;
	m->map_size = ram_size;
	m->fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* ---- compressed: memory.z ----
 * One compressed stream, zstd (one frame; what vessel writes) or zlib
 * (RFC 1950; written before zstd, still read), told apart by its first
 * bytes, which decompresses to
 *   "VESSELMZ" | u32 version (1) | u32 flags (0) | u64 ram_size
 *   runs: u64 RAM offset | u64 length | length bytes
 * runs ascending, not overlapping, inside ram_size; RAM outside every
 * run is zero. The stream's own end (and checksum) ends it. */
#define MZ_MAGIC   "VESSELMZ"
#define MZ_VERSION 1
#define MZ_HDR_LEN 24
#define MZ_IO      (1u << 20)
#define MZ_LEVEL   1            /* zstd: fast; about zlib 1's ratio */
#define MZ_WORKERS 2            /* zstd threads beside the caller's */
#define MZ_WINDOW_LOG_MAX 24    /* a reader's bound: 16 MiB of window */

struct zsave_ctx {
	ZSTD_CCtx *c;
	int fd;
	uint64_t written;
	uint8_t out[MZ_IO];
};

/* Compress len bytes and write what comes out; end: finish the frame. */
static int z_push(struct zsave_ctx *c, const void *p, size_t len, bool end,
		  struct error *err)
{
	ZSTD_inBuffer in = { p, len, 0 };
	size_t left;

	do {
		ZSTD_outBuffer out = { c->out, sizeof(c->out), 0 };

		left = ZSTD_compressStream2(c->c, &out, &in,
					    end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(left))
			return err_set(err, "memory file: zstd: %s",
				       ZSTD_getErrorName(left));
		if (write_all(c->fd, c->out, out.pos) < 0)
			return err_sys(err, "cannot write the memory file");
		c->written += out.pos;
	} while (end ? left != 0 : in.pos < in.size);
	return 0;
}

static int zsave_run(void *ctx, uint64_t off, const uint8_t *p, size_t len,
		     struct error *err)
{
	uint8_t h[16];

	le64(h, off);
	le64(h + 8, len);
	if (z_push(ctx, h, sizeof(h), false, err) < 0)
		return -1;
	return z_push(ctx, p, len, false, err);
}

int gmem_save_z(const struct gmem *m, int fd, uint64_t *written, struct error *err)
{
	struct zsave_ctx *c = calloc(1, sizeof(*c));
	uint8_t h[MZ_HDR_LEN] = MZ_MAGIC;
	int rc = -1;

	*written = 0;
	if (!c)
		return err_set(err, "out of memory");
	c->fd = fd;
	c->c = ZSTD_createCCtx();
	if (!c->c ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->c, ZSTD_c_compressionLevel,
						MZ_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c->c, ZSTD_c_checksumFlag, 1))) {
		err_set(err, "memory file: zstd: cannot set up the compressor");
		goto out;
	}
	/* Threads where libzstd has them; without, it compresses inline. */
	ZSTD_CCtx_setParameter(c->c, ZSTD_c_nbWorkers, MZ_WORKERS);
	h[8] = MZ_VERSION;	/* u32 version; flags 0 */
	le64(h + 16, m->ram_size);
	if (z_push(c, h, sizeof(h), false, err) < 0 ||
	    gmem_walk_data(m, zsave_run, c, err) < 0 ||
	    z_push(c, NULL, 0, true, err) < 0)
		goto out;
	*written = c->written;
	rc = 0;
out:
	ZSTD_freeCCtx(c->c);
	free(c);
	return rc;
}

/* The reading side: a decompressor over fd, zstd or zlib. */
struct zload {
	int fd;
	bool zstd, eof, ended;
	z_stream z;
	ZSTD_DCtx *d;
	uint8_t *in;            /* MZ_IO bytes */
	size_t in_len, in_pos;  /* zstd's unread input: in[in_pos, in_len) */
};

static int zl_refill(struct zload *l, struct error *err)
{
	ssize_t n;

	do
		n = read(l->fd, l->in, MZ_IO);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_sys(err, "cannot read memory.z");
	l->eof = n == 0;
	l->in_len = (size_t)n;
	l->in_pos = 0;
	l->z.next_in = l->in;
	l->z.avail_in = (uInt)n;
	return 0;
}

/* Up to want bytes of the stream into out: the count, 0 once the stream
 * ended, -1 on an error (a bad or truncated stream: err_input). */
static ssize_t zl_read(struct zload *l, uint8_t *out, size_t want,
		       struct error *err)
{
	if (want > (1u << 30))
		want = 1u << 30;
	while (!l->ended) {
		size_t got;

		if (l->zstd) {
			ZSTD_outBuffer o = { out, want, 0 };
			ZSTD_inBuffer in;
			size_t r;

			if (l->in_pos == l->in_len && !l->eof &&
			    zl_refill(l, err) < 0)
				return -1;
			in = (ZSTD_inBuffer){ l->in, l->in_len, l->in_pos };
			r = ZSTD_decompressStream(l->d, &o, &in);
			l->in_pos = in.pos;
			if (ZSTD_isError(r))
				return err_input(err, "memory.z: bad stream (%s)",
						 ZSTD_getErrorName(r));
			l->ended = r == 0;      /* the frame is whole and out */
			got = o.pos;
			if (!got && !l->ended && l->eof && l->in_pos == l->in_len)
				return err_input(err, "memory.z: truncated");
		} else {
			int zr;

			if (l->z.avail_in == 0 && !l->eof && zl_refill(l, err) < 0)
				return -1;
			l->z.next_out = out;
			l->z.avail_out = (uInt)want;
			zr = inflate(&l->z, Z_NO_FLUSH);
			if (zr == Z_MEM_ERROR)
				return err_set(err, "memory.z: out of memory");
			if ((zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) ||
			    (zr == Z_BUF_ERROR && l->z.avail_in))
				return err_input(err, "memory.z: bad stream (%s)",
						 l->z.msg ? l->z.msg : "inflate failed");
			l->ended = zr == Z_STREAM_END;
			got = want - l->z.avail_out;
			if (!got && zr == Z_BUF_ERROR && l->eof)
				return err_input(err, "memory.z: truncated");
		}
		if (got)
			return (ssize_t)got;
	}
	return 0;
}

/* Exactly n bytes into out: 1, or 0 if the stream ended before the first
 * byte, or -1 (err says why; ending inside is an error naming what). */
static int zl_exact(struct zload *l, uint8_t *out, uint64_t n,
		    const char *what, struct error *err)
{
	uint64_t got = 0;

	while (got < n) {
		ssize_t r = zl_read(l, out + got, n - got, err);

		if (r < 0)
			return -1;
		if (r == 0) {
			if (!got)
				return 0;
			return err_input(err, "memory.z: the stream ends inside "
					 "a %s", what);
		}
		got += (uint64_t)r;
	}
	return 1;
}

/* Decompress fd into m's RAM, checking the stream as hostile input. */
static int load_runs(struct gmem *m, struct zload *l, struct error *err)
{
	uint8_t h[MZ_HDR_LEN];
	uint64_t end = 0;
	char extra;
	int r;

	if ((r = zl_exact(l, h, MZ_HDR_LEN, "header", err)) <= 0)
		return r < 0 ? -1 : err_input(err, "memory.z: the stream ends "
					      "inside a header");
	if (memcmp(h, MZ_MAGIC, 8))
		return err_input(err, "memory.z: not a vessel memory file");
	if (rd64(h + 8) != MZ_VERSION)  /* version 1, flags 0 */
		return err_input(err, "memory.z: version %u flags 0x%x, this "
				 "vessel reads version %u", (unsigned)rd64(h + 8),
				 (unsigned)(rd64(h + 8) >> 32), MZ_VERSION);
	if (rd64(h + 16) != m->ram_size)
		return err_input(err, "memory.z: holds %llu bytes of RAM, the "
				 "guest has %llu", (unsigned long long)rd64(h + 16),
				 (unsigned long long)m->ram_size);
	for (;;) {
		uint64_t off, len;

		if ((r = zl_exact(l, h, 16, "header", err)) < 0)
			return -1;
		if (r == 0)
			break;
		off = rd64(h);
		len = rd64(h + 8);
		if (off < end || off > m->ram_size || len > m->ram_size - off)
			return err_input(err, "memory.z: bad run 0x%llx+0x%llx (RAM "
					 "is 0x%llx bytes)", (unsigned long long)off,
					 (unsigned long long)len,
					 (unsigned long long)m->ram_size);
		end = off + len;
		if (len && (r = zl_exact(l, (uint8_t *)m->map + off, len, "run",
					 err)) != 1)
			return r < 0 ? -1 : err_input(err, "memory.z: the stream "
						      "ends inside a run");
	}
	if ((l->zstd ? l->in_pos < l->in_len : l->z.avail_in != 0) ||
	    (!l->eof && read(l->fd, &extra, 1) > 0))
		return err_input(err, "memory.z: data after the end of the stream");
	return 0;
}

static int load_stream(struct gmem *m, int fd, uint8_t *in, struct error *err)
{
	static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	struct zload l = { .fd = fd, .in = in };
	int rc;

	if (zl_refill(&l, err) < 0)
		return -1;
	l.zstd = l.in_len >= 4 && !memcmp(in, zstd_magic, 4);
	if (l.zstd) {
		l.d = ZSTD_createDCtx();
		if (!l.d || ZSTD_isError(ZSTD_DCtx_setParameter(l.d,
				ZSTD_d_windowLogMax, MZ_WINDOW_LOG_MAX))) {
			ZSTD_freeDCtx(l.d);
			return err_set(err, "memory.z: cannot set up zstd");
		}
	} else if (inflateInit(&l.z) != Z_OK) {
		return err_set(err, "memory.z: inflate failed");
	}
	rc = load_runs(m, &l, err);
	if (l.zstd)
		ZSTD_freeDCtx(l.d);
	else
		inflateEnd(&l.z);
	return rc;
}

int gmem_load_z(struct gmem *m, uint64_t ram_size, int fd, struct error *err)
{
	uint8_t *in = malloc(MZ_IO);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (!in)
		return err_set(err, "out of memory");
	if (gmem_alloc(m, ram_size, err) < 0) {
		free(in);
		return -1;
	}
	if (load_stream(m, fd, in, err) < 0) {
		free(in);
		gmem_free(m);
		return -1;
	}
	free(in);
	return 0;
}

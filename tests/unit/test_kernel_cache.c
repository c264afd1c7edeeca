/* The kernel cache and what it rests on: SHA-256 against FIPS 180-4's
 * examples; each payload format round-tripped through the decompressor
 * (payloads made here with zlib, liblzma, libzstd and liblz4, the size
 * word appended as the kernel's build does) and rejected when it lies
 * about its size, is cut short or sits outside its bzImage; the cache
 * directory's rules; entries stored, found, and refused when damaged; the
 * whole boot_setup() path (miss, hit, a corrupted entry rebuilt,
 * kernel_cache: false); and the 64-bit entry of an ELF without a PVH note.
 * Results are checked from bytes on disk and in fake guest RAM at the
 * formats' offsets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "../../boot/kcache.h"
#include "../../boot/layout.h"
#include "../../boot/loader.h"
#include "../../boot/payload.h"
#include "../../tools/base/sha256.h"
#include "../../tools/config.h"
#include "../../vmm/timeline.h"
#include "fake_kernel.h"

#define MiB		(1ULL << 20)
#define PVH_ENTRY	0x1000c0
#define STUB_LEN	0x200	/* "decompressor" bytes before the payload */
#define CMDLINE		"console=ttyS0 quiet"

/* ---- SHA-256 ---------------------------------------------------------- */

static uint8_t *sample(size_t n, uint8_t seed);

static void hex_of(const void *data, size_t len, char *hex)
{
	uint8_t d[SHA256_LEN];

	sha256(data, len, d);
	sha256_hex(d, hex);
}

static void sha256_vectors(bool cpu)
{
	char hex[2 * SHA256_LEN + 1];
	static const char two_blocks[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct sha256 s;
	uint8_t d[SHA256_LEN], *big;

	sha256_use_cpu(cpu);
	hex_of("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	hex_of("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	hex_of(two_blocks, strlen(two_blocks), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
				 "a33ce45964ff2167f6ecedd419db06c1");
	/* A million 'a's, fed in uneven pieces across block boundaries */
	big = malloc(1000000);
	assert_non_null(big);
	memset(big, 'a', 1000000);
	sha256_init(&s);
	for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 997 + 1)
		sha256_update(&s, big + off, off + step > 1000000 ? 1000000 - off : step);
	sha256_final(&s, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
				 "f1809a48a497200e046d39ccc7112cd0");
	free(big);
}

/* The portable code, then the CPU's SHA extensions (the same code again
 * where the CPU lacks them: the test says so). */
static void test_sha256_vectors(void **state)
{
	(void)state;
	sha256_vectors(false);
	if (!sha256_x86_available())
		print_message("no SHA extensions here: portable code only\n");
	sha256_vectors(true);
}

/* Both implementations agree on every length around block boundaries. */
static void test_sha256_implementations_agree(void **state)
{
	uint8_t *p = sample(70000, 3), a[SHA256_LEN], b[SHA256_LEN];

	(void)state;
	for (size_t len = 0; len < 70000; len += len < 300 ? 1 : 997) {
		sha256_use_cpu(false);
		sha256(p, len, a);
		sha256_use_cpu(true);
		sha256(p, len, b);
		if (memcmp(a, b, SHA256_LEN))
			fail_msg("the implementations differ at length %zu", len);
	}
	free(p);
}

/* ---- payloads, made with the libraries themselves ---------------------- */

static const enum payload_format formats[] = {
	PAYLOAD_GZIP, PAYLOAD_XZ, PAYLOAD_LZMA, PAYLOAD_ZSTD, PAYLOAD_LZ4,
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

/* out has room for compressBound-like growth: the tests' inputs compress. */
static size_t compress_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = n;
	z.next_out = out;
	z.avail_out = cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

/* As the kernel's xz_wrap.sh: the x86 BCJ filter, LZMA2, a CRC32 check. */
static size_t compress_xz(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	lzma_options_lzma opt;
	lzma_filter f[3];
	size_t pos = 0;

	assert_false(lzma_lzma_preset(&opt, 6));
	f[0] = (lzma_filter){ LZMA_FILTER_X86, NULL };
	f[1] = (lzma_filter){ LZMA_FILTER_LZMA2, &opt };
	f[2] = (lzma_filter){ LZMA_VLI_UNKNOWN, NULL };
	assert_int_equal(lzma_stream_buffer_encode(f, LZMA_CHECK_CRC32, NULL, in,
						   n, out, &pos, cap), LZMA_OK);
	return pos;
}

static size_t compress_lzma(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	lzma_ret r;

	assert_false(lzma_lzma_preset(&opt, 6));
	assert_int_equal(lzma_alone_encoder(&s, &opt), LZMA_OK);
	s.next_in = in;
	s.avail_in = n;
	s.next_out = out;
	s.avail_out = cap;
	do
		r = lzma_code(&s, LZMA_FINISH);
	while (r == LZMA_OK);
	assert_int_equal(r, LZMA_STREAM_END);
	lzma_end(&s);
	return cap - s.avail_out;
}

/* With a checksum, as the zstd tool writes by default. */
static size_t compress_zstd(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t r;

	assert_non_null(c);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)));
	r = ZSTD_compress2(c, out, cap, in, n);
	ZSTD_freeCCtx(c);
	assert_false(ZSTD_isError(r));
	return r;
}

/* The legacy frame of `lz4 -l`: the magic, then (u32 length, block) for
 * each 8 MiB of input. */
static size_t compress_lz4(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t pos = 4;

	set32(out, 0x184c2102);
	for (size_t off = 0; off < n; off += 8 * MiB) {
		size_t chunk = n - off < 8 * MiB ? n - off : 8 * MiB;
		int c = LZ4_compress_default((const char *)in + off,
					     (char *)out + pos + 4, (int)chunk,
					     (int)(cap - pos - 4));

		assert_true(c > 0);
		set32(out + pos, (uint32_t)c);
		pos += 4 + (size_t)c;
	}
	return pos;
}

/* The payload of in as the kernel's build makes it: the stream, then (not
 * for gzip, whose trailer ends in it) the size as a little-endian word.
 * Returns a malloc'd buffer of *len bytes. */
static uint8_t *make_payload(enum payload_format f, const uint8_t *in,
			     size_t n, uint32_t declared, size_t *len)
{
	size_t cap = n + n / 2 + 4096, c = 0;
	uint8_t *out = malloc(cap + 4);

	assert_non_null(out);
	switch (f) {
	case PAYLOAD_GZIP: c = compress_gzip(in, n, out, cap); break;
	case PAYLOAD_XZ: c = compress_xz(in, n, out, cap); break;
	case PAYLOAD_LZMA: c = compress_lzma(in, n, out, cap); break;
	case PAYLOAD_ZSTD: c = compress_zstd(in, n, out, cap); break;
	case PAYLOAD_LZ4: c = compress_lz4(in, n, out, cap); break;
	default: fail();
	}
	if (f == PAYLOAD_GZIP)
		set32(out + c - 4, declared);   /* ISIZE */
	else
		set32(out + (c += 4) - 4, declared);
	*len = c;
	return out;
}

/* Input that compresses, yet is not all one byte. */
static uint8_t *sample(size_t n, uint8_t seed)
{
	uint8_t *p = malloc(n);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (i % 4096 < 512) ? pattern_byte(i / 7, seed) : (uint8_t)(i >> 12);
	return p;
}

static void roundtrip(enum payload_format f, size_t n)
{
	uint8_t *in = sample(n, (uint8_t)f), *p, *out = NULL;
	struct payload pl;
	struct fenced img;
	struct error err = { 0 };
	size_t len;

	p = make_payload(f, in, n, (uint32_t)n, &len);
	fenced_copy(&img, p, len, FENCE_END);   /* a read past the end faults */
	if (payload_parse(img.p, img.len, PAYLOAD_MAX_SIZE, &pl, &err) < 0)
		fail_msg("%s: %s", payload_format_name(f), err.msg);
	assert_int_equal(pl.format, f);
	assert_int_equal(pl.size, n);
	if (payload_decompress(&pl, &out, &err) < 0)
		fail_msg("%s: %s", payload_format_name(f), err.msg);
	assert_memory_equal(out, in, n);
	free(out);
	fenced_free(&img);
	free(p);
	free(in);
}

static void test_roundtrip_gzip(void **state) { (void)state; roundtrip(PAYLOAD_GZIP, 300000); }
static void test_roundtrip_xz(void **state) { (void)state; roundtrip(PAYLOAD_XZ, 300000); }
static void test_roundtrip_lzma(void **state) { (void)state; roundtrip(PAYLOAD_LZMA, 300000); }
static void test_roundtrip_zstd(void **state) { (void)state; roundtrip(PAYLOAD_ZSTD, 300000); }
static void test_roundtrip_lz4(void **state) { (void)state; roundtrip(PAYLOAD_LZ4, 300000); }

/* lz4's legacy frame in more than one block */
static void test_roundtrip_lz4_blocks(void **state)
{
	(void)state;
	roundtrip(PAYLOAD_LZ4, 8 * MiB + 12345);
}

/* decompress a payload of in whose size word says declared; -1 expected
 * with word in the message. */
static void expect_bad(enum payload_format f, const uint8_t *p, size_t len,
		       const char *word)
{
	struct payload pl;
	struct error err = { 0 };
	uint8_t *out = (uint8_t *)1;
	struct fenced img;

	fenced_copy(&img, p, len, FENCE_END);
	if (payload_parse(img.p, img.len, PAYLOAD_MAX_SIZE, &pl, &err) == 0) {
		assert_int_equal(pl.format, f);
		assert_int_equal(payload_decompress(&pl, &out, &err), -1);
		assert_null(out);
	}
	if (!strstr(err.msg, word))
		fail_msg("%s: message \"%s\" lacks \"%s\"", payload_format_name(f),
			 err.msg, word);
	fenced_free(&img);
}

/* Each format, declaring one byte less than it holds: never written past. */
static void test_reject_larger_than_declared(void **state)
{
	uint8_t *in = sample(100000, 9), *p;
	size_t len;

	(void)state;
	for (unsigned i = 0; i < NFORMATS; i++) {
		p = make_payload(formats[i], in, 100000, 100000 - 1, &len);
		expect_bad(formats[i], p, len, formats[i] == PAYLOAD_LZ4 ?
			   "corrupt, or inflates beyond" : "beyond");
		free(p);
	}
	free(in);
}

static void test_reject_smaller_than_declared(void **state)
{
	uint8_t *in = sample(100000, 10), *p;
	size_t len;

	(void)state;
	for (unsigned i = 0; i < NFORMATS; i++) {
		p = make_payload(formats[i], in, 100000, 100000 + 1, &len);
		/* gzip and lzma's own checks may see it first */
		expect_bad(formats[i], p, len, "");
		free(p);
	}
	free(in);
}

/* The stream cut in half, the size word kept */
static void test_reject_truncated(void **state)
{
	uint8_t *in = sample(100000, 11), *p;
	size_t len, cut;

	(void)state;
	for (unsigned i = 0; i < NFORMATS; i++) {
		p = make_payload(formats[i], in, 100000, 100000, &len);
		cut = len / 2;
		memcpy(p + cut - 4, p + len - 4, 4);
		expect_bad(formats[i], p, cut, "");
		free(p);
	}
	free(in);
}

/* Every byte of a small xz and zstd payload flipped in turn: an error or
 * the right bytes (a flip in padding), never a crash or a wrong success. */
static void test_reject_flipped_bytes(void **state)
{
	static const enum payload_format some[] = { PAYLOAD_XZ, PAYLOAD_ZSTD,
						    PAYLOAD_GZIP, PAYLOAD_LZ4 };
	uint8_t *in = sample(6000, 12), *p, *out;
	struct payload pl;
	struct error err;
	size_t len;

	(void)state;
	for (unsigned f = 0; f < 4; f++) {
		p = make_payload(some[f], in, 6000, 6000, &len);
		for (size_t i = 0; i < len - 4; i++) {
			p[i] ^= 0x10;
			if (payload_parse(p, len, PAYLOAD_MAX_SIZE, &pl, &err) == 0 &&
			    payload_decompress(&pl, &out, &err) == 0) {
				/* lz4 has no checksum: only the bounds hold */
				if (some[f] != PAYLOAD_LZ4 && memcmp(out, in, 6000))
					fail_msg("%s: byte %zu flipped, wrong output "
						 "accepted", payload_format_name(some[f]), i);
				free(out);
			}
			p[i] ^= 0x10;
		}
		free(p);
	}
	free(in);
}

static void test_reject_sizes_and_formats(void **state)
{
	uint8_t buf[64] = { 0x1f, 0x8b, 0x08 };
	struct payload pl;
	struct error err = { 0 };

	(void)state;
	set32(buf + 60, 0);
	assert_int_equal(payload_parse(buf, 64, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	assert_non_null(strstr(err.msg, "declares 0 bytes"));
	set32(buf + 60, PAYLOAD_MAX_SIZE + 1);
	assert_int_equal(payload_parse(buf, 64, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	assert_non_null(strstr(err.msg, "limit"));
	set32(buf + 60, 4096);
	assert_int_equal(payload_parse(buf, 64, 4095, &pl, &err), -1);
	assert_int_equal(payload_parse(buf, 9, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	assert_non_null(strstr(err.msg, "too short"));
	memcpy(buf, "\x13\x37\x00\x00", 4);
	assert_int_equal(payload_parse(buf, 64, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	assert_non_null(strstr(err.msg, "unknown format"));
	/* bzip2 and lzo are recognised, not decompressed */
	memcpy(buf, "BZh9", 4);
	assert_int_equal(payload_parse(buf, 64, PAYLOAD_MAX_SIZE, &pl, &err), 0);
	assert_int_equal(pl.format, PAYLOAD_BZIP2);
	uint8_t *out = (uint8_t *)1;
	assert_int_equal(payload_decompress(&pl, &out, &err), -1);
	assert_null(out);
	assert_non_null(strstr(err.msg, "bzip2"));
}

/* ---- the payload inside a bzImage -------------------------------------- */

/* A fake bzImage whose protected-mode part is STUB_LEN bytes of stub, then
 * the payload; the header's payload_offset/length point at it. */
static void bz_with_payload(struct fenced *f, const uint8_t *p, size_t len)
{
	struct fake_bz k;
	size_t setup;

	fake_bz_defaults(&k);
	k.payload_len = STUB_LEN + len;
	k.init_size = 0x4000000;
	fake_bz_make(&k, f);
	setup = fake_bz_setup_size(&k);
	set32(f->p + 0x248, STUB_LEN);
	set32(f->p + 0x24c, (uint32_t)len);
	memcpy(f->p + setup + STUB_LEN, p, len);
}

static void test_bzimage_payload(void **state)
{
	uint8_t *in = sample(50000, 13), *p;
	struct payload pl;
	struct fenced bz;
	struct error err = { 0 };
	size_t len;

	(void)state;
	p = make_payload(PAYLOAD_ZSTD, in, 50000, 50000, &len);
	bz_with_payload(&bz, p, len);
	if (bzimage_payload(bz.p, bz.len, PAYLOAD_MAX_SIZE, &pl, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(pl.format, PAYLOAD_ZSTD);
	assert_int_equal(pl.size, 50000);
	assert_ptr_equal(pl.data, bz.p + 4 * 512 + STUB_LEN);
	assert_int_equal(pl.len, len - 4);

	/* length one past the file's end; offset past it; both huge */
	set32(bz.p + 0x24c, (uint32_t)len + 1);
	assert_int_equal(bzimage_payload(bz.p, bz.len, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	assert_non_null(strstr(err.msg, "outside"));
	set32(bz.p + 0x24c, (uint32_t)len);
	set32(bz.p + 0x248, STUB_LEN + 1);
	assert_int_equal(bzimage_payload(bz.p, bz.len, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	set32(bz.p + 0x248, 0xffffffff);
	set32(bz.p + 0x24c, 0xffffffff);
	assert_int_equal(bzimage_payload(bz.p, bz.len, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	/* setup_sects pointing past the file */
	set32(bz.p + 0x248, STUB_LEN);
	set32(bz.p + 0x24c, (uint32_t)len);
	bz.p[0x1f1] = 0xff;
	assert_int_equal(bzimage_payload(bz.p, bz.len, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	bz.p[0x1f1] = 3;
	/* protocol 2.07 has no payload fields */
	set16(bz.p + 0x206, 0x0207);
	assert_int_equal(bzimage_payload(bz.p, bz.len, PAYLOAD_MAX_SIZE, &pl, &err), -1);
	assert_non_null(strstr(err.msg, "too old"));
	fenced_free(&bz);
	free(p);
	free(in);
}

/* ---- the cache directory ----------------------------------------------- */

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[512];

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rm_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

static char *scratch(void)
{
	char *t = strdup("/tmp/vessel-kcache-XXXXXX");

	assert_non_null(t);
	assert_non_null(mkdtemp(t));
	return t;
}

static void test_dir_choice(void **state)
{
	char buf[256];
	struct error err = { 0 };

	(void)state;
	assert_int_equal(kcache_dir_for(1000, "/srv/kc", "/x", "/home/u", buf,
					sizeof(buf), &err), 0);
	assert_string_equal(buf, "/srv/kc");
	assert_int_equal(kcache_dir_for(0, NULL, "/x", "/root", buf, sizeof(buf),
					&err), 0);
	assert_string_equal(buf, "/var/cache/vessel/kernels");
	assert_int_equal(kcache_dir_for(1000, NULL, "/x/c", "/home/u", buf,
					sizeof(buf), &err), 0);
	assert_string_equal(buf, "/x/c/vessel/kernels");
	assert_int_equal(kcache_dir_for(1000, "", "", "/home/u", buf,
					sizeof(buf), &err), 0);
	assert_string_equal(buf, "/home/u/.cache/vessel/kernels");
	/* relative settings are ignored */
	assert_int_equal(kcache_dir_for(1000, "kc", "cache", "/home/u", buf,
					sizeof(buf), &err), 0);
	assert_string_equal(buf, "/home/u/.cache/vessel/kernels");
	assert_int_equal(kcache_dir_for(1000, NULL, NULL, "home", buf,
					sizeof(buf), &err), -1);
	assert_int_equal(kcache_dir_for(1000, NULL, NULL, NULL, buf,
					sizeof(buf), &err), -1);
	assert_int_equal(kcache_dir_for(1000, "/a/very/long/path", NULL, NULL,
					buf, 8, &err), -1);
}

static void test_dir_rules(void **state)
{
	char *t = scratch(), path[256], link[256];
	struct error err = { 0 };
	struct stat st;
	int fd;

	(void)state;
	/* missing levels are made, 0700 */
	snprintf(path, sizeof(path), "%s/a/b/kernels", t);
	fd = kcache_open_dir(path, &err);
	if (fd < 0)
		fail_msg("%s", err.msg);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(link, sizeof(link), "%s/a/b", t);
	assert_int_equal(stat(link, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* an existing 0755 directory is fine */
	assert_int_equal(chmod(path, 0755), 0);
	fd = kcache_open_dir(path, &err);
	assert_true(fd >= 0);
	close(fd);
	/* group- or world-writable: refused */
	assert_int_equal(chmod(path, 0770), 0);
	assert_int_equal(kcache_open_dir(path, &err), -1);
	assert_non_null(strstr(err.msg, "mode 770"));
	assert_int_equal(chmod(path, 0702), 0);
	assert_int_equal(kcache_open_dir(path, &err), -1);
	assert_int_equal(chmod(path, 0700), 0);
	/* a symlink to it: refused */
	snprintf(link, sizeof(link), "%s/link", t);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(kcache_open_dir(link, &err), -1);
	/* a file where the directory should be */
	snprintf(link, sizeof(link), "%s/file", t);
	close(open(link, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(kcache_open_dir(link, &err), -1);
	/* someone else's: refused (needs root to make one) */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 4321, 4321), 0);
		assert_int_equal(kcache_open_dir(path, &err), -1);
		assert_non_null(strstr(err.msg, "owner 4321"));
	}
	assert_int_equal(kcache_open_dir("relative/dir", &err), -1);
	rm_tree(t);
	free(t);
}

/* ---- entries ----------------------------------------------------------- */

struct cache {
	char *dir;
	int fd;
	uint8_t key[SHA256_LEN];
	char path[512];         /* the entry's file */
	uint8_t *elf;
	size_t len;
};

static void cache_init(struct cache *c, size_t len)
{
	struct error err = { 0 };
	char name[KCACHE_NAME_MAX];

	c->dir = scratch();
	c->fd = kcache_open_dir(c->dir, &err);
	assert_true(c->fd >= 0);
	sha256("some bzImage", 12, c->key);
	kcache_entry_name(c->key, name);
	snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, name);
	c->len = len;
	c->elf = sample(len, 14);
}

static void cache_free(struct cache *c)
{
	close(c->fd);
	rm_tree(c->dir);
	free(c->dir);
	free(c->elf);
}

static void put_ok(struct cache *c)
{
	struct error err = { 0 };

	if (kcache_put(c->fd, c->key, c->elf, c->len, &err) < 0)
		fail_msg("%s", err.msg);
}

static void expect_valid(struct cache *c)
{
	struct kcache_map m;
	struct error err = { 0 };

	if (kcache_get(c->fd, c->key, &m, &err) != KCACHE_VALID)
		fail_msg("entry not valid: %s", err.msg);
	assert_int_equal(m.len, c->len);
	assert_memory_equal(m.elf, c->elf, c->len);
	kcache_unmap(&m);
}

static void expect_bad_entry(struct cache *c, const char *word)
{
	struct kcache_map m;
	struct error err = { 0 };

	assert_int_equal(kcache_get(c->fd, c->key, &m, &err), KCACHE_BAD);
	assert_null(m.map);
	if (!strstr(err.msg, word))
		fail_msg("\"%s\" lacks \"%s\"", err.msg, word);
}

static unsigned count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || strstr(e->d_name, ".tmp") != NULL;
	closedir(d);
	return n;
}

static void test_entry_roundtrip(void **state)
{
	struct cache c;
	struct kcache_map m;
	struct error err = { 0 };
	struct stat st;
	uint8_t h[64];
	char hex[2 * SHA256_LEN + 1];
	FILE *f;

	(void)state;
	cache_init(&c, 70000);
	assert_int_equal(kcache_get(c.fd, c.key, &m, &err), KCACHE_ABSENT);
	put_ok(&c);
	expect_valid(&c);
	/* the file: "<sha256 hex>.vmlinux", header then the ELF, no leftovers */
	sha256_hex(c.key, hex);
	assert_non_null(strstr(c.path, hex));
	assert_int_equal(stat(c.path, &st), 0);
	assert_int_equal(st.st_size, 4096 + 70000);
	f = fopen(c.path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(h, 1, 64, f), 64);
	fclose(f);
	assert_memory_equal(h, "VESSELKC", 8);
	assert_int_equal(le64(h + 16), 70000);
	assert_memory_equal(h + 32, c.key, SHA256_LEN);
	assert_int_equal(count_files(c.dir), 1);
	/* a second put replaces it */
	c.elf[5] ^= 1;
	put_ok(&c);
	expect_valid(&c);
	assert_int_equal(count_files(c.dir), 1);
	cache_free(&c);
}

static void patch_file(const char *path, off_t off, uint8_t xor)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= xor;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void test_entry_damage(void **state)
{
	struct cache c;
	char other[600];
	uint8_t key2[SHA256_LEN];
	char name2[KCACHE_NAME_MAX];
	struct kcache_map m;
	struct error err = { 0 };

	(void)state;
	cache_init(&c, 50000);
	put_ok(&c);
	/* one byte of the ELF */
	patch_file(c.path, 4096 + 25000, 0x40);
	expect_bad_entry(&c, "checksum");
	put_ok(&c);             /* what the boot path does: rebuild */
	expect_valid(&c);
	/* the size in the header, the magic, the checksum itself */
	patch_file(c.path, 16, 1);
	expect_bad_entry(&c, "header says");
	put_ok(&c);
	patch_file(c.path, 0, 1);
	expect_bad_entry(&c, "version");
	put_ok(&c);
	/* an entry of version 2 (its ELF not compacted): rebuilt */
	patch_file(c.path, 8, 3 ^ 2);
	expect_bad_entry(&c, "not a version 3 entry");
	put_ok(&c);
	patch_file(c.path, 24, 0x80);
	expect_bad_entry(&c, "checksum");
	put_ok(&c);
	/* cut short; cut into the header; empty */
	assert_int_equal(truncate(c.path, 4096 + 49999), 0);
	expect_bad_entry(&c, "header says");
	assert_int_equal(truncate(c.path, 100), 0);
	expect_bad_entry(&c, "bad size");
	assert_int_equal(truncate(c.path, 0), 0);
	expect_bad_entry(&c, "bad size");
	put_ok(&c);
	/* an entry filed under another key */
	sha256("another bzImage", 15, key2);
	kcache_entry_name(key2, name2);
	snprintf(other, sizeof(other), "%s/%s", c.dir, name2);
	assert_int_equal(rename(c.path, other), 0);
	memcpy(c.key, key2, SHA256_LEN);
	expect_bad_entry(&c, "does not match");
	/* a symlink in its place */
	sha256("some bzImage", 12, c.key);
	assert_int_equal(symlink(other, c.path), 0);
	expect_bad_entry(&c, "open");
	unlink(c.path);
	/* a directory in its place */
	assert_int_equal(mkdir(c.path, 0700), 0);
	assert_int_equal(kcache_get(c.fd, c.key, &m, &err), KCACHE_BAD);
	rmdir(c.path);
	/* someone else's file */
	put_ok(&c);
	if (geteuid() == 0) {
		assert_int_equal(chown(c.path, 4321, 4321), 0);
		expect_bad_entry(&c, "this user's");
		put_ok(&c);     /* replaced by ours */
		expect_valid(&c);
	}
	cache_free(&c);
}

/* ---- the whole path: boot_setup() --------------------------------------- */

/* A fake kernel: an ELF (PVH note or not) at 16 MiB, gzip'd into a fake
 * bzImage's payload. */
struct kimg {
	struct fake_elf e;
	uint8_t *elf;
	size_t elf_len;
	struct fenced bz;
};

/* k->bz: a bzImage whose payload is k->elf as it is now, compressed with f. */
static void kimg_pack(struct kimg *k, enum payload_format f)
{
	size_t len;
	uint8_t *p = make_payload(f, k->elf, k->elf_len, (uint32_t)k->elf_len, &len);

	if (k->bz.map)
		fenced_free(&k->bz);
	bz_with_payload(&k->bz, p, len);
	free(p);
}

static void kimg_make(struct kimg *k, bool pvh_note, enum payload_format f)
{
	memset(&k->bz, 0, sizeof(k->bz));
	felf_defaults(&k->e, PVH_ENTRY);
	k->e.paddr = 16 * MiB;
	if (!pvh_note) {
		k->e.notes_len = 0;
		felf_add_note(&k->e, "GNU", 3, "id", 2);
	}
	k->elf_len = felf_size(&k->e);
	k->elf = malloc(k->elf_len);
	assert_non_null(k->elf);
	felf_write(&k->e, k->elf);
	set64(k->elf + 24, 16 * MiB);           /* e_entry: physical startup_64 */
	kimg_pack(k, f);
}

static void kimg_free(struct kimg *k)
{
	free(k->elf);
	fenced_free(&k->bz);
}

struct boot {
	struct fake_vm v;
	struct tmpdir td;
	struct boot_spec cfg;
	struct boot_entry entry;
	struct error err;
	char *cache;
	struct timeline_entry kernel;
};

static void boot_init(struct boot *b, const struct kimg *k)
{
	memset(b, 0, sizeof(*b));
	td_init(&b->td);
	b->cfg.vcpus = 1;
	b->cfg.cmdline = CMDLINE;
	b->cfg.kernel_cache = true;
	b->cfg.kernel = td_file(&b->td, "bzImage", k->bz.p, k->bz.len);
	b->cache = scratch();
	setenv("VESSEL_KERNEL_CACHE", b->cache, 1);
}

/* Whether boot_run opens the kernel before the RAM exists, as the machine
 * does (boot_kernel_open), or lets boot_setup open it. */
static bool open_first;

/* One boot_setup() on fresh RAM: 0 or -1; the timeline's kernel line. */
static int boot_run(struct boot *b)
{
	struct boot_kernel *k = NULL;
	int r;

	timeline_reset();
	err_clear(&b->err);
	if (open_first && !(k = boot_kernel_open(&b->cfg, &b->err)))
		return -1;
	fake_vm_init(&b->v, 128 * MiB);
	b->entry.rip = 0x5a5a5a5a;
	r = boot_setup(&b->v.m, &b->cfg, k, &b->entry, &b->err);
	boot_kernel_close(k);
	timeline_get(MS_KERNEL_LOADED, &b->kernel);
	return r;
}

static void boot_ok(struct boot *b, const char *how)
{
	if (boot_run(b) < 0)
		fail_msg("boot_setup: %s", b->err.msg);
	if (!strstr(b->kernel.detail, how))
		fail_msg("kernel line \"%s\" lacks \"%s\"", b->kernel.detail, how);
	assert_true(b->kernel.ns > 0);
}

static void boot_free(struct boot *b)
{
	fake_vm_free(&b->v);
	rm_tree(b->cache);
	free(b->cache);
	td_free(&b->td);
	unsetenv("VESSEL_KERNEL_CACHE");
}

/* ---- The remembered key (kcache_key.c) ---- */

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* A memo is found only for exactly the identity it was written for, only
 * once the file is 2 s old, and never when damaged. */
static void test_key_memo(void **state)
{
	struct cache c;
	char kpath[600], mpath[700];
	uint8_t got[SHA256_LEN];
	struct stat st, other;
	struct dirent *de;
	int64_t old;
	DIR *d;
	FILE *f;

	(void)state;
	cache_init(&c, 100);
	snprintf(kpath, sizeof(kpath), "%s.kernel", c.dir);
	f = fopen(kpath, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite("bzImage bytes", 1, 13, f), 13);
	fclose(f);
	assert_int_equal(stat(kpath, &st), 0);
	old = ns(&st.st_ctim) > ns(&st.st_mtim) ? ns(&st.st_ctim) : ns(&st.st_mtim);
	assert_false(kcache_key_recall(c.fd, &st, got));

	/* changed 1 s ago: may still change unseen, not remembered */
	assert_int_equal(kcache_key_remember_at(c.fd, &st, c.key, old + 1000000000LL), 0);
	assert_false(kcache_key_recall(c.fd, &st, got));
	assert_int_equal(count_files(c.dir), 0);
	/* 3 s later it is */
	assert_int_equal(kcache_key_remember_at(c.fd, &st, c.key, old + 3000000000LL), 1);
	memset(got, 0, sizeof(got));
	assert_true(kcache_key_recall(c.fd, &st, got));
	assert_memory_equal(got, c.key, SHA256_LEN);

	/* any other identity finds nothing */
	other = st;
	other.st_size++;
	assert_false(kcache_key_recall(c.fd, &other, got));
	other = st;
	other.st_mtim.tv_nsec ^= 1;
	assert_false(kcache_key_recall(c.fd, &other, got));
	other = st;
	other.st_ctim.tv_sec++;
	assert_false(kcache_key_recall(c.fd, &other, got));
	other = st;
	other.st_ino++;
	assert_false(kcache_key_recall(c.fd, &other, got));

	/* the memo's file, damaged in its key, or cut short: not believed */
	d = opendir(c.dir);
	assert_non_null(d);
	mpath[0] = '\0';
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "key-", 4))
			snprintf(mpath, sizeof(mpath), "%s/%s", c.dir, de->d_name);
	closedir(d);
	assert_true(mpath[0]);
	patch_file(mpath, 50, 0x01);
	assert_false(kcache_key_recall(c.fd, &st, got));
	patch_file(mpath, 50, 0x01);
	assert_true(kcache_key_recall(c.fd, &st, got));
	assert_int_equal(truncate(mpath, 79), 0);
	assert_false(kcache_key_recall(c.fd, &st, got));
	/* a symlink in its place is not followed */
	assert_int_equal(unlink(mpath), 0);
	assert_int_equal(symlink(kpath, mpath), 0);
	assert_false(kcache_key_recall(c.fd, &st, got));
	assert_int_equal(unlink(mpath), 0);
	unlink(kpath);
	cache_free(&c);
}

/* Where the cache keeps the entry for k's bzImage. */
static void entry_path(const struct boot *b, const struct kimg *k,
		       char *path, size_t size)
{
	char name[KCACHE_NAME_MAX];
	uint8_t key[SHA256_LEN];

	sha256(k->bz.p, k->bz.len, key);
	kcache_entry_name(key, name);
	snprintf(path, size, "%s/%s", b->cache, name);
}

/* The ELF's segment is where it asks, byte for byte. */
static void check_segment(struct boot *b, const struct kimg *k)
{
	assert_memory_equal(gpa_ptr(&b->v, k->e.paddr, k->e.filesz),
			    k->elf + FELF_SEG_OFF, k->e.filesz);
}

static void test_boot_cache_paths(void **state)
{
	struct kimg k;
	struct boot b;
	char path[600];
	struct stat st;

	(void)state;
	kimg_make(&k, true, PAYLOAD_GZIP);
	boot_init(&b, &k);
	entry_path(&b, &k, path, sizeof(path));

	/* kernel_cache: false: the bzImage, the cache untouched */
	b.cfg.kernel_cache = false;
	boot_ok(&b, "bzImage (kernel_cache: false), 64-bit entry");
	assert_int_equal(b.entry.mode, BOOT_LONG64);
	assert_int_equal(b.entry.rip, 0x1000000 + 0x200);
	assert_int_equal(count_files(b.cache), 0);
	fake_vm_free(&b.v);

	/* a miss: decompressed, stored, booted through PVH */
	b.cfg.kernel_cache = true;
	boot_ok(&b, "cache miss: gzip decompressed and stored");
	assert_non_null(strstr(b.kernel.detail, "PVH entry"));
	assert_int_equal(b.entry.mode, BOOT_FLAT32);
	assert_int_equal(b.entry.rip, PVH_ENTRY);
	check_segment(&b, &k);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4096 + k.elf_len);
	fake_vm_free(&b.v);

	/* a hit */
	boot_ok(&b, "cache hit: gzip ELF");
	assert_int_equal(b.entry.rip, PVH_ENTRY);
	check_segment(&b, &k);
	fake_vm_free(&b.v);

	/* a damaged entry: rebuilt, and the guest gets the right bytes */
	patch_file(path, 4096 + FELF_SEG_OFF + 10, 0xff);
	boot_ok(&b, "cache miss (rebuilt: checksum mismatch)");
	check_segment(&b, &k);
	fake_vm_free(&b.v);
	boot_ok(&b, "cache hit");
	fake_vm_free(&b.v);

	/* a damaged entry that loads elsewhere (its segment's p_paddr 2 MiB
	 * higher): its checksum fails only after the copy, which runs
	 * beside the check; what it wrote is wiped before the rebuilt
	 * kernel is loaded */
	assert_true(k.e.filesz < 2 * MiB);
	patch_file(path, 4096 + FELF_PH_LOAD + 24 + 2, 0x20);
	boot_ok(&b, "cache miss (rebuilt: checksum mismatch)");
	check_segment(&b, &k);
	{
		const uint8_t *moved = gpa_ptr(&b.v, k.e.paddr + 2 * MiB,
					       k.e.filesz);

		for (size_t i = 0; i < k.e.filesz; i++)
			if (moved[i])
				fail_msg("byte %zu of the damaged entry's "
					 "segment is still in guest RAM", i);
	}
	fake_vm_free(&b.v);
	boot_ok(&b, "cache hit");
	fake_vm_free(&b.v);

	/* damage the ELF parser refuses before any copy (its magic; a
	 * segment beyond the file): still a damaged entry, rebuilt */
	patch_file(path, 4096 + 1, 0x01);
	boot_ok(&b, "cache miss (rebuilt: checksum mismatch)");
	check_segment(&b, &k);
	fake_vm_free(&b.v);
	patch_file(path, 4096 + FELF_PH_LOAD + 32 + 3, 0x40);
	boot_ok(&b, "cache miss (rebuilt: checksum mismatch)");
	check_segment(&b, &k);
	fake_vm_free(&b.v);

	/* an unusable directory: the bzImage boots as it is */
	assert_int_equal(chmod(b.cache, 0777), 0);
	boot_ok(&b, "bzImage (cache unavailable");
	assert_int_equal(b.entry.rip, 0x1000000 + 0x200);
	assert_int_equal(chmod(b.cache, 0700), 0);
	fake_vm_free(&b.v);

	/* a payload that is not an ELF: the bzImage, nothing stored */
	boot_free(&b);
	kimg_free(&k);
	kimg_make(&k, true, PAYLOAD_XZ);
	memset(k.elf, 0, 4);
	kimg_pack(&k, PAYLOAD_XZ);
	boot_init(&b, &k);
	boot_ok(&b, "not an x86_64 ELF");
	assert_int_equal(b.entry.mode, BOOT_LONG64);
	assert_int_equal(count_files(b.cache), 0);
	boot_free(&b);
	kimg_free(&k);
}

/* The cache keeps an ELF whose segment ends in zeros without them (they
 * load as bss): the entry is smaller than the ELF, and the guest gets the
 * same bytes from a miss and a hit, its bss zeroed over RAM that held
 * garbage. */
static void test_boot_cache_compact(void **state)
{
	const uint64_t tail = 0x1800;   /* zeros at the end of the segment */
	struct kimg k;
	struct boot b;
	char path[600];
	struct stat st;

	(void)state;
	kimg_make(&k, true, PAYLOAD_GZIP);
	memset(k.elf + FELF_SEG_OFF + k.e.filesz - tail, 0, tail);
	kimg_pack(&k, PAYLOAD_GZIP);
	boot_init(&b, &k);
	entry_path(&b, &k, path, sizeof(path));

	for (int hit = 0; hit < 2; hit++) {
		const uint8_t *ram;

		boot_ok(&b, hit ? "cache hit: gzip ELF" : "cache miss: gzip");
		assert_int_equal(b.entry.rip, PVH_ENTRY);
		ram = gpa_ptr(&b.v, k.e.paddr, k.e.memsz);
		assert_memory_equal(ram, k.elf + FELF_SEG_OFF, k.e.filesz);
		for (uint64_t i = k.e.filesz - tail; i < k.e.memsz; i++)
			if (ram[i])
				fail_msg("byte 0x%llx of the segment is 0x%02x, not 0",
					 (unsigned long long)i, ram[i]);
		fake_vm_free(&b.v);
	}
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_size <= 4096 + k.elf_len - tail);
	boot_free(&b);
	kimg_free(&k);
}

/* The same paths with the kernel opened before the VM's RAM exists, as
 * vm_create does; and a kernel file that is not there fails the open. */
static void test_boot_cache_paths_opened(void **state)
{
	struct boot_spec spec = { .kernel = "/nonexistent/bzImage", .vcpus = 1,
				  .kernel_cache = true };
	struct error err = { 0 };

	open_first = true;
	test_boot_cache_paths(state);
	test_boot_cache_compact(state);
	open_first = false;
	assert_null(boot_kernel_open(&spec, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/bzImage"));
}

/* No PVH note: the 64-bit boot protocol at the ELF's entry, with a zero
 * page made from the bzImage's setup header. */
static void test_boot_vmlinux64(void **state)
{
	struct kimg k;
	struct boot b;
	const uint8_t *zp;

	(void)state;
	kimg_make(&k, false, PAYLOAD_ZSTD);
	boot_init(&b, &k);
	boot_ok(&b, "cache miss: zstd decompressed and stored");
	assert_non_null(strstr(b.kernel.detail, "64-bit entry"));
	assert_int_equal(b.entry.mode, BOOT_LONG64);
	assert_int_equal(b.entry.rip, 16 * MiB);
	assert_int_equal(b.entry.rsi, ZERO_PAGE_ADDR);
	check_segment(&b, &k);
	zp = gpa_ptr(&b.v, ZERO_PAGE_ADDR, 4096);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(le16(zp + 0x206), 0x020f);
	assert_int_equal(zp[0x210], 0xff);                      /* type_of_loader */
	assert_int_equal(le32(zp + 0x214), 16 * MiB);           /* code32_start */
	assert_int_equal(le32(zp + 0x228), CMDLINE_ADDR);
	assert_string_equal((const char *)gpa_ptr(&b.v, CMDLINE_ADDR, 1), CMDLINE);
	assert_true(zp[0x1e8] >= 3);                            /* e820 entries */
	fake_vm_free(&b.v);
	boot_ok(&b, "cache hit: zstd ELF");
	assert_int_equal(b.entry.rip, 16 * MiB);
	boot_free(&b);
	kimg_free(&k);
}

static int boot_elf(struct fake_vm *v, const uint8_t *elf, size_t len,
		    const uint8_t *setup, size_t setup_len, struct error *err)
{
	struct boot_image bi = { .kernel = elf, .kernel_len = len,
				 .setup = setup, .setup_len = setup_len,
				 .cmdline = CMDLINE };
	struct boot_entry e = { .rip = 0x5a5a };
	int r = vmlinux64_load(&v->m, &bi, &e, err);

	if (r < 0)
		assert_int_equal(e.rip, 0x5a5a);
	return r;
}

static void test_vmlinux64_reject(void **state)
{
	struct kimg k;
	struct fake_vm v;
	struct error err = { 0 };

	(void)state;
	kimg_make(&k, false, PAYLOAD_GZIP);
	fake_vm_init(&v, 128 * MiB);
	/* no setup header */
	assert_int_equal(boot_elf(&v, k.elf, k.elf_len, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "setup header"));
	/* an entry point outside the segments */
	set64(k.elf + 24, 0xffffffff81000000ULL);
	assert_int_equal(boot_elf(&v, k.elf, k.elf_len, k.bz.p, k.bz.len, &err), -1);
	assert_non_null(strstr(err.msg, "entry point"));
	set64(k.elf + 24, 16 * MiB);
	/* a setup header without the 64-bit entry */
	set16(k.bz.p + 0x236, 0);
	assert_int_equal(boot_elf(&v, k.elf, k.elf_len, k.bz.p, k.bz.len, &err), -1);
	assert_non_null(strstr(err.msg, "64-bit"));
	set16(k.bz.p + 0x236, 3);
	assert_ram_untouched(&v);
	fake_vm_free(&v);
	/* init_size beyond RAM: refused before anything is written */
	fake_vm_init(&v, 64 * MiB);
	set32(k.bz.p + 0x260, 0x3000000 + 1);       /* 1 byte past RAM */
	assert_int_equal(boot_elf(&v, k.elf, k.elf_len, k.bz.p, k.bz.len, &err), -1);
	assert_non_null(strstr(err.msg, "memory too small"));
	assert_ram_untouched(&v);
	fake_vm_free(&v);
	kimg_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_implementations_agree),
		cmocka_unit_test(test_roundtrip_gzip),
		cmocka_unit_test(test_roundtrip_xz),
		cmocka_unit_test(test_roundtrip_lzma),
		cmocka_unit_test(test_roundtrip_zstd),
		cmocka_unit_test(test_roundtrip_lz4),
		cmocka_unit_test(test_roundtrip_lz4_blocks),
		cmocka_unit_test(test_reject_larger_than_declared),
		cmocka_unit_test(test_reject_smaller_than_declared),
		cmocka_unit_test(test_reject_truncated),
		cmocka_unit_test(test_reject_flipped_bytes),
		cmocka_unit_test(test_reject_sizes_and_formats),
		cmocka_unit_test(test_bzimage_payload),
		cmocka_unit_test(test_dir_choice),
		cmocka_unit_test(test_dir_rules),
		cmocka_unit_test(test_entry_roundtrip),
		cmocka_unit_test(test_entry_damage),
		cmocka_unit_test(test_key_memo),
		cmocka_unit_test(test_boot_cache_paths),
		cmocka_unit_test(test_boot_cache_compact),
		cmocka_unit_test(test_boot_cache_paths_opened),
		cmocka_unit_test(test_boot_vmlinux64),
		cmocka_unit_test(test_vmlinux64_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Backup repository formats (tools/backup/): the chunker, chunk files,
 * indexes, manifests and the tree stream, round trips and hostile input;
 * the chunk store on a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../tools/backup/cdc.h"
#include "../../tools/backup/chunk.h"
#include "../../tools/backup/index.h"
#include "../../tools/backup/manifest.h"
#include "../../tools/backup/store.h"
#include "../../tools/backup/tree_format.h"

static uint8_t *random_bytes(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

static void test_cdc_bounds_and_shift(void **state)
{
	size_t n = 8 << 20, off = 0, cuts[64], k = 0;
	uint8_t *p = random_bytes(n + 100, 7), *q = malloc(n + 100);

	(void)state;
	while (off < n) {
		size_t c = cdc_cut(p + off, n - off);

		assert_true(c <= CDC_MAX);
		assert_true(c >= CDC_MIN || off + c == n);
		off += c;
		if (k < 64)
			cuts[k++] = off;
	}
	/* 100 bytes inserted at the front: the later cut points move by 100. */
	memcpy(q + 100, p, n);
	memset(q, 'x', 100);
	off = 0;
	size_t same = 0;
	while (off < n + 100) {
		off += cdc_cut(q + off, n + 100 - off);
		for (size_t i = 0; i < k; i++)
			same += cuts[i] + 100 == off;
	}
	assert_true(same >= k - 2);
	free(p);
	free(q);
}

static void test_chunk_roundtrip_and_damage(void **state)
{
	uint8_t *raw = random_bytes(100000, 3), *enc = malloc(CHUNK_ENC_MAX),
		*out = malloc(CHUNK_MAX), digest[SHA256_LEN];
	struct error err = { 0 };
	size_t n, len;

	(void)state;
	memset(raw, 'a', 50000);        /* compressible half */
	sha256(raw, 100000, digest);
	assert_int_equal(chunk_encode(raw, 100000, enc, &n, &err), 0);
	assert_int_equal(enc[5], CHUNK_ZLIB);
	assert_int_equal(chunk_decode(enc, n, out, CHUNK_MAX, &len, digest, &err), 0);
	assert_int_equal(len, 100000);
	assert_memory_equal(out, raw, len);
	enc[n - 3] ^= 1;
	assert_int_equal(chunk_decode(enc, n, out, CHUNK_MAX, &len, digest, &err), -1);
	assert_true(err.input);
	assert_non_null(strstr(err.msg, "CRC"));
	enc[n - 3] ^= 1;
	assert_int_equal(chunk_decode(enc, n - 1, out, CHUNK_MAX, &len, digest, &err), -1);
	assert_int_equal(chunk_decode(enc, n, out, 10, &len, digest, &err), -1);
	digest[0] ^= 1;
	assert_int_equal(chunk_decode(enc, n, out, CHUNK_MAX, &len, digest, &err), -1);
	free(raw);
	free(enc);
	free(out);
}

/* Data that does not shrink is stored: the payload is the caller's data
 * itself (never copied), and header + payload make a valid chunk file. */
static void test_chunk_parts_stored(void **state)
{
	size_t len = CHUNK_MAX, plen, n;
	uint8_t *raw = random_bytes(len, 5), *zbuf = malloc(CHUNK_ENC_MAX),
		*file = malloc(CHUNK_ENC_MAX), *out = malloc(CHUNK_MAX),
		hdr[CHUNK_HDR], digest[SHA256_LEN];
	const uint8_t *payload;
	struct error err = { 0 };

	(void)state;
	sha256(raw, len, digest);
	assert_int_equal(chunk_encode_parts(raw, len, hdr, zbuf, &payload, &plen,
					    &err), 0);
	assert_ptr_equal(payload, raw);
	assert_int_equal(plen, len);
	assert_int_equal(hdr[5], CHUNK_STORED);
	memcpy(file, hdr, CHUNK_HDR);
	memcpy(file + CHUNK_HDR, payload, plen);
	assert_int_equal(chunk_decode(file, CHUNK_HDR + plen, out, CHUNK_MAX, &n,
				      digest, &err), 0);
	assert_int_equal(n, len);
	assert_memory_equal(out, raw, len);
	/* The one-buffer form writes the same file. */
	assert_int_equal(chunk_encode(raw, len, zbuf, &n, &err), 0);
	assert_int_equal(n, CHUNK_HDR + plen);
	assert_memory_equal(zbuf, file, n);
	free(raw);
	free(zbuf);
	free(file);
	free(out);
}

static void test_index_roundtrip_and_hostile(void **state)
{
	uint8_t d[SHA256_LEN], *buf;
	struct error err = { 0 };
	struct index ix, back;
	size_t len;

	(void)state;
	memset(d, 7, sizeof(d));
	index_init(&ix, INDEX_DISK, 4 << 20);
	assert_int_equal(index_add(&ix, d, 4 << 20, 0, &err), 0);
	assert_int_equal(index_add(&ix, NULL, 4 << 20, INDEX_ZERO, &err), 0);
	assert_int_equal(index_add(&ix, d, 12, 0, &err), 0);
	assert_int_equal(index_encode(&ix, &buf, &len, &err), 0);
	assert_int_equal(index_parse(buf, len, &back, &err), 0);
	assert_int_equal(back.n, 3);
	assert_int_equal(back.size, (8u << 20) + 12);
	assert_true(back.e[1].flags & INDEX_ZERO);
	index_free(&back);
	/* A flipped byte: the trailing hash. */
	buf[40] ^= 1;
	assert_int_equal(index_parse(buf, len, &back, &err), -1);
	assert_non_null(strstr(err.msg, "checksum"));
	buf[40] ^= 1;
	/* A short middle chunk, hash fixed up: refused by its field check. */
	buf[INDEX_HDR + INDEX_ENTRY + 32] = 1;
	sha256(buf, len - SHA256_LEN, buf + len - SHA256_LEN);
	assert_int_equal(index_parse(buf, len, &back, &err), -1);
	assert_true(err.input);
	assert_int_equal(index_parse(buf, 10, &back, &err), -1);
	free(buf);
	index_free(&ix);
}

static void test_manifest_roundtrip_and_hostile(void **state)
{
	struct manifest m = { 0 }, back;
	struct error err = { 0 };
	char *s;
	static const char *bad[] = {
		"{}", "[1]", "{\"format\":2}", "not json",
		"{\"format\":1,\"id\":\"../x/2026-12-03T10:00:00Z\",\"guest\":\"../x\"}",
	};

	(void)state;
	snprintf(m.id, sizeof(m.id), "web/2026-12-03T10:00:00Z");
	snprintf(m.guest, sizeof(m.guest), "web");
	snprintf(m.kind, sizeof(m.kind), "vm");
	m.started = 1796292000;
	m.freeze_ms = -1;
	m.definition = strdup("kind: vm\n");
	m.definition_path = strdup("/srv/web.yaml");
	m.nitems = 1;
	m.item[0] = (struct manifest_item){ .type = ITEM_DISK, .size = 99 };
	snprintf(m.item[0].name, sizeof(m.item[0].name), "disk0");
	snprintf(m.item[0].file, sizeof(m.item[0].file), "web.img");
	snprintf(m.item[0].index, sizeof(m.item[0].index), "disk0.idx");
	m.item[0].source = strdup("/srv/web.img");
	s = manifest_encode(&m, true);
	assert_int_equal(manifest_parse(s, strlen(s), &back, &err), 0);
	assert_string_equal(back.id, m.id);
	assert_string_equal(back.definition, "kind: vm\n");
	assert_int_equal(back.item[0].size, 99);
	manifest_free(&back);
	/* A restore file name that would leave --to DIR. */
	char *evil = strdup(s), *p = strstr(evil, "web.img");
	memcpy(p, "../x.ab", 7);
	assert_int_equal(manifest_parse(evil, strlen(evil), &back, &err), -1);
	assert_true(err.input);
	free(evil);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(manifest_parse(bad[i], strlen(bad[i]), &back, &err), -1);
		assert_true(err.input);
	}
	free(s);
	manifest_free(&m);
}

static void test_tree_paths(void **state)
{
	(void)state;
	assert_true(tree_path_ok("."));
	assert_true(tree_path_ok("etc/passwd"));
	assert_false(tree_path_ok(""));
	assert_false(tree_path_ok("/etc"));
	assert_false(tree_path_ok("etc/../../x"));
	assert_false(tree_path_ok("etc//x"));
	assert_false(tree_path_ok("etc/"));
	assert_false(tree_path_ok("./etc"));
}

static void test_tree_stream_hostile(void **state)
{
	struct tree_entry e;
	struct error err = { 0 };
	struct mem_src m;
	/* header, then a file record "../x" */
	static const uint8_t evil[] = "VBT1\1\0\0\0f\4\0../x";
	static const uint8_t trunc[] = "VBT1\1\0\0\0d\1\0.";

	(void)state;
	assert_int_equal(tree_entry_init(&e, &err), 0);
	mem_src_init(&m, evil, sizeof(evil) - 1);
	assert_int_equal(tree_get_header(&m.src, &err), 0);
	assert_int_equal(tree_get_entry(&m.src, &e, &err), -1);
	assert_non_null(strstr(err.msg, "bad path"));
	mem_src_init(&m, trunc, sizeof(trunc) - 1);
	assert_int_equal(tree_get_header(&m.src, &err), 0);
	assert_int_equal(tree_get_entry(&m.src, &e, &err), -1);
	assert_non_null(strstr(err.msg, "ends early"));
	tree_entry_free(&e);
}

static void test_store_put_get(void **state)
{
	char dir[] = "/tmp/vessel-store-XXXXXX";
	uint8_t *data = random_bytes(300000, 9), d1[SHA256_LEN], d2[SHA256_LEN];
	uint8_t *out = malloc(CHUNK_MAX);
	struct error err = { 0 };
	struct repo r;
	struct store s;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(repo_open(&r, dir, REPO_CREATE, &err), 0);
	assert_int_equal(store_init(&s, &r, &err), 0);
	assert_int_equal(store_put(&s, data, 300000, d1, &err), 0);
	assert_int_equal(store_put(&s, data, 300000, d2, &err), 0);
	assert_memory_equal(d1, d2, SHA256_LEN);
	assert_int_equal(s.st.chunks, 2);
	assert_int_equal(s.st.chunks_new, 1);
	assert_int_equal(store_get(&s, d1, out, CHUNK_MAX, &len, &err), 0);
	assert_memory_equal(out, data, 300000);
	d2[5] ^= 1;
	assert_int_equal(store_get(&s, d2, out, CHUNK_MAX, &len, &err), -1);
	assert_non_null(strstr(err.msg, "missing"));
	store_free(&s);
	repo_close(&r);
	/* Not a repository: a directory with something else in it. */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -f %s/vessel-backup", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(repo_open(&r, dir, REPO_CREATE, &err), -1);
	assert_true(err.input);
	repo_close(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(data);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cdc_bounds_and_shift),
		cmocka_unit_test(test_chunk_roundtrip_and_damage),
		cmocka_unit_test(test_chunk_parts_stored),
		cmocka_unit_test(test_index_roundtrip_and_hostile),
		cmocka_unit_test(test_manifest_roundtrip_and_hostile),
		cmocka_unit_test(test_tree_paths),
		cmocka_unit_test(test_tree_stream_hostile),
		cmocka_unit_test(test_store_put_get),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

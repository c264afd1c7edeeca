/* The whole boot of one VM: firmware tables, then the kernel by its format.
 * A bzImage with a compressed payload boots from the kernel cache (its
 * ELF vmlinux, decompressed once on the host) unless kernel_cache: false;
 * whenever the cache cannot serve, the bzImage boots as it is. */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "acpi.h"
#include "kcache.h"
#include "layout.h"
#include "mptable.h"
#include "payload.h"
#include "../tools/base/clock.h"
#include "../vmm/timeline.h"

#define MAX_KERNEL_SIZE (512ULL << 20)

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Reads the kernel file whole. *stable: st (its fstat before the read)
 * still held after it, so st names what was read. */
static int slurp(const char *path, uint8_t **buf, size_t *len,
		 struct stat *st_out, bool *stable, struct error *err)
{
	struct stat st, after;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(err, "kernel %s", path);
	if (fstat(fd, &st) < 0) {
		err_sys(err, "kernel %s", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > MAX_KERNEL_SIZE) {
		close(fd);
		return err_set(err, "kernel %s is too large", path);
	}
	*buf = malloc(st.st_size ? st.st_size : 1);
	if (!*buf) {
		close(fd);
		return err_set(err, "out of memory reading %s", path);
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				err_sys(err, "reading kernel %s", path);
			else
				err_set(err, "kernel %s shrank while reading", path);
			free(*buf);
			close(fd);
			return -1;
		}
		done += n;
	}
	*stable = fstat(fd, &after) == 0 && same_file(&st, &after);
	*st_out = st;
	close(fd);
	*len = done;
	return 0;
}

/* snprintf that may truncate: what it writes is a note for the timeline. */
static void note(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* An ELF vmlinux from the cache: mapped (a hit) or just decompressed. */
struct vmlinux {
	struct kcache_map map;
	uint8_t *buf;
	const uint8_t *elf;
	size_t len;
	bool bad;               /* a hit whose checksum failed during the load */
};

/* boot_image.kernel_check of a hit: the entry's checksum, computed while
 * the loader copied it. */
static int vmlinux_check(void *arg, struct error *err)
{
	struct vmlinux *v = arg;

	if (kcache_check(&v->map, err) == 0)
		return 0;
	v->bad = true;
	return -1;
}

static void vmlinux_free(struct vmlinux *v)
{
	kcache_unmap(&v->map);
	free(v->buf);
	memset(v, 0, sizeof(*v));
}

/* The ELF vmlinux of a bzImage, from the cache or decompressed into it.
 * st: the kernel file img was read from (NULL if it changed during the
 * read), for its remembered key. bad: NULL, or why the entry a first try
 * returned failed its check: it is rebuilt. Returns 1 with *v set
 * (vmlinux_free it; a hit is still being checked: v->map), or 0: boot the
 * bzImage itself. Either way how says what happened, for the timeline. */
static int cached_vmlinux(const uint8_t *img, size_t len, const struct stat *st,
			  const char *bad, struct vmlinux *v, char *how,
			  size_t how_len)
{
	char dir[PATH_MAX], rebuilt[sizeof(((struct error *)0)->msg) + 16] = "";
	char name[KCACHE_NAME_MAX];
	uint8_t key[SHA256_LEN];
	struct payload pl;
	struct error err = { 0 };
	long long t0, t_key, t_io;
	enum kcache_state state;
	int dirfd, ok = 0;
	bool recalled;
	uint8_t *compact;
	size_t compact_len;

	if (bzimage_payload(img, len, PAYLOAD_MAX_SIZE, &pl, &err) < 0) {
		note(how, how_len, "bzImage (not cached: %s)", err.msg);
		return 0;
	}
	if (pl.format == PAYLOAD_BZIP2 || pl.format == PAYLOAD_LZO) {
		note(how, how_len, "bzImage (not cached: vessel "
			      "cannot decompress %s)", payload_format_name(pl.format));
		return 0;
	}
	if (kcache_dir(dir, sizeof(dir), &err) < 0 ||
	    (dirfd = kcache_open_dir(dir, &err)) < 0) {
		note(how, how_len, "bzImage (cache unavailable: %s)",
			      err.msg);
		return 0;
	}
	t0 = now_ms();
	recalled = !bad && st && kcache_key_recall(dirfd, st, key);
	if (!recalled)
		sha256(img, len, key);
	t_key = now_ms();
	if (bad) {
		state = KCACHE_BAD;
		err_set(&err, "%s", bad);
	} else {
		state = kcache_get_deferred(dirfd, key, &v->map, &err);
	}
	if (recalled && state != KCACHE_VALID) {
		/* A remembered key that finds no valid entry decides nothing:
		 * the bzImage's own hash names what is decompressed and
		 * stored. */
		recalled = false;
		t0 = now_ms();
		sha256(img, len, key);
		t_key = now_ms();
		state = kcache_get_deferred(dirfd, key, &v->map, &err);
	}
	switch (state) {
	case KCACHE_VALID:
		v->elf = v->map.elf;
		v->len = v->map.len;
		t_io = now_ms();
		if (!recalled && st)
			kcache_key_remember(dirfd, st, key);
		note(how, how_len, "cache hit: %s ELF, key %s%lld ms, "
			      "mapped %lld ms, checked in parallel",
			      payload_format_name(pl.format),
			      recalled ? "remembered, " : "", t_key - t0, t_io - t_key);
		close(dirfd);
		return 1;
	case KCACHE_BAD:
		/* Never booted: decompressed again and replaced. */
		kcache_entry_name(key, name);
		fprintf(stderr, "vessel: kernel cache: %s/%s: %s; rebuilding it\n",
			dir, name, err.msg);
		note(rebuilt, sizeof(rebuilt), " (rebuilt: %s)", err.msg);
		break;
	case KCACHE_ABSENT:
		break;
	}
	t_io = now_ms();
	if (payload_decompress(&pl, &v->buf, &err) < 0) {
		note(how, how_len, "bzImage (not cached: %s)", err.msg);
		goto out;
	}
	v->elf = v->buf;
	v->len = pl.size;
	if (!pvh_probe(v->elf, v->len)) {
		note(how, how_len, "bzImage (not cached: its %s "
			      "payload is not an x86_64 ELF)",
			      payload_format_name(pl.format));
		vmlinux_free(v);
		goto out;
	}
	/* Stored and booted in the cache's form, the trailing zeros of its
	 * segments left to the bss: about half the bytes to copy and check
	 * on each later boot. */
	if (elf_compact(v->buf, pl.size, &compact, &compact_len, &err) < 0) {
		note(how, how_len, "bzImage (not cached: its %s payload: %s)",
		     payload_format_name(pl.format), err.msg);
		vmlinux_free(v);
		goto out;
	}
	free(v->buf);
	v->buf = compact;
	v->elf = compact;
	v->len = compact_len;
	ok = 1;
	if (kcache_put(dirfd, key, v->elf, v->len, &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		note(how, how_len, "cache miss%s: %s decompressed in "
			      "%lld ms, not stored (%s)", rebuilt,
			      payload_format_name(pl.format), now_ms() - t_io,
			      err.msg);
		goto out;
	}
	if (st)
		kcache_key_remember(dirfd, st, key);
	note(how, how_len, "cache miss%s: %s decompressed and "
		      "stored in %lld ms, key %lld ms", rebuilt,
		      payload_format_name(pl.format), now_ms() - t_io, t_key - t0);
out:
	close(dirfd);
	return ok;
}

/* The kernel file, read, and for a bzImage its ELF from the cache (its
 * checksum running on another thread) or decompressed: boot_kernel_open,
 * which the machine calls before it creates the VM, so that the check
 * runs while KVM sets the VM up. */
struct boot_kernel {
	uint8_t *img;
	size_t len;
	struct stat st;
	bool stable;            /* st names what was read */
	struct vmlinux v;
	bool cached;            /* v holds the ELF to boot */
	char how[TIMELINE_DETAIL_MAX - 20];
};

/* Pick what boots from k's file: the bzImage as it is, its cached ELF, or
 * an ELF vmlinux. bad: as for cached_vmlinux. */
static void kernel_pick(struct boot_kernel *k, const struct boot_spec *spec,
			const char *bad)
{
	k->cached = false;
	if (!bzimage_probe(k->img, k->len))
		note(k->how, sizeof(k->how), "ELF");
	else if (!spec->kernel_cache)
		note(k->how, sizeof(k->how), "bzImage (kernel_cache: false)");
	else
		k->cached = cached_vmlinux(k->img, k->len,
					   k->stable ? &k->st : NULL, bad,
					   &k->v, k->how, sizeof(k->how));
}

struct boot_kernel *boot_kernel_open(const struct boot_spec *spec,
				     struct error *err)
{
	struct boot_kernel *k = calloc(1, sizeof(*k));

	if (!k) {
		err_set(err, "out of memory");
		return NULL;
	}
	if (slurp(spec->kernel, &k->img, &k->len, &k->st, &k->stable, err) < 0) {
		free(k);
		return NULL;
	}
	kernel_pick(k, spec, NULL);
	return k;
}

void boot_kernel_close(struct boot_kernel *k)
{
	if (!k)
		return;
	vmlinux_free(&k->v);
	free(k->img);
	free(k);
}

/* One try at loading what kernel_pick chose. */
static int load_once(struct gmem *m, const struct boot_spec *spec,
		     struct boot_kernel *k, struct boot_image *bi,
		     struct boot_entry *entry, struct error *err)
{
	uint32_t pvh_entry;

	bi->kernel = k->img;
	bi->kernel_len = k->len;
	bi->setup = NULL;
	bi->kernel_check = NULL;
	if (k->cached) {
		bi->kernel = k->v.elf;
		bi->kernel_len = k->v.len;
		bi->setup = k->img;
		bi->setup_len = k->len;
		if (k->v.map.map) {
			bi->kernel_check = vmlinux_check;
			bi->kernel_check_arg = &k->v;
		}
	} else if (bzimage_probe(k->img, k->len)) {
		timeline_note(MS_KERNEL_LOADED, "%s, 64-bit entry", k->how);
		return bzimage_load(m, bi, entry, err);
	}
	if (!pvh_probe(bi->kernel, bi->kernel_len))
		return err_set(err, "%s: not a bzImage or an x86_64 ELF vmlinux",
			       spec->kernel);
	if (elf_pvh_entry(bi, &pvh_entry) == 0 || !bi->setup) {
		timeline_note(MS_KERNEL_LOADED, "%s, PVH entry", k->how);
		return pvh_load(m, bi, entry, err);
	}
	timeline_note(MS_KERNEL_LOADED, "%s, 64-bit entry", k->how);
	return vmlinux64_load(m, bi, entry, err);
}

static int load_kernel(struct gmem *m, const struct boot_spec *spec,
		       struct boot_kernel *k, struct boot_image *bi,
		       struct boot_entry *entry, struct error *err)
{
	char bad[sizeof(err->msg)];
	int ret;

	ret = load_once(m, spec, k, bi, entry, err);
	/* A hit that failed to load, whether its checksum failed at the end
	 * of the copy or its ELF was refused before: is it damaged? */
	if (ret < 0 && k->v.map.map && !k->v.bad)
		vmlinux_check(&k->v, err);
	if (k->v.bad) {
		/* Then it never ran: what it wrote is wiped, and the entry is
		 * rebuilt from the bzImage and loaded again. */
		snprintf(bad, sizeof(bad), "%s", err->msg);
		if (pvh_probe(bi->kernel, bi->kernel_len))
			elf_wipe_segments(m, bi);
		vmlinux_free(&k->v);
		kernel_pick(k, spec, bad);
		ret = load_once(m, spec, k, bi, entry, err);
	}
	bi->kernel = bi->setup = NULL;
	bi->kernel_check = NULL;
	return ret;
}

int boot_setup(struct gmem *m, const struct boot_spec *spec,
	       struct boot_kernel *opened, struct boot_entry *entry,
	       struct error *err)
{
	struct acpi_config acpi = {
		.ncpus = spec->vcpus,
		.pci_ecam_base = PCI_ECAM_BASE,
		.pci_bus_start = PCI_BUS_START,
		.pci_bus_end = PCI_BUS_END,
		.pci_mmio_base = PCI_MMIO_START,
		.pci_mmio_size = PCI_MMIO_SIZE,
	};
	struct boot_image bi = {
		.initrd_path = spec->initrd,
		.cmdline = spec->cmdline,
		.cmdline_extra = spec->cmdline_auto ? cmdline_board_params(spec) : NULL,
		.ram_zeroed = spec->ram_zeroed,
	};
	struct boot_kernel *k = opened;
	int r;

	if (acpi_build(m, &acpi, &bi.rsdp, err) < 0)
		return err_prefix(err, "ACPI tables");
	if (mptable_build(m, spec->vcpus, true, err) < 0)
		return err_prefix(err, "MP table");
	if (!opened && !(k = boot_kernel_open(spec, err)))
		return -1;
	r = load_kernel(m, spec, k, &bi, entry, err);
	if (!opened)
		boot_kernel_close(k);
	if (r < 0)
		return -1;
	/* ACPI, MP, memory map, boot information, GDT and page tables */
	timeline_mark(MS_TABLES_WRITTEN);
	return 0;
}

/* Snapshot and restore of a whole VM (see snapshot.h). */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "machine.h"
#include "../../devices/net/mac.h"
#include "../../tools/base/fdio.h"

#ifndef VESSEL_VERSION
#define VESSEL_VERSION "0.1"
#endif

#define MACHINE_SECTION "machine"
#define MACHINE_VERSION 1

/* ---- the machine section ---- */

static void put_str(struct vmstate_writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > 0xffff) {
		w->failed = true;
		return;
	}
	vmstate_put_u16(w, (uint16_t)n);
	vmstate_put(w, s, n);
}

/* A string of at most size - 1 bytes without NULs. */
static int get_str(struct vmstate_section *s, char *out, size_t size,
		   const char *what, struct error *err)
{
	uint16_t n;

	if (vmstate_get_u16(s, &n, err) < 0)
		return -1;
	if (n >= size)
		return err_input(err, "%s: %s of %u bytes is too long", s->id,
				 what, n);
	if (vmstate_get(s, out, n, err) < 0)
		return -1;
	out[n] = '\0';
	if (strlen(out) != n)
		return err_input(err, "%s: %s holds a NUL byte", s->id, what);
	return 0;
}

static int image_size(const char *path, uint64_t *size, struct error *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return err_sys(err, "%s", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int save_machine(struct vm *vm, const struct vm_snapshot_opts *o,
			struct vmstate_writer *w, struct error *err)
{
	const struct devices_spec *cfg = &vm->devices;

	vmstate_begin(w, MACHINE_SECTION, MACHINE_VERSION);
	put_str(w, VESSEL_VERSION);
	put_str(w, cfg->name);
	put_str(w, o->config_dir);
	vmstate_put_u32(w, vm->nvcpus);
	vmstate_put_u64(w, vm->mem.ram_size);
	vmstate_put_u8(w, o->compress);
	vmstate_put_u32(w, (uint32_t)cfg->ndisks);
	for (size_t i = 0; i < cfg->ndisks; i++) {
		uint64_t size = 0;

		/* The image's size now, with the guest paused: restore
		 * refuses an image that has changed size since. */
		if (image_size(cfg->disks[i].path, &size, err) < 0)
			return err_prefix(err, "disk %zu", i);
		put_str(w, cfg->disks[i].path);
		vmstate_put_u64(w, size);
		vmstate_put_u8(w, cfg->disks[i].readonly);
	}
	vmstate_put_u32(w, (uint32_t)cfg->nnets);
	for (size_t i = 0; i < cfg->nnets; i++) {
		uint8_t mac[NET_MAC_LEN];

		if (!cfg->nets[i].mac ||
		    net_mac_parse(cfg->nets[i].mac, mac, err) < 0)
			net_mac_derive(cfg->name, (unsigned)i, mac);
		put_str(w, cfg->nets[i].tap);
		vmstate_put(w, mac, NET_MAC_LEN);
	}
	vmstate_end(w);
	return 0;
}

static int load_machine(struct vm_snapshot *s, struct error *err)
{
	struct vmstate_section sec;
	uint32_t n;
	uint8_t b;

	if (vmstate_find(&s->rd, MACHINE_SECTION, &sec, err) < 0 ||
	    vmstate_check_version(&sec, MACHINE_VERSION, err) < 0 ||
	    get_str(&sec, s->vessel, sizeof(s->vessel), "version", err) < 0 ||
	    get_str(&sec, s->name, sizeof(s->name), "name", err) < 0 ||
	    get_str(&sec, s->config_dir, sizeof(s->config_dir), "directory", err) < 0 ||
	    vmstate_get_u32(&sec, &n, err) < 0)
		return -1;
	if (n < 1 || n > VM_MAX_VCPUS)
		return err_input(err, "machine: %u vCPUs is out of range", n);
	s->vcpus = n;
	if (vmstate_get_u64(&sec, &s->memory, err) < 0 ||
	    vmstate_get_u8(&sec, &b, err) < 0)
		return -1;
	s->compressed = b != 0;
	if (vmstate_get_u32(&sec, &n, err) < 0)
		return -1;
	if (n > SNAPSHOT_MAX_DISKS)
		return err_input(err, "machine: %u disks is too many", n);
	s->ndisks = n;
	for (unsigned i = 0; i < s->ndisks; i++) {
		if (get_str(&sec, s->disk[i].path, sizeof(s->disk[i].path),
			    "disk path", err) < 0 ||
		    vmstate_get_u64(&sec, &s->disk[i].size, err) < 0 ||
		    vmstate_get_u8(&sec, &b, err) < 0)
			return -1;
		s->disk[i].readonly = b != 0;
	}
	if (vmstate_get_u32(&sec, &n, err) < 0)
		return -1;
	if (n > SNAPSHOT_MAX_NETS)
		return err_input(err, "machine: %u NICs is too many", n);
	s->nnets = n;
	for (unsigned i = 0; i < s->nnets; i++)
		if (get_str(&sec, s->net[i].tap, sizeof(s->net[i].tap), "tap",
			    err) < 0 ||
		    vmstate_get(&sec, s->net[i].mac, NET_MAC_LEN, err) < 0)
			return -1;
	return 0;
}

/* ---- writing ---- */

/* DIR/NAME[SUFFIX] into out; -1 if it does not fit. */
static int snap_path(char *out, const char *dir, const char *name,
		     const char *suffix, struct error *err)
{
	int n = snprintf(out, PATH_MAX, "%s/%s%s", dir, name, suffix);

	if (n < 0 || n >= PATH_MAX)
		return err_input(err, "%s: path too long", dir);
	return 0;
}

/* Write buf to DIR/name via DIR/name.tmp, synced, then renamed. */
static int write_file(const char *dir, const char *name, const void *buf,
		      size_t len, struct error *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd;

	if (snap_path(path, dir, name, "", err) < 0 ||
	    snap_path(tmp, dir, name, ".tmp", err) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, "%s", tmp);
	if (write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		err_sys(err, "writing %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		err_sys(err, "%s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int write_memory(struct vm *vm, const struct vm_snapshot_opts *o,
			struct error *err)
{
	const char *name = o->compress ? SNAPSHOT_MEMZ : SNAPSHOT_MEMORY;
	char tmp[PATH_MAX], path[PATH_MAX];
	uint64_t written = 0;
	int fd, r;

	if (snap_path(path, o->dir, name, "", err) < 0 ||
	    snap_path(tmp, o->dir, name, ".tmp", err) < 0)
		return -1;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, "%s", tmp);
	r = o->compress ? gmem_save_z(&vm->mem, fd, &written, err)
			: gmem_save(&vm->mem, fd, &written, err);
	if (r == 0 && fsync(fd) < 0)
		r = err_sys(err, "writing %s", tmp);
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = err_sys(err, "%s", path);
	if (r < 0)
		unlink(tmp);
	return r;
}

int vm_snapshot_state(struct vm *vm, const struct vm_snapshot_opts *o,
		      struct vmstate_writer *w, struct error *err)
{
	if (save_machine(vm, o, w, err) < 0 || vm_state_save(vm, w, err) < 0 ||
	    pci_host_save(&vm->pci, w, err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_state_save(&vm->vcpu[i], w, err) < 0)
			return err_prefix(err, "vCPU %u", i);
	for (unsigned i = 0; i < vm->ndev; i++) {
		const struct device_ops *ops = vm->dev[i].ops;

		if (ops->save && ops->save(vm->dev[i].state, w, err) < 0)
			return err_prefix(err, "device %s", ops->name);
	}
	return vmstate_finish(w, err);
}

int vm_snapshot_write(struct vm *vm, const struct vm_snapshot_opts *o,
		      struct error *err)
{
	struct vmstate_writer w;
	int r = -1;

	vmstate_writer_init(&w);
	if (vm_snapshot_state(vm, o, &w, err) < 0)
		goto out;
	/* RAM first: a directory with a state file is a whole snapshot. */
	if (write_memory(vm, o, err) < 0 ||
	    write_file(o->dir, SNAPSHOT_STATE, w.buf, w.len, err) < 0)
		goto out;
	r = 0;
out:
	vmstate_writer_free(&w);
	return r;
}

void vm_snapshot_remove(const char *dir)
{
	static const char *const files[] = {
		SNAPSHOT_CONFIG, SNAPSHOT_STATE, SNAPSHOT_MEMORY, SNAPSHOT_MEMZ,
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (snprintf(path, sizeof(path), "%s/%s", dir, files[i]) <
		    (int)sizeof(path))
			unlink(path);
	rmdir(dir);
}

/* ---- reading ---- */

static int read_state(struct vm_snapshot *s, struct error *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, r = -1;
	size_t got = 0;

	if (snap_path(path, s->dir, SNAPSHOT_STATE, "", err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_input(err, "%s: not a snapshot (no %s file)",
					 s->dir, SNAPSHOT_STATE);
		return err_sys(err, "%s", path);
	}
	if (fstat(fd, &st) < 0) {
		err_sys(err, "%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > VMSTATE_MAX_SIZE) {
		err_input(err, "%s: not a regular file of at most %u bytes",
			  path, VMSTATE_MAX_SIZE);
		goto out;
	}
	s->state = malloc(st.st_size ? st.st_size : 1);
	if (!s->state) {
		err_set(err, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, s->state + got, st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(err, "reading %s", path);
			goto out;
		}
		if (n == 0)
			break;
		got += n;
	}
	s->state_len = got;
	r = vmstate_open(&s->rd, s->state, s->state_len, err);
	if (r < 0)
		err_prefix(err, "%s", path);
out:
	close(fd);
	return r;
}

static int open_memory(struct vm_snapshot *s, struct error *err)
{
	const char *name = s->compressed ? SNAPSHOT_MEMZ : SNAPSHOT_MEMORY;
	char path[PATH_MAX];
	struct stat st;

	if (snap_path(path, s->dir, name, "", err) < 0)
		return -1;
	s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->mem_fd < 0) {
		if (errno == ENOENT)
			return err_input(err, "%s: missing (the snapshot is "
					 "incomplete)", path);
		return err_sys(err, "%s", path);
	}
	if (fstat(s->mem_fd, &st) < 0)
		return err_sys(err, "%s", path);
	if (!S_ISREG(st.st_mode))
		return err_input(err, "%s: not a regular file", path);
	if (!s->compressed && (uint64_t)st.st_size != s->memory)
		return err_input(err, "%s: %llu bytes, the guest had %llu "
				 "(truncated or replaced?)", path,
				 (unsigned long long)st.st_size,
				 (unsigned long long)s->memory);
	s->mem_file_bytes = (uint64_t)st.st_blocks * 512;
	return 0;
}

int vm_snapshot_open(struct vm_snapshot *s, const char *dir, struct error *err)
{
	memset(s, 0, sizeof(*s));
	s->mem_fd = -1;
	if (!realpath(dir, s->dir))
		return errno == ENOENT ? err_input(err, "%s: no such snapshot", dir)
				       : err_sys(err, "%s", dir);
	if (read_state(s, err) < 0 || load_machine(s, err) < 0 ||
	    open_memory(s, err) < 0)
		return -1;
	return 0;
}

void vm_snapshot_close(struct vm_snapshot *s)
{
	free(s->state);
	s->state = NULL;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = -1;
}

/* An image another process holds (a running guest) cannot be restored
 * under this one: the backend locks the same way. */
static int disk_free(const char *path, bool readonly, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return err_sys(err, "%s", path);
	if (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0 &&
	    errno == EWOULDBLOCK)
		r = err_input(err, "%s: in use by another VM", path);
	close(fd);
	return r;
}

int vm_snapshot_check(const struct vm_snapshot *s, const struct machine_spec *cfg,
		      struct error *err)
{
	if (cfg->vcpus != s->vcpus || cfg->memory != s->memory)
		return err_input(err, "the definition says %u vCPUs and %llu "
				 "bytes, the state %u and %llu", cfg->vcpus,
				 (unsigned long long)cfg->memory, s->vcpus,
				 (unsigned long long)s->memory);
	if (cfg->ndisks != s->ndisks || cfg->nnets != s->nnets)
		return err_input(err, "the definition has %zu disks and %zu "
				 "NICs, the state %u and %u", cfg->ndisks,
				 cfg->nnets, s->ndisks, s->nnets);
	for (unsigned i = 0; i < s->ndisks; i++) {
		const struct snapshot_disk *d = &s->disk[i];
		uint64_t size = 0;

		if (image_size(cfg->disks[i].path, &size, err) < 0)
			return err_prefix(err, "disk %u", i);
		if (size != d->size)
			return err_input(err, "disk %u (%s): %llu bytes now, %llu "
					 "when the snapshot was taken: restore "
					 "it with the image it was taken with", i,
					 cfg->disks[i].path,
					 (unsigned long long)size,
					 (unsigned long long)d->size);
		if (disk_free(cfg->disks[i].path, cfg->disks[i].readonly, err) < 0)
			return err_prefix(err, "disk %u", i);
	}
	return 0;
}

int vm_snapshot_map_memory(struct vm_snapshot *s, struct vm *vm,
			   struct error *err)
{
	int fd = s->mem_fd, r;

	s->mem_fd = -1;
	if (s->compressed) {
		r = gmem_load_z(&vm->mem, s->memory, fd, err);
		close(fd);
		return r;
	}
	return gmem_map_file(&vm->mem, s->memory, fd, err);
}

int vm_snapshot_load(const struct vm_snapshot *s, struct vm *vm,
		     struct error *err)
{
	if (vm_state_restore(vm, &s->rd, err) < 0 ||
	    pci_host_restore(&vm->pci, &s->rd, err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->ndev; i++) {
		const struct device_ops *ops = vm->dev[i].ops;

		if (ops->restore && ops->restore(vm->dev[i].state, &s->rd, err) < 0)
			return err_prefix(err, "device %s", ops->name);
	}
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vcpu_state_restore(&vm->vcpu[i], &s->rd, err) < 0)
			return err_prefix(err, "vCPU %u", i);
	return 0;
}

void vm_snapshot_print(const struct vm_snapshot *s, FILE *out)
{
	struct vmstate_section sec;
	size_t cur = 0;

	fprintf(out, "format: %u\n", s->rd.format_version);
	fprintf(out, "vessel: %s\n", s->vessel);
	fprintf(out, "name: %s\n", s->name);
	fprintf(out, "vcpus: %u\n", s->vcpus);
	fprintf(out, "memory: %llu\n", (unsigned long long)s->memory);
	fprintf(out, "memory_file: %llu\n", (unsigned long long)s->mem_file_bytes);
	fprintf(out, "compressed: %s\n", s->compressed ? "yes" : "no");
	fprintf(out, "state_file: %zu\n", s->state_len);
	fprintf(out, "devices:");
	while (vmstate_next(&s->rd, &cur, &sec) == 1)
		if (strcmp(sec.id, MACHINE_SECTION) && strncmp(sec.id, "vcpu.", 5) &&
		    strncmp(sec.id, "vm.", 3))
			fprintf(out, " %s", sec.id);
	fprintf(out, "\n");
	for (unsigned i = 0; i < s->ndisks; i++)
		fprintf(out, "disk: %s %llu%s\n", s->disk[i].path,
			(unsigned long long)s->disk[i].size,
			s->disk[i].readonly ? " read-only" : "");
	for (unsigned i = 0; i < s->nnets; i++)
		fprintf(out, "net: %s %02x:%02x:%02x:%02x:%02x:%02x\n",
			s->net[i].tap, s->net[i].mac[0], s->net[i].mac[1],
			s->net[i].mac[2], s->net[i].mac[3], s->net[i].mac[4],
			s->net[i].mac[5]);
}

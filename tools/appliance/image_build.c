/* `vessel image build` (image_build.h): gather the file set (host.yaml,
 * the guests and their files, the kernel's modules, vessel, busybox,
 * e2fsck), write the initramfs and the command line into a work directory
 * next to the output; image_output.c makes the disk or the kernel+initrd
 * directory from them and moves it into place. */
#include "../guest_set.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fileset.h"
#include "host_config.h"
#include "image_build.h"
#include "image_output.h"
#include "kernel_release_x86.h"
#include "libdeps.h"
#include "modules.h"
#include "tool_run.h"
#include "../config.h"
#include "../../container/rmtree.h"

#define FAT_EPOCH 315619200     /* 1980-01-02: FAT and ext4 need a real time */

/* What every appliance host loads (APPLIANCE.md). */
static const char *const needed_modules[] = {
	"kvm", "kvm_intel", "kvm_amd", "tun", "bridge", "veth", "virtio_pci",
	"virtio_blk", "virtio_net", "ahci", "nvme", "sd_mod", "ext4", "evdev",
	"i6300esb",
	/* ext4's metadata checksums (a soft dependency modprobe would load;
	 * the image has no modprobe) and the ACPI power button's driver */
	"crc32c_generic", "button",
};

struct build {
	const struct image_opts *o;
	struct image_report *rep;
	struct host_config hc;
	bool hc_loaded;
	char *guests;           /* absolute, lexically clean DIR/guests */
	char *work;
	struct fileset fs;
	char **disks;           /* REL paths of the data partition's files */
	char **disk_src;
	size_t ndisks;
	uint64_t disk_bytes;
	uint32_t mtime;
	int64_t fs_time;
	char kernel[PATH_MAX];
	char moddir[PATH_MAX];
};

/* An absolute path with ".", ".." and repeated slashes folded, without
 * looking at the file system (symlinks stay as named). */
static char *lexical_abs(const char *path)
{
	char cwd[PATH_MAX], *joined, *out, *o;
	size_t len;

	if (path[0] == '/') {
		joined = strdup(path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		if (asprintf(&joined, "%s/%s", cwd, path) < 0)
			joined = NULL;
	}
	if (!joined)
		return NULL;
	len = strlen(joined);
	out = malloc(len + 2);
	if (!out) {
		free(joined);
		return NULL;
	}
	o = out;
	for (char *seg = strtok(joined, "/"); seg; seg = strtok(NULL, "/")) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			while (o > out && *--o != '/')
				;
			continue;
		}
		*o++ = '/';
		memcpy(o, seg, strlen(seg));
		o += strlen(seg);
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	free(joined);
	return out;
}

/* The path relative to DIR/guests, or NULL (err set) when outside it. */
static char *guest_rel(struct build *b, const char *yaml, const char *key,
		       const char *path, struct error *err)
{
	char *abs = lexical_abs(path), *rel;
	size_t n = strlen(b->guests);

	if (!abs) {
		err_set(err, "out of memory");
		return NULL;
	}
	if (strncmp(abs, b->guests, n) || abs[n] != '/' || !abs[n + 1]) {
		err_input(err, "%s: %s: '%s' is outside %s/guests: an appliance "
			  "holds only files under it", yaml, key, path, b->o->dir);
		free(abs);
		return NULL;
	}
	rel = strdup(abs + n + 1);
	free(abs);
	if (!rel)
		err_set(err, "out of memory");
	return rel;
}

/* A file a guest names: its path under guests/ (NULL with err set when
 * it is outside or missing) and *st. */
static char *guest_file(struct build *b, const char *yaml, const char *key,
			const char *path, struct stat *st, struct error *err)
{
	char *rel = guest_rel(b, yaml, key, path, err);

	if (rel && stat(path, st) < 0) {
		err_sys(err, "%s: %s: '%s'", yaml, key, path);
		err->input = 1;
		free(rel);
		return NULL;
	}
	return rel;
}

/* A file or tree a guest uses, at etc/vessel/guests/REL. */
static int add_ref(struct build *b, const char *yaml, const char *key,
		   const char *path, struct error *err)
{
	struct stat st;
	char *rel = guest_file(b, yaml, key, path, &st, err), *dst;
	int r;

	if (!rel)
		return -1;
	if (asprintf(&dst, "etc/vessel/guests/%s", rel) < 0) {
		free(rel);
		return err_set(err, "out of memory");
	}
	if (S_ISDIR(st.st_mode))
		r = fileset_add_tree(&b->fs, dst, path, err);
	else if (S_ISREG(st.st_mode))
		r = fileset_add_file(&b->fs, dst, path, st.st_mode, err);
	else
		r = err_input(err, "%s: %s: '%s' is neither a file nor a "
			      "directory", yaml, key, path);
	free(dst);
	free(rel);
	return r;
}

/* A VM disk: on the data partition at guests/REL, linked from
 * etc/vessel/guests/REL. */
static int add_disk(struct build *b, const char *yaml, const char *path,
		    struct error *err)
{
	struct stat st;
	char *rel = guest_file(b, yaml, "disks.path", path, &st, err), *dst, *target;
	int r;

	if (!rel)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		free(rel);
		return err_input(err, "%s: disks.path: '%s' is not a regular file "
				 "(an image can hold only disk image files)",
				 yaml, path);
	}
	if (!b->hc.data_size) {
		free(rel);
		return err_input(err, "%s: disk '%s' goes on the data partition, "
				 "but %s has no data:", yaml, path, b->hc.file);
	}
	for (size_t i = 0; i < b->ndisks; i++)
		if (!strcmp(b->disks[i], rel)) {
			free(rel);
			return 0;       /* shared by two guests: once */
		}
	char **d = realloc(b->disks, (b->ndisks + 1) * sizeof(*d));
	char **s = d ? realloc(b->disk_src, (b->ndisks + 1) * sizeof(*s)) : NULL;

	if (d)
		b->disks = d;
	if (s)
		b->disk_src = s;
	if (!d || !s || !(s[b->ndisks] = strdup(path))) {
		free(rel);
		return err_set(err, "out of memory");
	}
	d[b->ndisks++] = rel;
	b->disk_bytes += (uint64_t)st.st_blocks * 512;
	if (asprintf(&dst, "etc/vessel/guests/%s", rel) < 0)
		return err_set(err, "out of memory");
	if (asprintf(&target, "/data/guests/%s", rel) < 0) {
		free(dst);
		return err_set(err, "out of memory");
	}
	r = fileset_add_symlink(&b->fs, dst, target, err);
	free(dst);
	free(target);
	return r;
}

static int add_guest(struct build *b, const char *file, const char *shown,
		     struct error *err)
{
	struct guest_config cfg;
	char *dst;
	int r = 0;

	if (config_load(file, &cfg, err) < 0) {
		err->input = 1;
		return -1;
	}
	if (asprintf(&dst, "etc/vessel/guests/%s", strrchr(file, '/') + 1) < 0) {
		config_free(&cfg);
		return err_set(err, "out of memory");
	}
	r = fileset_add_file(&b->fs, dst, file, 0644, err);
	free(dst);
	if (cfg.kind == GUEST_VM) {
		if (r == 0)
			r = add_ref(b, shown, "kernel", cfg.vm.kernel, err);
		if (r == 0 && cfg.vm.initrd)
			r = add_ref(b, shown, "initrd", cfg.vm.initrd, err);
		for (size_t i = 0; r == 0 && i < cfg.vm.ndisks; i++)
			r = add_disk(b, shown, cfg.vm.disks[i].path, err);
	} else {
		if (r == 0)
			r = add_ref(b, shown, "rootfs", cfg.ct.rootfs, err);
		/* Mounts from under guests/ come along; others name the
		 * appliance's own files (/data/...). */
		for (size_t i = 0; r == 0 && i < cfg.ct.nmounts; i++) {
			char *abs = lexical_abs(cfg.ct.mounts[i].source);
			size_t n = strlen(b->guests);

			if (abs && !strncmp(abs, b->guests, n) && abs[n] == '/')
				r = add_ref(b, shown, "mounts.source",
					    cfg.ct.mounts[i].source, err);
			free(abs);
		}
	}
	config_free(&cfg);
	return r;
}

static int gather_guests(struct build *b, struct error *err)
{
	char *dir;
	struct dirent **names;
	int n, r = 0;

	if (asprintf(&dir, "%s/guests", b->o->dir) < 0)
		return err_set(err, "out of memory");
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		err_sys(err, "%s", dir);
		err->input = 1;
		free(dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (r == 0 && guest_set_is_file(names[i]->d_name)) {
			char *file;

			if (asprintf(&file, "%s/%s", dir, names[i]->d_name) < 0) {
				r = err_set(err, "out of memory");
			} else {
				r = add_guest(b, file, file, err);
				b->rep->nguests++;
				free(file);
			}
		}
		free(names[i]);
	}
	free(names);
	free(dir);
	return r;
}

static int find_kernel(struct build *b, struct error *err)
{
	struct utsname u;
	struct stat st;

	if (b->o->kernel)
		snprintf(b->kernel, sizeof(b->kernel), "%s", b->o->kernel);
	else if (b->hc.kernel)
		snprintf(b->kernel, sizeof(b->kernel), "%s", b->hc.kernel);
	else if (uname(&u) == 0)
		snprintf(b->kernel, sizeof(b->kernel), "/boot/vmlinuz-%s", u.release);
	if (stat(b->kernel, &st) < 0) {
		err_sys(err, "kernel '%s'", b->kernel);
		err->input = 1;
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		return err_input(err, "kernel '%s' is not a regular file", b->kernel);
	if (kernel_release_x86(b->kernel, b->rep->release,
			       sizeof(b->rep->release), err) < 0)
		return -1;
	if (b->o->moddir)
		snprintf(b->moddir, sizeof(b->moddir), "%s", b->o->moddir);
	else
		snprintf(b->moddir, sizeof(b->moddir), "/lib/modules/%s",
			 b->rep->release);
	return 0;
}

static int add_modules(struct build *b, struct error *err)
{
	size_t nwant = sizeof(needed_modules) / sizeof(needed_modules[0]);
	const char **want = calloc(nwant + b->hc.nmodules, sizeof(*want));
	char label[PATH_MAX + 160], **paths = NULL, *order = NULL, *dst;
	size_t npaths = 0, olen = 0;
	struct moddb db;
	int r;

	if (!want)
		return err_set(err, "out of memory");
	memcpy(want, needed_modules, sizeof(needed_modules));
	for (size_t i = 0; i < b->hc.nmodules; i++)
		want[nwant + i] = b->hc.modules[i];
	snprintf(label, sizeof(label), "%s (%s)", b->rep->release, b->kernel);
	r = moddb_load(&db, b->moddir, err);
	if (r < 0)
		err->input = 1;
	else
		r = moddb_resolve(&db, want, nwant + b->hc.nmodules, label,
				  &paths, &npaths, err);
	moddb_free(&db);
	free(want);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < npaths; i++) {
		char src[PATH_MAX * 2];
		struct stat st;

		snprintf(src, sizeof(src), "%s/%s", b->moddir, paths[i]);
		if (r == 0 && stat(src, &st) < 0) {
			err_sys(err, "%s: listed in modules.dep", src);
			err->input = 1;
			r = -1;
		}
		if (r == 0 && asprintf(&dst, "lib/modules/%s/%s", b->rep->release,
				       paths[i]) < 0)
			r = err_set(err, "out of memory");
		else if (r == 0) {
			r = fileset_add_file(&b->fs, dst, src, 0644, err);
			free(dst);
		}
		if (r == 0) {
			char *grown = realloc(order, olen + strlen(paths[i]) + 2);

			if (!grown) {
				r = err_set(err, "out of memory");
			} else {
				order = grown;
				olen += (size_t)sprintf(order + olen, "%s\n", paths[i]);
			}
		}
		free(paths[i]);
	}
	free(paths);
	if (r == 0)
		r = fileset_add_data(&b->fs, "lib/modules/load-order", order ? order : "",
				     olen, 0644, err);
	free(order);
	b->rep->nmodules = npaths;
	return r;
}

static int add_busybox(struct build *b, struct error *err)
{
	const char *busybox = getenv("VESSEL_BUSYBOX");
	const char *e2fsck = getenv("VESSEL_E2FSCK");
	char *list;
	size_t len;
	struct stat st;

	if (!busybox)
		busybox = "/bin/busybox";
	if (!e2fsck)
		e2fsck = "/sbin/e2fsck.static";
	if (stat(e2fsck, &st) < 0)
		return err_sys(err, "%s (install e2fsck-static)", e2fsck);
	const char *argv[] = { busybox, "--list", NULL };

	if (tool_output(argv, &list, &len, err) < 0)
		return err_prefix(err, "busybox (install busybox-static)");
	int r = fileset_add_file(&b->fs, "bin/busybox", busybox, 0755, err);

	for (char *name = strtok(list, "\n"); r == 0 && name; name = strtok(NULL, "\n")) {
		char path[300];

		if (!*name || strchr(name, '/') || strlen(name) > 64 ||
		    !strcmp(name, "busybox") || name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "bin/%s", name);
		r = fileset_add_symlink(&b->fs, path, "busybox", err);
	}
	free(list);
	if (r == 0)
		r = fileset_add_symlink(&b->fs, "bin/sh", "busybox", err);
	if (r == 0)
		r = fileset_add_file(&b->fs, "sbin/e2fsck", e2fsck, 0755, err);
	return r;
}

static int add_base(struct build *b, const char *hostyaml, struct error *err)
{
	static const char *const dirs[] = { "dev", "proc", "sys", "run", "tmp",
					    "data", "root", "etc/vessel/guests" };
	/* /proc/self/exe would name ldd's own shell in ldd: the real path. */
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *vessel = b->o->vessel;
	size_t nlibs;
	int r = 0;

	if (!vessel) {
		if (n < 0)
			return err_sys(err, "/proc/self/exe");
		self[n] = '\0';
		vessel = self;
	}

	for (size_t i = 0; r == 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		r = fileset_add_dir(&b->fs, dirs[i], !strcmp(dirs[i], "tmp") ? 01777 :
				    !strcmp(dirs[i], "root") ? 0700 : 0755, err);
	if (r == 0)
		r = fileset_add_node(&b->fs, "dev/console", S_IFCHR | 0600,
				     makedev(5, 1), err);
	if (r == 0)
		r = fileset_add_file(&b->fs, "bin/vessel", vessel, 0755, err);
	if (r == 0)
		r = fileset_add_symlink(&b->fs, "init", "bin/vessel", err);
	if (r == 0)
		r = libdeps_add(&b->fs, vessel, &nlibs, err);
	if (r == 0)
		r = fileset_add_file(&b->fs, "etc/vessel/host.yaml", hostyaml, 0644, err);
	if (r == 0)
		r = add_busybox(b, err);
	return r;
}


static int64_t source_date_epoch(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > UINT32_MAX)
		return 0;
	return v;
}

static int make_workdir(struct build *b, struct error *err)
{
	char *copy = strdup(b->o->out), *slash;
	const char *dir = ".", *base = b->o->out;

	if (!copy)
		return err_set(err, "out of memory");
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		base = slash + 1;
	}
	if (!*base) {
		free(copy);
		return err_input(err, "-o %s: names no file", b->o->out);
	}
	if (asprintf(&b->work, "%s/.%s.tmp-XXXXXX", dir, base) < 0) {
		free(copy);
		b->work = NULL;
		return err_set(err, "out of memory");
	}
	free(copy);
	if (!mkdtemp(b->work)) {
		err_sys(err, "work directory %s", b->work);
		free(b->work);
		b->work = NULL;
		return -1;
	}
	return 0;
}

int image_build(const struct image_opts *o, struct image_report *rep,
		struct error *err)
{
	struct build b = { .o = o, .rep = rep };
	char *hostyaml = NULL, *initrd = NULL, *cmdline = NULL, *tmp_out = NULL;
	char *guests = NULL;
	char line[512];
	int r, fd;

	memset(rep, 0, sizeof(*rep));
	b.mtime = (uint32_t)source_date_epoch();
	b.fs_time = b.mtime < FAT_EPOCH ? FAT_EPOCH : b.mtime;
	if (asprintf(&hostyaml, "%s/host.yaml", o->dir) < 0 ||
	    asprintf(&guests, "%s/guests", o->dir) < 0)
		return err_set(err, "out of memory");
	b.guests = lexical_abs(guests);
	free(guests);
	r = host_config_load(hostyaml, &b.hc, err);
	if (r < 0) {
		err->input = 1;
		goto out;
	}
	b.hc_loaded = true;
	r = gather_guests(&b, err);
	if (r == 0)
		r = find_kernel(&b, err);
	if (r == 0)
		r = add_modules(&b, err);
	if (r == 0)
		r = add_base(&b, hostyaml, err);
	if (r == 0)
		r = make_workdir(&b, err);
	if (r < 0)
		goto out;
	if (asprintf(&initrd, "%s/initrd.img", b.work) < 0)
		initrd = NULL;
	if (asprintf(&cmdline, "%s/cmdline", b.work) < 0)
		cmdline = NULL;
	if (asprintf(&tmp_out, "%s/out", b.work) < 0)
		tmp_out = NULL;
	if (!initrd || !cmdline || !tmp_out) {
		r = err_set(err, "out of memory");
		goto out;
	}
	fd = open(initrd, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = err_sys(err, "%s", initrd);
		goto out;
	}
	r = fileset_write_cpio(&b.fs, fd, b.mtime, &rep->initrd_raw, err);
	if (close(fd) < 0 && r == 0)
		r = err_sys(err, "%s", initrd);
	if (r < 0)
		goto out;
	{
		struct stat st;

		if (stat(initrd, &st) == 0)
			rep->initrd_bytes = (uint64_t)st.st_size;
	}
	rep->nfiles = b.fs.n;
	snprintf(line, sizeof(line), "console=%s panic=10",
		 b.hc.console ? b.hc.console : "ttyS0");
	r = write_text_file(cmdline, line, err);
	struct image_parts parts = {
		.work = b.work, .kernel = b.kernel, .initrd = initrd,
		.cmdline = cmdline, .hostname = b.hc.hostname,
		.hostfile = b.hc.file ? b.hc.file : hostyaml,
		.data_size = b.hc.data_size, .disks = b.disks,
		.disk_src = b.disk_src, .ndisks = b.ndisks,
		.disk_bytes = b.disk_bytes, .mtime = b.mtime,
		.fs_time = b.fs_time,
	};

	if (r == 0)
		r = o->format == IMAGE_DISK ?
		    image_write_disk(&parts, tmp_out, rep, err) :
		    image_write_dir(&parts, tmp_out, rep, err);
	if (r == 0)
		r = image_publish(tmp_out, o->out, o->format != IMAGE_DISK, err);
out:
	if (b.work) {
		struct error ignored = { 0 };

		rmtree(b.work, &ignored);
		free(b.work);
	}
	for (size_t i = 0; i < b.ndisks; i++) {
		free(b.disks[i]);
		free(b.disk_src[i]);
	}
	free(b.disks);
	free(b.disk_src);
	fileset_free(&b.fs);
	if (b.hc_loaded)
		host_config_free(&b.hc);
	free(b.guests);
	free(hostyaml);
	free(initrd);
	free(cmdline);
	free(tmp_out);
	return r;
}

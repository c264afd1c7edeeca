/* The outputs of `vessel image build` (image_build.h), from what the
 * gathering made (the initramfs, the command line, the data partition's
 * files): the GPT disk (a UKI in the ESP, the ext4 data partition) or the
 * kernel+initrd directory, and their move into place. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datafs.h"
#include "esp.h"
#include "gpt.h"
#include "image_output.h"
#include "sparse_copy.h"
#include "uki_x86.h"
#include "../../container/rmtree.h"

#define MIB (1ull << 20)

int write_text_file(const char *path, const char *text, struct error *err)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return err_sys(err, "%s", path);
	fputs(text, f);
	if (fclose(f) != 0)
		return err_sys(err, "%s", path);
	return 0;
}

static char *work_path(const struct image_parts *p, const char *name)
{
	char *path;

	return asprintf(&path, "%s/%s", p->work, name) < 0 ? NULL : path;
}

static int build_data(const struct image_parts *p, const char *out,
		      struct image_report *rep, struct error *err)
{
	char *staging = work_path(p, "data"), uuid[37], seed[300];
	struct guid g;
	int r = 0;

	if (!staging)
		return err_set(err, "out of memory");
	/* Room for the disks, the file system's own blocks and some slack. */
	if (p->disk_bytes + p->disk_bytes / 16 + 16 * MIB > p->data_size) {
		free(staging);
		return err_input(err, "%s: data: %llu MiB is too small for the "
				 "guests' disks (%llu MiB)", p->hostfile,
				 (unsigned long long)(p->data_size >> 20),
				 (unsigned long long)(p->disk_bytes >> 20));
	}
	if (mkdir(staging, 0755) < 0 && errno != EEXIST)
		r = err_sys(err, "%s", staging);
	for (size_t i = 0; r == 0 && i < p->ndisks; i++) {
		char *dst;

		if (asprintf(&dst, "%s/guests/%s", staging, p->disks[i]) < 0) {
			r = err_set(err, "out of memory");
			break;
		}
		/* Parents first. */
		for (char *s = strchr(dst + strlen(staging) + 1, '/'); s; s = strchr(s + 1, '/')) {
			*s = '\0';
			if (mkdir(dst, 0755) < 0 && errno != EEXIST)
				r = err_sys(err, "%s", dst);
			*s = '/';
		}
		if (r == 0)
			r = sparse_copy_file(p->disk_src[i], dst, err);
		free(dst);
	}
	snprintf(seed, sizeof(seed), "vessel:%s:data", p->hostname ? p->hostname : "");
	g = guid_derive(seed);
	guid_text(&g, uuid);
	if (r == 0)
		r = datafs_build(staging, out, p->data_size, uuid, p->fs_time, err);
	free(staging);
	rep->data_bytes = p->data_size;
	return r;
}

static int write_osrel(const char *path, struct error *err)
{
	return write_text_file(path, "NAME=vessel\nID=vessel\nPRETTY_NAME=\"vessel "
			  "appliance\"\n", err);
}

int image_write_disk(const struct image_parts *p, const char *tmp_out,
		     struct image_report *rep, struct error *err)
{
	char *uki = work_path(p, "BOOTX64.EFI"), *esp = work_path(p, "esp.img");
	char *osrel = work_path(p, "os-release"), *data = work_path(p, "data.img");
	char seed[300];
	struct gpt_part parts[2];
	struct guid disk_guid;
	uint64_t esp_size = 0, data_size, total, data_lba;
	size_t nparts = 1;
	int r = 0, fd = -1;

	if (!uki || !esp || !osrel || !data) {
		r = err_set(err, "out of memory");
		goto out;
	}
	snprintf(seed, sizeof(seed), "vessel:%s:", p->hostname ? p->hostname : "");
	struct uki_parts up = { .osrel = osrel, .cmdline = p->cmdline,
				.kernel = p->kernel, .initrd = p->initrd,
				.timestamp = p->mtime };

	r = write_osrel(osrel, err);
	if (r == 0)
		r = uki_build(&up, uki, err);
	if (r == 0) {
		struct guid v = guid_derive(strcat(seed, "esp"));

		r = esp_build(uki, esp, (uint32_t)v.b[0] << 24 | v.b[1] << 16 |
			      v.b[2] << 8 | v.b[3], p->fs_time, &esp_size, err);
	}
	if (r == 0 && p->data_size)
		r = build_data(p, data, rep, err);
	if (r < 0)
		goto out;
	data_size = (p->data_size + MIB - 1) / MIB * MIB;
	data_lba = (MIB + esp_size) / GPT_SECTOR;
	total = MIB + esp_size + (p->data_size ? data_size : 0) + MIB;
	*strrchr(seed, ':') = '\0';
	parts[0] = (struct gpt_part){ .type = GPT_TYPE_ESP,
		.unique = guid_derive(strcat(seed, ":esp-part")),
		.first_lba = MIB / GPT_SECTOR,
		.last_lba = data_lba - 1, .name = "EFI System Partition" };
	*strrchr(seed, ':') = '\0';
	if (p->data_size) {
		parts[1] = (struct gpt_part){ .type = GPT_TYPE_LINUX_DATA,
			.unique = guid_derive(strcat(seed, ":data-part")),
			.first_lba = data_lba,
			.last_lba = data_lba + data_size / GPT_SECTOR - 1,
			.name = DATAFS_LABEL };
		*strrchr(seed, ':') = '\0';
		nparts = 2;
	}
	disk_guid = guid_derive(strcat(seed, ":disk"));
	fd = open(tmp_out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)total) < 0) {
		r = err_sys(err, "%s", tmp_out);
		goto out;
	}
	{
		int in = open(esp, O_RDONLY | O_CLOEXEC);

		r = in < 0 ? err_sys(err, "%s", esp) :
		    sparse_copy_fd(in, fd, MIB, esp_size, err);
		if (in >= 0)
			close(in);
	}
	if (r == 0 && p->data_size) {
		int in = open(data, O_RDONLY | O_CLOEXEC);

		r = in < 0 ? err_sys(err, "%s", data) :
		    sparse_copy_fd(in, fd, data_lba * GPT_SECTOR, p->data_size, err);
		if (in >= 0)
			close(in);
	}
	if (r == 0)
		r = gpt_write(fd, total, &disk_guid, parts, nparts, err);
	if (r == 0 && fsync(fd) < 0)
		r = err_sys(err, "%s", tmp_out);
	rep->esp_bytes = esp_size;
	rep->image_bytes = total;
out:
	if (fd >= 0)
		close(fd);
	free(uki);
	free(esp);
	free(osrel);
	free(data);
	return r;
}

int image_write_dir(const struct image_parts *p, const char *tmp_out,
		    struct image_report *rep, struct error *err)
{
	char path[PATH_MAX * 2];
	struct stat st;
	int r;

	if (mkdir(tmp_out, 0755) < 0)
		return err_sys(err, "%s", tmp_out);
	snprintf(path, sizeof(path), "%s/vmlinuz", tmp_out);
	r = sparse_copy_file(p->kernel, path, err);
	snprintf(path, sizeof(path), "%s/initrd.img", tmp_out);
	if (r == 0 && rename(p->initrd, path) < 0)
		r = err_sys(err, "%s", path);
	snprintf(path, sizeof(path), "%s/cmdline", tmp_out);
	if (r == 0 && rename(p->cmdline, path) < 0)
		r = err_sys(err, "%s", path);
	if (r == 0 && p->data_size) {
		snprintf(path, sizeof(path), "%s/data.img", tmp_out);
		r = build_data(p, path, rep, err);
	}
	if (r == 0 && stat(p->kernel, &st) == 0)
		rep->image_bytes = (uint64_t)st.st_size + rep->initrd_bytes +
				      p->data_size;
	return r;
}

/* Rename tmp to out; a directory already at out is replaced. */
int image_publish(const char *tmp, const char *out, bool is_dir,
		   struct error *err)
{
	struct stat st;
	char *aside;

	if (lstat(out, &st) == 0 && S_ISDIR(st.st_mode) != is_dir)
		return err_input(err, "%s exists and is %s", out,
				 is_dir ? "not a directory" : "a directory");
	if (rename(tmp, out) == 0)
		return 0;
	if (!is_dir || (errno != ENOTEMPTY && errno != EEXIST))
		return err_sys(err, "rename %s to %s", tmp, out);
	if (asprintf(&aside, "%s.old-%d", out, (int)getpid()) < 0)
		return err_set(err, "out of memory");
	if (rename(out, aside) < 0 || rename(tmp, out) < 0) {
		err_sys(err, "replace %s", out);
		free(aside);
		return -1;
	}
	rmtree(aside, err);
	err_clear(err);
	free(aside);
	return 0;
}

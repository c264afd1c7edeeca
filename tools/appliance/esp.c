/* ESP image (esp.h). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esp.h"
#include "tool_run.h"

#define MIB (1ull << 20)

int esp_build(const char *efi_app, const char *out, uint32_t volume_id,
	      int64_t fs_time, uint64_t *size, struct error *err)
{
	char volid[16], epoch[48], spec[4200];
	struct timespec times[2];
	struct stat st;
	int fd;

	if (stat(efi_app, &st) < 0)
		return err_sys(err, "%s", efi_app);
	/* FAT overhead plus slack, in whole MiB, at least 8 MiB. */
	*size = ((uint64_t)st.st_size + (uint64_t)st.st_size / 8 + 2 * MIB +
		 MIB - 1) / MIB * MIB;
	if (*size < 8 * MIB)
		*size = 8 * MIB;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)*size) < 0) {
		err_sys(err, "%s", out);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	/* mcopy -m keeps the file's mtime: make it the build's time. */
	times[0].tv_sec = times[1].tv_sec = fs_time;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, efi_app, times, 0) < 0)
		return err_sys(err, "%s", efi_app);
	snprintf(volid, sizeof(volid), "%08x", volume_id);
	snprintf(epoch, sizeof(epoch), "SOURCE_DATE_EPOCH=%lld", (long long)fs_time);
	snprintf(spec, sizeof(spec), "%s", out);
	const char *env[] = { epoch, "MTOOLS_SKIP_CHECK=1", NULL };
	const char *mkfs[] = { "mkfs.vfat", "--invariant", "-i", volid, "-n",
			       "ESP", out, NULL };
	const char *mmd[] = { "mmd", "-i", spec, "::/EFI", "::/EFI/BOOT", NULL };
	const char *mcopy[] = { "mcopy", "-m", "-i", spec, efi_app,
				"::/EFI/BOOT/BOOTX64.EFI", NULL };

	if (tool_run(mkfs, env, err) < 0 || tool_run(mmd, env, err) < 0 ||
	    tool_run(mcopy, env, err) < 0)
		return err_prefix(err, "EFI system partition");
	return 0;
}

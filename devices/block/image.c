/* Opening a disk image: a raw file or a block device, read-write or
 * read-only, with O_DIRECT when asked and the filesystem takes it. */
#include "backend_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static bool pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

/* O_DIRECT constraints: from statx (Linux 6.1+), else the block device's
 * logical block size, else the usual 512. Kept within [512, 4096] for
 * offsets (guest sectors are 512 bytes; the bounce buffer is a page). */
static void dio_align(struct blk_image *img, const struct stat *st)
{
	unsigned mem = 512, off = 512;
	int lbs;
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(img->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		mem = stx.stx_dio_mem_align;
		off = stx.stx_dio_offset_align;
	} else
#endif
	if (S_ISBLK(st->st_mode) && ioctl(img->fd, BLKSSZGET, &lbs) == 0 &&
	    lbs > 0) {
		mem = off = (unsigned)lbs;
	}
	if (!pow2(mem) || mem > 4096)
		mem = 4096;
	if (!pow2(off) || off < 512)
		off = 512;
	if (off > 4096)
		off = 4096;
	img->mem_align = mem;
	img->off_align = off;
}

int blk_image_open(struct blk_image *img, const char *path, bool readonly,
		   bool direct, bool lock, struct error *err)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;

	img->fd = -1;
	img->direct = false;
	img->mem_align = img->off_align = 512;
	if (direct) {
		img->fd = open(path, flags | O_DIRECT);
		if (img->fd >= 0)
			img->direct = true;
		else if (errno != EINVAL)
			return err_sys(err, "cannot open");
	}
	if (img->fd < 0) {
		/* No O_DIRECT here (EINVAL): the page cache it is. */
		img->fd = open(path, flags);
		if (img->fd < 0)
			return err_sys(err, "cannot open");
	}
	if (fstat(img->fd, &st) < 0) {
		err_sys(err, "fstat");
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		img->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(img->fd, BLKGETSIZE64, &img->size) < 0) {
			err_sys(err, "BLKGETSIZE64");
			goto fail;
		}
	} else {
		err_set(err, "not a regular file or a block device");
		goto fail;
	}
	if (lock && blk_image_lock(img, readonly, true, err) < 0)
		goto fail;
	if (img->direct)
		dio_align(img, &st);
	return 0;
fail:
	blk_image_close(img);
	return -1;
}

int blk_image_lock(struct blk_image *img, bool readonly, bool lock,
		   struct error *err)
{
	if (!lock) {
		if (!readonly && fdatasync(img->fd) < 0)
			return err_sys(err, "fdatasync");
		flock(img->fd, LOCK_UN);
		return 0;
	}
	/* Two writers (or a writer and a reader) would corrupt the guest's
	 * filesystem: refuse to share, like other hypervisors do. */
	if (flock(img->fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0 &&
	    errno == EWOULDBLOCK)
		return err_set(err, "locked: in use by another VM, or listed twice");
	return 0;
}

void blk_image_close(struct blk_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

bool blk_image_aligned(const struct blk_image *img, const struct blk_io *io)
{
	uint64_t om = img->off_align - 1;
	uintptr_t mm = img->mem_align - 1;

	if (!img->direct)
		return true;
	if ((io->offset | io->len) & om)
		return false;
	for (unsigned i = 0; i < io->niov; i++)
		if (((uintptr_t)io->iov[i].iov_base & mm) ||
		    (io->iov[i].iov_len & om))
			return false;
	return true;
}

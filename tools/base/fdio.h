/* Small file-descriptor helpers shared by the VMM, the container runtime
 * and the CLI. */
#ifndef VESSEL_FDIO_H
#define VESSEL_FDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct error;
struct iovec;

/* Write all of buf (retrying short writes and EINTR): 0, or -1 with errno
 * (a write of 0 bytes counts as an error: EIO). */
int write_all(int fd, const void *buf, size_t len);

/* pwrite all of buf at off, as write_all. */
int pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* Read len bytes, or up to end-of-file (retrying short reads and EINTR):
 * the number read (less than len only at end-of-file), or -1 with errno. */
ssize_t read_full(int fd, void *buf, size_t len);

/* pread len bytes at off, or up to end-of-file, as read_full. */
ssize_t pread_full(int fd, void *buf, size_t len, off_t off);

/* Copy the file from to a new file to (mode 0600; excl: it must not exist
 * yet, else it is truncated), fsynced. On error to may be left partial. */
int copy_file(const char *from, const char *to, bool excl, struct error *err);

/* Replace dirfd/name with the bytes of iov[0..n), so that a crash at any
 * moment leaves either the old file or the new one: written to tmp in the
 * same directory (a name the caller makes unique; created O_EXCL with
 * mode), fsynced, renamed over name, then the directory fsynced. On error
 * tmp is gone and name is as it was, unless only the directory's fsync
 * failed. */
int write_file_atomic(int dirfd, const char *name, const char *tmp,
		      const struct iovec *iov, int n, mode_t mode,
		      struct error *err);

#endif

/* UKI assembly (uki_x86.h). The PE header is read only to find the end of
 * the stub; objcopy does the writing. SOURCE_DATE_EPOCH is passed on so
 * objcopy's PE timestamp does not depend on the clock. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_run.h"
#include "uki_x86.h"
#include "../base/le.h"

#define SECTION_ALIGN 0x1000u

int pe_image_end(const unsigned char *buf, size_t len, uint64_t *end,
		 struct error *err)
{
	uint32_t pe;
	const unsigned char *opt;

	if (len < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
		return err_input(err, "EFI stub: not a PE file (no MZ)");
	pe = rd32(buf + 0x3c);
	if (pe > len || len - pe < 24 + 64 || memcmp(buf + pe, "PE\0\0", 4))
		return err_input(err, "EFI stub: no PE header");
	opt = buf + pe + 24;
	if (opt[0] != 0x0b || opt[1] != 0x02)
		return err_input(err, "EFI stub: not PE32+ (x86-64)");
	*end = rd64(opt + 24) + rd32(opt + 56);
	return 0;
}

/* objcopy stamps the PE header with the time of day: set TimeDateStamp to
 * stamp and recompute the optional header's CheckSum (16-bit one's-
 * complement style sum of the file with the field as zero, plus the
 * length), so two builds give the same bytes. */
int pe_set_timestamp(unsigned char *buf, size_t len, uint32_t stamp,
		     struct error *err)
{
	uint32_t pe;
	uint64_t sum = 0;
	size_t csum;

	if (len < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
		return err_input(err, "not a PE file");
	pe = rd32(buf + 0x3c);
	if (pe > len || len - pe < 24 + 68 || memcmp(buf + pe, "PE\0\0", 4))
		return err_input(err, "no PE header");
	for (int i = 0; i < 4; i++)
		buf[pe + 8 + i] = (unsigned char)(stamp >> (8 * i));
	csum = pe + 24 + 64;
	memset(buf + csum, 0, 4);
	for (size_t i = 0; i < len; i += 2) {
		sum += buf[i] | (i + 1 < len ? (uint32_t)buf[i + 1] << 8 : 0);
		sum = (sum & 0xffff) + (sum >> 16);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum += len;
	for (int i = 0; i < 4; i++)
		buf[csum + i] = (unsigned char)(sum >> (8 * i));
	return 0;
}

static int fix_timestamp(const char *path, uint32_t stamp, struct error *err)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDWR | O_CLOEXEC), r = 0;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return err_sys(err, "%s", path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return err_set(err, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n <= 0) {
			r = err_sys(err, "read %s", path);
			break;
		}
		got += (size_t)n;
	}
	if (r == 0)
		r = pe_set_timestamp(buf, got, stamp, err);
	/* Only the header changed. */
	if (r == 0 && pwrite(fd, buf, 4096 < got ? 4096 : got, 0) < 0)
		r = err_sys(err, "write %s", path);
	free(buf);
	if (close(fd) < 0 && r == 0)
		r = err_sys(err, "%s", path);
	return r;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static int file_size(const char *path, uint64_t *size, struct error *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return err_sys(err, "%s", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

int uki_build(const struct uki_parts *p, const char *out, struct error *err)
{
	const char *stub = p->stub ? p->stub : getenv("VESSEL_EFI_STUB");
	const char *names[4] = { ".osrel", ".cmdline", ".linux", ".initrd" };
	const char *files[4] = { p->osrel, p->cmdline, p->kernel, p->initrd };
	char add[4][4200], vma[4][64];
	const char *argv[4 * 4 + 4];
	unsigned char head[4096];
	uint64_t at;
	size_t a = 0;
	ssize_t n;
	int fd;

	if (!stub)
		stub = UKI_STUB_DEFAULT;
	fd = open(stub, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return err_sys(err, "EFI stub %s (install systemd-boot-efi)", stub);
	}
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	if (n < 0)
		return err_sys(err, "EFI stub %s", stub);
	if (pe_image_end(head, (size_t)n, &at, err) < 0)
		return err_prefix(err, "%s", stub);
	argv[a++] = "objcopy";
	for (int i = 0; i < 4; i++) {
		uint64_t size = 0;

		at = align_up(at, SECTION_ALIGN);
		if (file_size(files[i], &size, err) < 0)
			return -1;
		snprintf(add[i], sizeof(add[i]), "%s=%s", names[i], files[i]);
		snprintf(vma[i], sizeof(vma[i]), "%s=0x%llx", names[i],
			 (unsigned long long)at);
		argv[a++] = "--add-section";
		argv[a++] = add[i];
		argv[a++] = "--change-section-vma";
		argv[a++] = vma[i];
		at += size;
	}
	argv[a++] = stub;
	argv[a++] = out;
	argv[a] = NULL;
	if (tool_run(argv, NULL, err) < 0)
		return -1;
	return fix_timestamp(out, p->timestamp, err);
}

/* The whole boot of one VM: firmware tables, then the kernel by its format. */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "acpi.h"
#include "layout.h"
#include "mptable.h"
#include "../tools/config.h"

#define MAX_KERNEL_SIZE (512ULL << 20)

static int slurp(const char *path, uint8_t **buf, size_t *len, struct error *err)
{
	struct stat st;
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
	close(fd);
	*len = done;
	return 0;
}

int boot_setup(struct gmem *m, const struct vm_config *cfg,
	       struct boot_entry *entry, struct error *err)
{
	struct acpi_config acpi = {
		.ncpus = cfg->vcpus,
		.pci_ecam_base = PCI_ECAM_BASE,
		.pci_bus_start = PCI_BUS_START,
		.pci_bus_end = PCI_BUS_END,
		.pci_mmio_base = PCI_MMIO_START,
		.pci_mmio_size = PCI_MMIO_SIZE,
	};
	struct boot_image bi = {
		.initrd_path = cfg->initrd,
		.cmdline = cfg->cmdline,
	};
	uint8_t *img = NULL;
	size_t len = 0;
	int ret;

	if (acpi_build(m, &acpi, &bi.rsdp, err) < 0)
		return err_prefix(err, "ACPI tables");
	if (mptable_build(m, cfg->vcpus, true, err) < 0)
		return err_prefix(err, "MP table");
	if (slurp(cfg->kernel, &img, &len, err) < 0)
		return -1;
	bi.kernel = img;
	bi.kernel_len = len;
	if (bzimage_probe(img, len))
		ret = bzimage_load(m, &bi, entry, err);
	else if (pvh_probe(img, len))
		ret = pvh_load(m, &bi, entry, err);
	else
		ret = err_set(err, "%s: not a bzImage or an x86_64 ELF vmlinux",
			      cfg->kernel);
	free(img);
	return ret;
}

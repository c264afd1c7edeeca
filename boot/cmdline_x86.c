/* The kernel parameters vessel's x86 board calls for. cmdline.c adds them
 * to the guest's command line, each unless the user set it, and all of
 * them unless the definition says cmdline_auto: false. */
#include "loader.h"

const char *cmdline_board_params(const struct boot_spec *spec)
{
	/* On one present CPU, Linux turns its SMP lock prefixes into no-ops
	 * at boot: one text_poke (a page-table switch and back) for each of
	 * some 8,000 in Debian's 6.1, about 1.3 s of a boot in the nested
	 * host, where each switch traps to the host (bench/README.md).
	 * noreplace-smp keeps the prefixes: correct on one CPU, and the
	 * atomics it leaves locked cost a few cycles each. */
	return spec->vcpus == 1 ? "noreplace-smp" : "";
}

/* The kernel command line at CMDLINE_ADDR. */
#include "loader.h"

#include <string.h>

#include "layout.h"

int cmdline_write(struct gmem *m, const char *cmdline, uint64_t max_len,
		  struct error *err)
{
	size_t len = strlen(cmdline ? cmdline : "");

	if (max_len == 0 || max_len > CMDLINE_MAX - 1)
		max_len = CMDLINE_MAX - 1;
	if (len > max_len)
		return err_set(err, "cmdline is %zu bytes; this kernel takes at most %llu",
			       len, (unsigned long long)max_len);
	return gmem_write(m, CMDLINE_ADDR, cmdline ? cmdline : "", len + 1, err);
}

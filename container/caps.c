#include "caps.h"

#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

static bool in_default(int cap)
{
	return cap < 64 && (CAPS_DEFAULT_MASK >> cap) & 1;
}

int caps_drop_bounding(struct error *err)
{
	int cap, last = last_cap();

	for (cap = 0; cap <= last; cap++)
		if (!in_default(cap) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return err_sys(err, "dropping capability %d from the "
				       "bounding set", cap);
	return 0;
}

int caps_apply(bool root_user, struct error *err)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };
	uint64_t set = root_user ? CAPS_DEFAULT_MASK : 0;
	int cap, last = last_cap();

	data[0].effective = data[0].permitted = data[0].inheritable =
		(uint32_t)set;
	data[1].effective = data[1].permitted = data[1].inheritable =
		(uint32_t)(set >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return err_sys(err, "setting capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return err_sys(err, "clearing ambient capabilities");
	for (cap = 0; root_user && cap <= last; cap++)
		if (in_default(cap) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return err_sys(err, "raising ambient capability %d",
				       cap);
	return 0;
}

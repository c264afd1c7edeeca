#include "caps.h"

#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BIT(cap) (1ULL << (cap))

/* caps.h states these two masks as numbers: keep them equal. */
_Static_assert(CAPS_DEFAULT_MASK ==
	       (BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) |
		BIT(CAP_FSETID) | BIT(CAP_KILL) | BIT(CAP_SETGID) |
		BIT(CAP_SETUID) | BIT(CAP_SETPCAP) |
		BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_RAW) |
		BIT(CAP_SYS_CHROOT) | BIT(CAP_AUDIT_WRITE) |
		BIT(CAP_SETFCAP)), "CAPS_DEFAULT_MASK");
_Static_assert(CAPS_USERNS_MASK ==
	       (CAPS_DEFAULT_MASK | BIT(CAP_DAC_READ_SEARCH) |
		BIT(CAP_IPC_OWNER) | BIT(CAP_LEASE) | BIT(CAP_MKNOD) |
		BIT(CAP_NET_ADMIN) |
		BIT(CAP_SYS_ADMIN) | BIT(CAP_SYS_BOOT) | BIT(CAP_SYS_NICE) |
		BIT(CAP_SYS_RESOURCE)), "CAPS_USERNS_MASK");

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

static bool in_mask(uint64_t mask, int cap)
{
	return cap < 64 && (mask >> cap) & 1;
}

uint64_t caps_mask(bool userns)
{
	return userns ? CAPS_USERNS_MASK : CAPS_DEFAULT_MASK;
}

int caps_drop_bounding(uint64_t mask, struct error *err)
{
	int cap, last = last_cap();

	for (cap = 0; cap <= last; cap++)
		if (!in_mask(mask, cap) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return err_sys(err, "dropping capability %d from the "
				       "bounding set", cap);
	return 0;
}

int caps_apply(uint64_t set, struct error *err)
{
	return caps_set(set, set, set, set, err);
}

int caps_set(uint64_t eff, uint64_t perm, uint64_t inh, uint64_t amb,
	     struct error *err)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };
	int cap, last = last_cap();

	data[0].effective = (uint32_t)eff;
	data[0].permitted = (uint32_t)perm;
	data[0].inheritable = (uint32_t)inh;
	data[1].effective = (uint32_t)(eff >> 32);
	data[1].permitted = (uint32_t)(perm >> 32);
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return err_sys(err, "setting capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return err_sys(err, "clearing ambient capabilities");
	/* The kernel raises only what is permitted and inheritable; the
	 * rest of an OCI spec's ambient set is skipped (as runc does). */
	amb &= perm & inh;
	for (cap = 0; amb && cap <= last; cap++)
		if (in_mask(amb, cap) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return err_sys(err, "raising ambient capability %d",
				       cap);
	return 0;
}

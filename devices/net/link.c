/* Interface flags and bridge ports through the classic ioctls. */
#include "link.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int ctl_socket(struct error *err)
{
	int s = socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		err_sys(err, "socket(AF_LOCAL)");
	return s;
}

static void ifreq_init(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

int link_up(const char *ifname, struct error *err)
{
	struct ifreq ifr;
	int s = ctl_socket(err), ret = -1;

	if (s < 0)
		return -1;
	ifreq_init(&ifr, ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		err_sys(err, "SIOCGIFFLAGS");
		goto out;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			err_sys(err, "cannot bring the link up");
			goto out;
		}
	}
	ret = 0;
out:
	close(s);
	return ret;
}

/* The bridge ifname is a port of, from sysfs; "" if none. */
static void bridge_of(const char *ifname, char *out, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/sys/class/net/%s/master", ifname);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) < len)
		memcpy(out, base, strlen(base) + 1);
}

static bool is_bridge(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int link_bridge_attach(const char *ifname, const char *bridge,
		       struct error *err)
{
	char master[IFNAMSIZ + 1];
	unsigned idx = if_nametoindex(ifname);
	struct ifreq ifr;
	int s, ret = -1;

	if (!if_nametoindex(bridge))
		return err_set(err, "bridge '%s' does not exist", bridge);
	if (!is_bridge(bridge))
		return err_set(err, "'%s' is not a bridge", bridge);
	if (!idx)
		return err_sys(err, "no interface %s", ifname);
	bridge_of(ifname, master, sizeof(master));
	if (!strcmp(master, bridge))
		return 0;               /* a persistent tap, already a port */
	if (master[0])
		return err_set(err, "already a port of bridge '%s', not '%s'",
			       master, bridge);
	s = ctl_socket(err);
	if (s < 0)
		return -1;
	ifreq_init(&ifr, bridge);
	ifr.ifr_ifindex = idx;
	if (ioctl(s, SIOCBRADDIF, &ifr) < 0)
		err_sys(err, "cannot attach to bridge '%s'", bridge);
	else
		ret = 0;
	close(s);
	return ret;
}

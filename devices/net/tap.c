/* Tap devices for virtio-net: created if absent (non-persistent, so the
 * kernel removes them when vessel's fd closes), reused if they exist as
 * persistent taps (left in place). The fd is non-blocking: the event loop
 * decides when to read and write. */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "link.h"
#include "vnet.h"

unsigned tap_offload_for(uint64_t features)
{
	unsigned f = 0;

	/* Segmentation offloads are meaningless (and ignored by the kernel)
	 * without checksum offload: the spec makes them depend on it too. */
	if (!(features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	f |= TUN_F_CSUM;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_UFO))
		f |= TUN_F_UFO;
	return f;
}

uint64_t tap_guest_features(const struct tap *t)
{
	uint64_t f = 0;

	if (!(t->offloads & TUN_F_CSUM))
		return 0;
	f |= 1ULL << VIRTIO_NET_F_GUEST_CSUM;
	if (t->offloads & TUN_F_TSO4)
		f |= 1ULL << VIRTIO_NET_F_GUEST_TSO4;
	if (t->offloads & TUN_F_TSO6)
		f |= 1ULL << VIRTIO_NET_F_GUEST_TSO6;
	if (t->offloads & TUN_F_UFO)
		f |= 1ULL << VIRTIO_NET_F_GUEST_UFO;
	return f;
}

/* Which offloads the kernel accepts: each one on its own (with CSUM, which
 * the others need), since an unknown bit fails the whole TUNSETOFFLOAD. */
static unsigned probe_offloads(int fd)
{
	static const unsigned extra[] = { TUN_F_TSO4, TUN_F_TSO6, TUN_F_UFO };
	unsigned ok = 0;

	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)
		return 0;
	ok = TUN_F_CSUM;
	for (unsigned i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | extra[i]) == 0)
			ok |= extra[i];
	return ok;
}

static int tap_attach(struct tap *t, const char *name, struct error *err)
{
	struct ifreq ifr;
	int hdr = NET_HDR_LEN;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		if (errno == EBUSY)
			return err_sys(err, "in use by another process");
		if (errno == EINVAL)
			return err_sys(err, "exists and is not a usable tap");
		if (errno == EPERM)
			return err_sys(err, "needs CAP_NET_ADMIN");
		return err_sys(err, "TUNSETIFF");
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	/* It existed only if it was persistent (a non-persistent tap is
	 * attached to its creator's fd, and TUNSETIFF above fails EBUSY). */
	if (ioctl(t->fd, TUNGETIFF, &ifr) < 0)
		return err_sys(err, "TUNGETIFF");
	t->created = !(ifr.ifr_flags & IFF_PERSIST);
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return err_sys(err, "TUNSETVNETHDRSZ");
	t->offloads = probe_offloads(t->fd);
	if (ioctl(t->fd, TUNSETOFFLOAD, 0) < 0)
		return err_sys(err, "TUNSETOFFLOAD");
	return 0;
}

int tap_open(struct tap *t, const char *name, const char *bridge,
	     struct error *err)
{
	memset(t, 0, sizeof(*t));
	if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ) {
		t->fd = -1;
		return err_set(err, "tap name '%s' must be 1 to %d characters",
			       name, IFNAMSIZ - 1);
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return err_sys(err, "tap %s: cannot open /dev/net/tun", name);
	if (tap_attach(t, name, err) < 0 || link_up(t->name, err) < 0 ||
	    (bridge && link_bridge_attach(t->name, bridge, err) < 0)) {
		tap_close(t);
		return err_prefix(err, "tap %s", name);
	}
	return 0;
}

int tap_set_offload(struct tap *t, unsigned tun_flags, struct error *err)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, tun_flags & t->offloads) < 0)
		return err_sys(err, "tap %s: TUNSETOFFLOAD", t->name);
	return 0;
}

void tap_close(struct tap *t)
{
	if (t->fd < 0)
		return;
	/* Never leave behind a tap vessel made, whatever set it persistent. */
	if (t->created)
		ioctl(t->fd, TUNSETPERSIST, 0);
	close(t->fd);
	t->fd = -1;
}

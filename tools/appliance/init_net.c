/* The host's network: lo, then host.yaml's bridges (created over
 * rtnetlink, given their address, their ports attached, brought up). */
#include "init.h"
#include "../../container/netlink.h"
#include "../../devices/net/link.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>

static int bridge_create(const char *name, struct error *err)
{
	struct ifinfomsg *ifi;
	struct rtattr *info;
	struct nlreq r;
	char what[64];

	if (if_nametoindex(name))
		return 0;	/* there already (a second init run) */
	ifi = nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
		      sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	nl_attr_str(&r, IFLA_IFNAME, name);
	info = nl_nest(&r, IFLA_LINKINFO);
	if (!info)
		return err_set(err, "bridge %s: request too large", name);
	nl_attr_str(&r, IFLA_INFO_KIND, "bridge");
	nl_nest_end(&r, info);
	snprintf(what, sizeof(what), "creating bridge %s", name);
	return nl_talk(&r, what, err);
}

static int bridge_setup(const struct host_bridge *b, struct error *err)
{
	if (bridge_create(b->name, err) < 0)
		return -1;
	if (b->address && nl_addr_add(b->name, b->address, err) < 0 &&
	    errno != EEXIST)
		return -1;
	for (size_t i = 0; i < b->ninterfaces; i++) {
		const char *port = b->interfaces[i];

		if (link_bridge_attach(port, b->name, err) < 0 ||
		    link_up(port, err) < 0)
			return err_prefix(err, "bridge %s: port %s", b->name,
					  port);
	}
	if (link_up(b->name, err) < 0)
		return err_prefix(err, "bridge %s", b->name);
	return 0;
}

int init_net(const struct host_config *hc, struct error *err)
{
	int bad = 0;

	if (link_up("lo", err) < 0)
		return err_prefix(err, "lo");
	for (size_t i = 0; i < hc->nbridges; i++) {
		const struct host_bridge *b = &hc->bridges[i];

		/* One bad bridge (a missing NIC) leaves the others up. */
		if (bridge_setup(b, err) < 0) {
			init_log("%s", err->msg);
			bad = -1;
			continue;
		}
		init_log("bridge %s: up%s%s, %zu port%s", b->name,
			 b->address ? ", " : "", b->address ? b->address : "",
			 b->ninterfaces, b->ninterfaces == 1 ? "" : "s");
	}
	if (bad < 0)
		return err_set(err, "some bridges are not up");
	return 0;
}

#include "veth.h"
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void veth_host_name(char *buf, size_t len, pid_t pid, size_t idx)
{
	snprintf(buf, len, "vs%dn%zu", (int)pid, idx);
}

int veth_check_bridge(const char *bridge, struct error *err)
{
	int idx = if_nametoindex(bridge);
	char kind[32];

	if (!idx)
		return err_set(err, "nets: bridge '%s' does not exist on the "
			       "host (create it, e.g. `ip link add %s type "
			       "bridge && ip link set %s up`)", bridge, bridge,
			       bridge);
	if (nl_link_kind(idx, kind, sizeof(kind), err) < 0)
		return err_prefix(err, "nets: bridge '%s'", bridge);
	if (strcmp(kind, "bridge"))
		return err_set(err, "nets: '%s' is not a bridge (it is %s%s)",
			       bridge, kind[0] ? "a " : "a plain link",
			       kind);
	return 0;
}

static int link_up(const char *name, int master, struct error *err)
{
	struct ifinfomsg *ifi;
	struct nlreq r;
	char what[64];

	ifi = nl_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = if_nametoindex(name);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (!ifi->ifi_index)
		return err_sys(err, "no interface %s", name);
	if (master)
		nl_attr_u32(&r, IFLA_MASTER, master);
	snprintf(what, sizeof(what), "bringing %s up", name);
	return nl_talk(&r, what, err);
}

int veth_create(const char *host, size_t idx, pid_t pid, const char *bridge,
		struct error *err)
{
	struct rtattr *info, *data, *peer;
	struct ifinfomsg *ifi;
	struct nlreq r;
	char what[96], inside[32];
	int br;

	br = if_nametoindex(bridge);
	if (!br)
		return err_sys(err, "bridge '%s'", bridge);
	snprintf(inside, sizeof(inside), "eth%zu", idx);
	ifi = nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
		      sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	nl_attr_str(&r, IFLA_IFNAME, host);
	info = nl_nest(&r, IFLA_LINKINFO);
	nl_attr_str(&r, IFLA_INFO_KIND, "veth");
	data = nl_nest(&r, IFLA_INFO_DATA);
	peer = nl_nest(&r, VETH_INFO_PEER);
	ifi = nl_reserve(&r, sizeof(*ifi));
	if (!info || !data || !peer || !ifi)
		return err_set(err, "veth request too large");
	memset(ifi, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	nl_attr_str(&r, IFLA_IFNAME, inside);
	nl_attr_u32(&r, IFLA_NET_NS_PID, pid);
	nl_nest_end(&r, peer);
	nl_nest_end(&r, data);
	nl_nest_end(&r, info);
	snprintf(what, sizeof(what), "creating veth %s (%s in the container)",
		 host, inside);
	if (nl_talk(&r, what, err) < 0)
		return -1;
	if (link_up(host, br, err) < 0)
		return err_prefix(err, "attaching %s to bridge %s", host,
				  bridge);
	return 0;
}

int veth_delete(const char *host, struct error *err)
{
	struct ifinfomsg *ifi;
	struct nlreq r;
	char what[64];

	ifi = nl_init(&r, RTM_DELLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	nl_attr_str(&r, IFLA_IFNAME, host);
	snprintf(what, sizeof(what), "deleting veth %s", host);
	if (nl_talk(&r, what, err) < 0 && errno != ENODEV)
		return -1;
	return 0;
}

static int add_default_route(const char *dev, const char *gw,
			     struct error *err)
{
	struct in_addr a;
	struct rtmsg *rt;
	struct nlreq r;
	char what[96];

	if (inet_pton(AF_INET, gw, &a) != 1)
		return err_set(err, "bad gateway '%s'", gw);
	rt = nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	nl_attr(&r, RTA_GATEWAY, &a, sizeof(a));
	nl_attr_u32(&r, RTA_OIF, if_nametoindex(dev));
	snprintf(what, sizeof(what), "adding default route via %s on %s", gw,
		 dev);
	return nl_talk(&r, what, err);
}

int veth_setup_inside(const struct ct_net *nets, size_t n, struct error *err)
{
	char dev[32];
	size_t i;

	if (link_up("lo", 0, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(dev, sizeof(dev), "eth%zu", i);
		if (nets[i].address && nl_addr_add(dev, nets[i].address,
						   err) < 0)
			return -1;
		if (link_up(dev, 0, err) < 0)
			return -1;
		if (nets[i].gateway && add_default_route(dev, nets[i].gateway,
							 err) < 0)
			return -1;
	}
	return 0;
}

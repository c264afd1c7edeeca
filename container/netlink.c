#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TAIL(r) ((char *)&(r)->hdr + NLMSG_ALIGN((r)->hdr.nlmsg_len))

void *nl_init(struct nlreq *r, uint16_t type, uint16_t flags, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->hdr.nlmsg_len = NLMSG_LENGTH(len);
	r->hdr.nlmsg_type = type;
	r->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return NLMSG_DATA(&r->hdr);
}

void *nl_reserve(struct nlreq *r, size_t len)
{
	size_t at = NLMSG_ALIGN(r->hdr.nlmsg_len);
	void *p;

	if (at + NLMSG_ALIGN(len) > sizeof(*r))
		return NULL;
	p = (char *)&r->hdr + at;
	r->hdr.nlmsg_len = at + NLMSG_ALIGN(len);
	return p;
}

int nl_attr(struct nlreq *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a;

	if (NLMSG_ALIGN(r->hdr.nlmsg_len) + RTA_SPACE(len) > sizeof(*r))
		return -1;
	a = (struct rtattr *)TAIL(r);
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->hdr.nlmsg_len = NLMSG_ALIGN(r->hdr.nlmsg_len) + RTA_SPACE(len);
	return 0;
}

int nl_attr_str(struct nlreq *r, uint16_t type, const char *s)
{
	return nl_attr(r, type, s, strlen(s) + 1);
}

int nl_attr_u32(struct nlreq *r, uint16_t type, uint32_t v)
{
	return nl_attr(r, type, &v, sizeof(v));
}

struct rtattr *nl_nest(struct nlreq *r, uint16_t type)
{
	struct rtattr *a = (struct rtattr *)TAIL(r);

	if (nl_attr(r, type, NULL, 0) < 0)
		return NULL;
	return a;
}

void nl_nest_end(struct nlreq *r, struct rtattr *nest)
{
	nest->rta_len = TAIL(r) - (char *)nest;
}

/* Send r and return the kernel's first answer to it in buf: an
 * acknowledgement or error (returned as 0 or -1 with errno), or a reply
 * message (returned as 1). */
static int exchange(struct nlreq *r, char *buf, size_t len,
		    struct nlmsghdr **reply)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *h;
	struct nlmsgerr *e;
	ssize_t n;
	int fd, saved, ret = -1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	r->hdr.nlmsg_seq = 1;
	if (sendto(fd, r, r->hdr.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		goto out;
	for (;;) {
		n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n ? errno : EIO;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != 1)
				continue;
			if (h->nlmsg_type != NLMSG_ERROR) {
				*reply = h;
				ret = 1;
				goto out;
			}
			e = NLMSG_DATA(h);
			errno = -e->error;
			ret = e->error ? -1 : 0;
			goto out;
		}
	}
out:
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int nl_talk(struct nlreq *r, const char *what, struct error *err)
{
	struct nlmsghdr *reply;
	char buf[4096];

	if (exchange(r, buf, sizeof(buf), &reply) < 0)
		return err_sys(err, "%s", what);
	return 0;
}

/* Copy a string attribute (max len) out of the attributes at a. */
static int find_str(struct rtattr *a, int left, uint16_t type, char *out,
		    size_t len)
{
	for (; RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		if (a->rta_type == type) {
			snprintf(out, len, "%.*s", (int)RTA_PAYLOAD(a),
				 (char *)RTA_DATA(a));
			return 0;
		}
	}
	return -1;
}

int nl_link_kind(int ifindex, char *kind, size_t len, struct error *err)
{
	struct nlmsghdr *reply = NULL;
	struct ifinfomsg *ifi;
	struct rtattr *a;
	struct nlreq r;
	char buf[16384];
	int left;

	ifi = nl_init(&r, RTM_GETLINK, 0, sizeof(*ifi));
	r.hdr.nlmsg_flags = NLM_F_REQUEST;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (exchange(&r, buf, sizeof(buf), &reply) <= 0 || !reply ||
	    reply->nlmsg_type != RTM_NEWLINK)
		return err_sys(err, "reading link %d", ifindex);
	kind[0] = '\0';
	ifi = NLMSG_DATA(reply);
	a = IFLA_RTA(ifi);
	left = IFLA_PAYLOAD(reply);
	for (; RTA_OK(a, left); a = RTA_NEXT(a, left))
		if (a->rta_type == IFLA_LINKINFO)
			find_str(RTA_DATA(a), RTA_PAYLOAD(a), IFLA_INFO_KIND,
				 kind, len);
	return 0;
}

/* "10.0.0.2/24" -> address and prefix length. */
static int parse_cidr(const char *s, struct in_addr *a, int *plen,
		      struct error *err)
{
	char buf[INET_ADDRSTRLEN + 4], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	*plen = 32;
	if (slash) {
		*slash = '\0';
		*plen = atoi(slash + 1);
	}
	if (inet_pton(AF_INET, buf, a) != 1 || *plen < 0 || *plen > 32)
		return err_set(err, "bad address '%s'", s);
	return 0;
}

int nl_addr_add(const char *dev, const char *cidr, struct error *err)
{
	struct ifaddrmsg *ifa;
	struct in_addr a, bcast;
	struct nlreq r;
	char what[96];
	int plen;

	if (parse_cidr(cidr, &a, &plen, err) < 0)
		return -1;
	ifa = nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
		      sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = if_nametoindex(dev);
	bcast.s_addr = a.s_addr | (plen ? htonl(~0u >> plen) : ~0u);
	if (plen == 32)
		bcast = a;
	nl_attr(&r, IFA_LOCAL, &a, sizeof(a));
	nl_attr(&r, IFA_ADDRESS, &a, sizeof(a));
	if (plen < 31)
		nl_attr(&r, IFA_BROADCAST, &bcast, sizeof(bcast));
	snprintf(what, sizeof(what), "adding address %s to %s", cidr, dev);
	return nl_talk(&r, what, err);
}

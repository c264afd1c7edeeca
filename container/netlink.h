/* Just enough rtnetlink for veth.c: build one request with (nested)
 * attributes, send it, wait for its acknowledgement. */
#ifndef VESSEL_NETLINK_H
#define VESSEL_NETLINK_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdint.h>

#include "../tools/base/error.h"

struct nlreq {
	struct nlmsghdr hdr;
	char buf[1024];
};

/* Start a request of type with flags (NLM_F_REQUEST|NLM_F_ACK added)
 * and a fixed header (ifinfomsg, ifaddrmsg, rtmsg) of len bytes. */
void *nl_init(struct nlreq *r, uint16_t type, uint16_t flags, size_t len);
int nl_attr(struct nlreq *r, uint16_t type, const void *data, size_t len);
int nl_attr_str(struct nlreq *r, uint16_t type, const char *s);
int nl_attr_u32(struct nlreq *r, uint16_t type, uint32_t v);
/* Nesting: start returns a handle for end, or NULL if out of room. */
struct rtattr *nl_nest(struct nlreq *r, uint16_t type);
void nl_nest_end(struct nlreq *r, struct rtattr *nest);
/* Append a raw fixed header (the veth peer's ifinfomsg). */
void *nl_reserve(struct nlreq *r, size_t len);

/* Send r on a fresh socket in the current network namespace and wait
 * for the kernel's answer. Returns 0, or -1 with errno set (and err
 * filled with what, e.g. "creating veth vs123-0: File exists"). */
int nl_talk(struct nlreq *r, const char *what, struct error *err);

/* Add the IPv4 address cidr ("10.0.0.2/24", broadcast derived) to the
 * link dev in the current network namespace. */
int nl_addr_add(const char *dev, const char *cidr, struct error *err);

/* The IFLA_INFO_KIND of a link ("bridge", "veth"; "" if none). */
int nl_link_kind(int ifindex, char *kind, size_t len, struct error *err);

#endif

/* The RARP announce frame (announce.h). */
#include "announce.h"

#include <string.h>

#define ETH_P_RARP_     0x8035
#define ETH_P_IP_       0x0800
#define RARP_REQUEST_REVERSE 3

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
	return p + 2;
}

void net_announce_frame(uint8_t buf[NET_ANNOUNCE_LEN],
			const uint8_t mac[NET_MAC_LEN])
{
	uint8_t *p = buf + NET_HDR_LEN;

	/* A zero header: no checksum to finish, no segmentation. The frame
	 * is padded with zeros to Ethernet's 60-byte minimum. */
	memset(buf, 0, NET_ANNOUNCE_LEN);
	memset(p, 0xff, NET_MAC_LEN);           /* destination: broadcast */
	memcpy(p + 6, mac, NET_MAC_LEN);        /* source: the guest */
	p = put16(p + 12, ETH_P_RARP_);
	p = put16(p, 1);                        /* hardware: Ethernet */
	p = put16(p, ETH_P_IP_);                /* protocol: IPv4 */
	*p++ = NET_MAC_LEN;
	*p++ = 4;
	p = put16(p, RARP_REQUEST_REVERSE);
	memcpy(p, mac, NET_MAC_LEN);            /* sender: the guest, 0.0.0.0 */
	p += NET_MAC_LEN + 4;
	memcpy(p, mac, NET_MAC_LEN);            /* target: the guest, 0.0.0.0 */
}

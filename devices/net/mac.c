/* MAC addresses for virtio-net: parsed from the config or derived from the
 * guest name, so a guest keeps its address (and its DHCP lease) across
 * runs without anyone writing one down. */
#include "mac.h"

#include <stdio.h>
#include <string.h>

#define FNV32_OFFSET 0x811c9dc5u
#define FNV32_PRIME  0x01000193u

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= FNV32_PRIME;
	}
	return h;
}

void net_mac_derive(const char *name, unsigned index, uint8_t mac[NET_MAC_LEN])
{
	char idx[16];
	uint32_t h;

	snprintf(idx, sizeof(idx), "/%u", index);
	h = fnv1a(fnv1a(FNV32_OFFSET, name ? name : ""), idx);
	/* 0x52: bit 0 clear (unicast), bit 1 set (locally administered) */
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = h >> 16;
	mac[4] = h >> 8;
	mac[5] = h;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_mac_parse(const char *s, uint8_t mac[NET_MAC_LEN], struct error *err)
{
	uint8_t b[NET_MAC_LEN];

	if (strlen(s) != 3 * NET_MAC_LEN - 1)
		goto bad;
	for (unsigned i = 0; i < NET_MAC_LEN; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < NET_MAC_LEN - 1 && s[3 * i + 2] != ':'))
			goto bad;
		b[i] = hi << 4 | lo;
	}
	if (b[0] & 1)
		return err_set(err, "'%s' is a multicast address", s);
	memcpy(mac, b, NET_MAC_LEN);
	return 0;
bad:
	return err_set(err, "bad MAC address '%s' (want xx:xx:xx:xx:xx:xx)", s);
}

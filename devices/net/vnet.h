/* virtio-net on the wire (virtio 1.x, section 5.1): feature bits, the
 * per-packet header and the device config layout. Shared by the device
 * (devices/virtio/net.c) and the tap plumbing (devices/net/). */
#ifndef VESSEL_NET_VNET_H
#define VESSEL_NET_VNET_H

/* Feature bits */
#define VIRTIO_NET_F_CSUM       0       /* device takes partial checksums */
#define VIRTIO_NET_F_GUEST_CSUM 1       /* driver takes partial checksums */
#define VIRTIO_NET_F_MTU        3
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_UFO  10
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_UFO   14
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16

#define VIRTIO_NET_S_LINK_UP    1

/* The header in front of every packet, both ways. With VIRTIO_F_VERSION_1
 * it is always the 12-byte form (struct virtio_net_hdr_mrg_rxbuf), little
 * endian: u8 flags, u8 gso_type, le16 hdr_len, gso_size, csum_start,
 * csum_offset, num_buffers. The tap uses the same layout (IFF_VNET_HDR with
 * TUNSETVNETHDRSZ 12), so it passes through untouched; only flags and
 * num_buffers are ever written by vessel, on receive. */
#define NET_HDR_LEN             12
#define NET_HDR_FLAGS           0       /* offset of flags */
#define NET_HDR_GSO_TYPE        1       /* offset of gso_type */
#define NET_HDR_NUM_BUFFERS     10      /* offset of le16 num_buffers */

#define NET_HDR_F_NEEDS_CSUM    1       /* flags */
#define NET_HDR_F_DATA_VALID    2
#define NET_HDR_GSO_NONE        0       /* gso_type */
#define NET_HDR_GSO_TCPV4       1
#define NET_HDR_GSO_UDP         3
#define NET_HDR_GSO_TCPV6       4
#define NET_HDR_GSO_ECN         0x80

/* The largest frame a tap hands over: a 64 KiB GSO packet plus the
 * Ethernet header and a VLAN tag, with some slack. A read that fills the
 * whole buffer may have been truncated and is dropped. */
#define NET_MAX_FRAME           (65536 + 14 + 4 + 46)
#define NET_RX_BUF              (NET_HDR_LEN + NET_MAX_FRAME)

/* Device config space: mac[6], le16 status, le16 max_virtqueue_pairs. (mtu
 * follows, but only with VIRTIO_NET_F_MTU, which vessel does not offer.) */
#define NET_CFG_MAC             0
#define NET_CFG_STATUS          6
#define NET_CFG_MAX_PAIRS       8
#define NET_CFG_SIZE            10

#endif

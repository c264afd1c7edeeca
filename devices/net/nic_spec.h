/* What the machine tells the network devices about one NIC: its tap, MAC,
 * bridge, PCI slot and whether the kernel's vhost-net carries its packets.
 * Filled from the guest's definition by tools/ (config.c); the devices
 * never see the definition. */
#ifndef VESSEL_NIC_SPEC_H
#define VESSEL_NIC_SPEC_H

/* nets[].vhost. Zero (a spec not from a file, as in unit tests) is off. */
enum nic_vhost {
	NIC_VHOST_OFF = 0,      /* the user-space path, always */
	NIC_VHOST_AUTO,         /* vhost-net if it works, else user space */
	NIC_VHOST_ON,           /* vhost-net or an error */
};

#define NIC_WHERE_LEN 256

struct nic_spec {
	char *tap;                      /* created if absent */
	char *mac;                      /* "52:54:00:..."; NULL: derived */
	char *bridge;                   /* optional existing bridge */
	unsigned slot;                  /* PCI slot 1..31 */
	enum nic_vhost vhost;
	/* "file:line:col: nets[0].vhost" when the file gave the key, else
	 * "": errors about vhost: true name it. */
	char vhost_at[NIC_WHERE_LEN];
};

#endif

/* What the machine tells the network devices about one NIC: its tap, MAC,
 * bridge and PCI slot. Filled from the guest's definition by tools/
 * (config.c); the devices never see the definition. */
#ifndef VESSEL_NIC_SPEC_H
#define VESSEL_NIC_SPEC_H

struct nic_spec {
	char *tap;                      /* created if absent */
	char *mac;                      /* "52:54:00:..."; NULL: derived */
	char *bridge;                   /* optional existing bridge */
	unsigned slot;                  /* PCI slot 1..31 */
};

#endif

/* vessel's exit status, documented in README.md and `vessel run --help`. */
#ifndef VESSEL_EXIT_CODES_H
#define VESSEL_EXIT_CODES_H

#define EXIT_POWEROFF 0   /* the guest powered off */
#define EXIT_HOST     1   /* a host-side failure */
#define EXIT_USAGE    2   /* a configuration or usage error */
#define EXIT_REBOOT   3   /* the guest rebooted with on_reboot: exit */
#define EXIT_CRASH    4   /* the guest crashed */

#endif

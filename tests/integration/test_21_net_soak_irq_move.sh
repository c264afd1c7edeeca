#!/usr/bin/env bash
# virtio-net under load while the guest moves the NIC's interrupts between
# its 2 vCPUs (smp_affinity every 200 ms), so their MSI-X entries are
# reprogrammed all the time (issue #17): none lost, no crash (net-soak.sh).
# test-timeout: 420
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/net-soak.sh
. "$(dirname "$0")/net-soak.sh"
soak_run 2 1

#!/usr/bin/env bash
# virtio-net under load (issue #17): one VM, 1 vCPU, SOAK_N transfers each
# way, alternating, through one NIC; none lost, no crash (net-soak.sh).
# test-timeout: 420
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/net-soak.sh
. "$(dirname "$0")/net-soak.sh"
soak_run 1 0

#!/usr/bin/env bash
# virtio-net under load with vhost-net (issue #17): test_21's soak (one VM,
# 2 vCPUs, SOAK_N transfers each way, alternating, none lost, no crash,
# the NIC's interrupts moved between the vCPUs all along) with `vhost:
# true`, so the kernel moves the packets: kicks reach its worker through
# KVM's ioeventfd, its interrupts go to the vector's irqfd while the
# vector is live and through vessel while the guest masks it to move it.
# vessel must not fall back to its user-space path (nothing about vhost on
# stderr).
# test-timeout: 420
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
TEST_SOAK_VHOST=${TEST_SOAK_VHOST:-true}
# shellcheck source=tests/integration/net-soak.sh
. "$(dirname "$0")/net-soak.sh"
host_modprobe vhost_net || skip "no vhost_net module on this host"
[ -c /dev/vhost-net ] || skip "no /dev/vhost-net on this host"
soak_run 2 1

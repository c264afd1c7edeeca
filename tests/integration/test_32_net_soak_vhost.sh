#!/usr/bin/env bash
# virtio-net under load with vhost-net (issue #17): test_20's soak (one VM,
# 1 vCPU, SOAK_N transfers each way, alternating, none lost, no crash) with
# `vhost: true`, so the kernel moves the packets: kicks reach its worker
# through KVM's ioeventfd, its interrupts through vessel's MSI-X. vessel
# must not fall back to its user-space path (nothing about vhost on
# stderr).
# test-timeout: 420
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
TEST_SOAK_VHOST=${TEST_SOAK_VHOST:-true}
# shellcheck source=tests/integration/net-soak.sh
. "$(dirname "$0")/net-soak.sh"
host_modprobe vhost_net || skip "no vhost_net module on this host"
[ -c /dev/vhost-net ] || skip "no /dev/vhost-net on this host"
soak_run 1 0

#!/usr/bin/env bash
# Entry point of `make integration` (env VESSEL: absolute path of vessel):
# tests/run-all.sh integration. With a hardware-backed /dev/kvm (kvm_intel
# or kvm_amd loaded) tests/integration/run-all.sh runs here; otherwise (no
# /dev/kvm, or a software one such as kvm_pvm, far too slow for a Linux
# guest) inside a nested KVM host booted with QEMU TCG (nested-host.sh),
# followed there by the container tests under cgroup v2.
# INTEGRATION_MODE=direct|nested forces a mode (TEST_KVM_MODE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ -z "${INTEGRATION_MODE:-}" ] || export TEST_KVM_MODE=$INTEGRATION_MODE
exec "$here/../run-all.sh" integration

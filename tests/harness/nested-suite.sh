#!/usr/bin/env bash
# nested-suite.sh [JOB...]: what runs inside the nested KVM host for
# tests/run-all.sh: its JOBs (BUILD/SUITE[:PART], e.g. build/kvm-test,
# build-asan/manage-test:vm), in order, each recorded in TEST_RESULTS (a
# directory on the repo share) so that a job finished in an earlier boot of
# the nested host is not run again. Default: build/integration, then
# build/container-test:v2 (the container tests under this host's cgroup v2;
# the development machines run cgroup v1, so both hierarchies get tested).
# Exits 75 when a job asked for a fresh nested host (nested-host.sh then
# boots one and runs this again), else 0: the results are in TEST_RESULTS.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- build/integration build/container-test:v2
exec "$here/../run-all.sh" --jobs "$@"

#!/usr/bin/env bash
# What runs inside the nested KVM host: the kernel integration tests, then
# the container tests under this host's cgroup v2 (the development machines
# run cgroup v1, so both hierarchies get tested). Exits non-zero if either
# suite failed, or 75 when the integration tests asked for a fresh nested
# host (nested-host.sh then boots one and runs this again).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rc=0
"$repo/tests/integration/run-all.sh" || rc=$?
[ $rc -ne 75 ] || exit 75
[ $rc -eq 0 ] || rc=1
if [ -z "${SKIP_NESTED_CONTAINERS:-}" ]; then
	echo "# container tests under cgroup v2 ($(stat -fc %T /sys/fs/cgroup))"
	# / is read-only in here: unpacked rootfs caches go to a tmpfs. Mapped
	# ids (userns) must pass through it, nobody needs to list it: 0711;
	# vessel makes its rootfs/ below private itself (root's, 0710).
	cache=$(mktemp -d /tmp/vessel-cache.XXXXXX)
	chmod 711 "$cache"
	VESSEL_CACHE_DIR=$cache "$repo/tests/container/run.sh" || rc=1
fi
exit $rc

#!/usr/bin/env bash
# debian-rootfs.sh: print the path of a Debian bookworm rootfs tarball with
# systemd (debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus),
# building it once and caching it.
#
# Where the tarball lives (the first that has it is used; a new one is built
# into the first writable directory):
#   $VESSEL_IMAGES               if set
#   /var/cache/vessel/images     survives new work trees and CI clones, and
#                                is readable in the nested test host (/ is
#                                shared read-only there)
#   $REPO/.cache/images          git-ignored; the repo share is writable in
#                                the nested test host
# The name carries KEY below: change it to rebuild. The tree is owned by
# root in the tarball; vessel shifts the ids while unpacking (userns: true).
#
# Exit status: 0 (path on stdout), 2 when it cannot be built because the
# Debian mirror cannot be reached (the caller skips), 1 on any other
# failure (the log says why). Env: DEBIAN_MIRROR, DEBIAN_ROOTFS_TIMEOUT
# (seconds for debootstrap, 900).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus
KEY=$SUITE-minbase-systemd-v2
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LIMIT=${DEBIAN_ROOTFS_TIMEOUT:-900}
NAME=debian-$KEY.tar.gz

log() { echo "debian-rootfs: $*" >&2; }

dirs=()
[ -z "${VESSEL_IMAGES:-}" ] || dirs+=("$VESSEL_IMAGES")
dirs+=(/var/cache/vessel/images "$REPO/.cache/images")

for d in "${dirs[@]}"; do
	if [ -s "$d/$NAME" ]; then
		echo "$d/$NAME"
		exit 0
	fi
done

out=''
for d in "${dirs[@]}"; do
	if mkdir -p "$d" 2>/dev/null && [ -w "$d" ] &&
	   touch "$d/.probe" 2>/dev/null; then
		rm -f "$d/.probe"
		out=$d
		break
	fi
done
[ -n "$out" ] || { log "no writable cache directory among: ${dirs[*]}"; exit 1; }

# One builder at a time; a second caller waits and then finds the tarball.
exec 9>"$out/.$NAME.lock"
if ! flock -w "$((LIMIT + 120))" 9; then
	log "timed out waiting for another build of $NAME"
	exit 1
fi
if [ -s "$out/$NAME" ]; then
	echo "$out/$NAME"
	exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	log "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq \
		--no-install-recommends debootstrap </dev/null >&2 ||
		{ DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq >&2 &&
		  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq \
			--no-install-recommends debootstrap </dev/null >&2; } ||
		{ log "cannot install debootstrap"; exit 2; }
fi
if ! wget -q -T 20 -t 2 -O /dev/null "$MIRROR/dists/$SUITE/Release"; then
	log "cannot reach $MIRROR (no network?)"
	exit 2
fi

tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building $NAME with debootstrap (takes minutes; limit $LIMIT s)"
t0=$(date +%s)
if ! timeout -k 10 "$LIMIT" debootstrap --variant=minbase --include="$INCLUDE" \
	"$SUITE" "$tmp/root" "$MIRROR" >"$tmp/log" 2>&1; then
	tail -20 "$tmp/log" >&2
	if grep -qE "Failed getting release file|Couldn't download|Temporary failure resolving|Connection timed out" "$tmp/log"; then
		log "debootstrap could not download from $MIRROR"
		exit 2
	fi
	log "debootstrap failed"
	exit 1
fi
# Caches that only take space; this machine's hostname (the container's
# comes from vessel); the machine id, which each boot then makes anew.
rm -rf "$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/var/lib/apt/lists/* \
	"$tmp/root/etc/hostname"
: >"$tmp/root/etc/machine-id"
tar --numeric-owner -C "$tmp/root" -czf "$tmp/rootfs.tar.gz" . ||
	{ log "packing the rootfs failed"; exit 1; }
mv "$tmp/rootfs.tar.gz" "$out/$NAME" || exit 1
for old in "$out"/debian-*.tar.gz; do
	[ "$old" = "$out/$NAME" ] || rm -f "$old" "$out/.${old##*/}.lock"
done
log "built $out/$NAME in $(($(date +%s) - t0)) s ($(du -h "$out/$NAME" | cut -f1))"
echo "$out/$NAME"

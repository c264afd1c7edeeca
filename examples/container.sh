#!/usr/bin/env bash
# Builds a busybox root filesystem in examples/images/rootfs (once) and runs
# examples/container.yaml with vessel. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rootfs=$here/images/rootfs
if [ ! -x "$rootfs/bin/busybox" ]; then
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root}
	cp /bin/busybox "$rootfs/bin/busybox"
	chroot "$rootfs" /bin/busybox --install -s
fi
exec "$here/../vessel" run "$here/container.yaml"

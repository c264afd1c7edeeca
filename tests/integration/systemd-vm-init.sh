#!/bin/sh
# /init of test_15's initramfs: the virtio guests' initramfs (busybox, the
# virtio and ext4 modules in /lib/modules/load-order) with this script
# replacing its /init (see test_15_systemd_blk.sh). Prints the markers
# expect_booted checks, loads the modules, mounts the root disk (root=,
# default /dev/vda) read-write as ext4 on /newroot and hands over to its
# /sbin/init (systemd) with switch_root, /dev /proc /sys moved along.
# Prints VESSEL-SWITCH-ROOT just before; on any failure VESSEL-INIT-FAILED:
# WHY, then powers off (vessel exits 0, but without the test's markers).
export PATH=/usr/local/sbin:/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

echo "VESSEL-USERSPACE-OK"
echo "VESSEL-NPROC=$(nproc)"
echo "VESSEL-CMDLINE=$(cat /proc/cmdline)"
echo "VESSEL-INITRD-TOKEN=$(cat /etc/vessel-token 2>/dev/null || echo missing)"
echo "VESSEL-UPTIME=$(cut -d' ' -f1 /proc/uptime)"

die() {
	echo "VESSEL-INIT-FAILED: $*"
	dmesg | tail -n 30
	poweroff -f
	while :; do sleep 3600; done
}

n=0
while read -r m; do
	[ -n "$m" ] || continue
	if insmod "$m"; then n=$((n + 1)); else echo "VESSEL-INSMOD-FAILED=$m"; fi
done </lib/modules/load-order
echo "VESSEL-MODULES-LOADED=$n"

root=/dev/vda
# shellcheck disable=SC2013 # words, not lines
for arg in $(cat /proc/cmdline); do
	case $arg in root=/dev/*) root=${arg#root=} ;; esac
done
i=0
while [ ! -b "$root" ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] || die "no block device $root after 10 s"
	sleep 0.1
done
mkdir -p /newroot
mount -t ext4 -o rw "$root" /newroot || die "mount -t ext4 $root /newroot failed"
[ -x /newroot/sbin/init ] || [ -L /newroot/sbin/init ] || die "$root has no /sbin/init"
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d" || die "mount --move /$d /newroot/$d failed"
done
echo "VESSEL-SWITCH-ROOT root=$root uptime=$(cut -d' ' -f1 /newroot/proc/uptime)"
exec switch_root /newroot /sbin/init

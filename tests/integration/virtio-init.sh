#!/bin/sh
# /init of the virtio test guests' initramfs (busybox, built by
# build_virtio_initrd in tests/harness/lib.sh). Prints the same markers as
# guest-init.sh (so expect_booted works), loads the modules listed in
# /lib/modules/load-order (virtio_pci, virtio_blk, virtio_net, virtio-rng,
# ext4 and their dependencies), then:
#   * if /test.sh exists (a test appends it to the initramfs as a second
#     cpio archive, see virtio_guest in lib.sh): runs it with `set -e` in a
#     subshell, printing VESSEL-TEST-START before and VESSEL-TEST-EXIT=N
#     after, then the kernel log's virtio/disk/net lines (VESSEL-DMESG: ...)
#     and, when N is not 0, the log's tail between VESSEL-DMESG-BEGIN and
#     VESSEL-DMESG-END;
#   * otherwise: an sh on the console (VESSEL-SHELL-READY, like guest-init's
#     vessel_test=shell).
# Then syncs and powers off (VESSEL-POWEROFF).
# The test script may use vt_wait_dev PATH [SECONDS] (waits for a device
# node) and vt_uptime_ms (milliseconds since boot).
export PATH=/usr/local/sbin:/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
ln -sf /proc/mounts /etc/mtab

echo "VESSEL-USERSPACE-OK"
echo "VESSEL-NPROC=$(nproc)"
echo "VESSEL-MEMTOTAL-KB=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
echo "VESSEL-CMDLINE=$(cat /proc/cmdline)"
echo "VESSEL-INITRD-TOKEN=$(cat /etc/vessel-token 2>/dev/null || echo missing)"
echo "VESSEL-UPTIME=$(cut -d' ' -f1 /proc/uptime)"

n=0
while read -r m; do
	[ -n "$m" ] || continue
	if insmod "$m"; then
		n=$((n + 1))
	else
		echo "VESSEL-INSMOD-FAILED=$m"
	fi
done </lib/modules/load-order
echo "VESSEL-MODULES-LOADED=$n"

# vt_wait_dev PATH [SECONDS]: waits (default 10 s) for PATH to exist.
vt_wait_dev() {
	_i=0
	while [ ! -e "$1" ]; do
		_i=$((_i + 1))
		if [ "$_i" -gt $((${2:-10} * 10)) ]; then
			echo "VESSEL-NO-DEVICE=$1"
			return 1
		fi
		sleep 0.1
	done
}

# vt_uptime_ms: milliseconds since boot.
vt_uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

if [ -f /test.sh ]; then
	echo "VESSEL-TEST-START"
	(
		set -e
		# shellcheck disable=SC1091 # appended by the test
		. /test.sh
	)
	rc=$?
	echo "VESSEL-TEST-EXIT=$rc"
	# The kernel's view of the virtio devices (evidence for a report).
	dmesg | grep -iE 'virtio|vd[a-z]|hwrng|eth[0-9]|I/O error|EXT4-fs' |
		tail -n 40 | sed 's/^/VESSEL-DMESG: /'
	if [ "$rc" -ne 0 ]; then
		echo "VESSEL-DMESG-BEGIN"
		dmesg | tail -n 60
		echo "VESSEL-DMESG-END"
	fi
else
	echo "VESSEL-SHELL-READY"
	sh
	echo "VESSEL-SHELL-EXITED"
fi
sync
echo "VESSEL-POWEROFF"
poweroff -f
# Not reached unless the power-off request failed.
echo "VESSEL-INIT-STUCK: poweroff did not take effect"
while :; do sleep 3600; done

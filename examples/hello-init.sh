#!/bin/sh
# /init of the hello guest: a busybox shell on the serial console.
# Leaving the shell (exit, or Ctrl-D) powers the VM off. With a disk
# (examples/disk-net.yaml) it is mounted on /mnt; a NIC is brought up.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
# Debian's kernel has virtio as modules (mkinitramfs.sh lists them in order).
if [ -f /lib/modules/load-order ]; then
	while read -r m; do insmod "$m" 2>/dev/null; done </lib/modules/load-order
fi
i=0
while [ $i -lt 20 ] && grep -q 1af4 /sys/bus/pci/devices/*/vendor 2>/dev/null &&
	! ls /sys/class/net/eth0 /sys/block/vda >/dev/null 2>&1; do
	i=$((i + 1))
	sleep 0.1
done
echo
echo "Welcome to vessel's hello guest: $(uname -sr), $(nproc) vCPUs,"
echo "$(sed -n 's/MemTotal: *//p' /proc/meminfo) of memory. Type 'exit' to power off."
disk=
if [ -b /dev/vda ] && mount -t ext4 /dev/vda /mnt 2>/dev/null; then
	disk=/dev/vda
	echo "Disk: /dev/vda ($(($(cat /sys/block/vda/size) / 2048)) MiB) mounted on /mnt."
fi
if [ -e /sys/class/net/eth0 ]; then
	ip link set eth0 up
	echo "NIC: eth0, MAC $(cat /sys/class/net/eth0/address)."
fi
echo "VESSEL-USERSPACE-OK"
# Without a terminal (the nested host), run a few commands as a demo.
if grep -qw vessel_demo /proc/cmdline; then
	# The disk and NIC commands only where the definition has them
	# (hello.yaml has neither: no error lines in the demo).
	set -- 'uname -r' 'nproc' 'grep MemTotal /proc/meminfo' 'cat /proc/cmdline'
	if [ -n "$disk" ]; then set -- "$@" 'ls /sys/block' 'cat /mnt/hello.txt'; fi
	if [ -e /sys/class/net/eth0 ]; then set -- "$@" 'ip -o link show eth0'; fi
	for c; do
		echo "~ # $c"
		sh -c "$c" 2>&1
	done
	umount /mnt 2>/dev/null
	poweroff -f
fi
setsid cttyhack sh -l
umount /mnt 2>/dev/null
poweroff -f

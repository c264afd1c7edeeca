#!/bin/sh
# /init of the example appliance's VM (guests/10-vm1.yaml), in a busybox
# initramfs built by ../prepare.sh. It:
#   - mounts its virtio disk /dev/vda (ext4) on /mnt;
#   - keeps a token there: the first boot writes a new random one, every
#     boot prints "VM1-TOKEN <token>" (and "VM1-BOOT <n>", counting boots);
#   - configures eth0 as 10.0.0.2/24 (its NIC is on the host's br0);
#   - runs busybox acpid: the ACPI power button logs
#     "vm1: power button, shutting down", unmounts the disk and powers off;
#   - prints "VM1-READY".
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	insmod "$m" 2>/dev/null || echo "vm1: insmod $m failed"
done </lib/modules/load-order

# wait_for PATH...: up to 10 s for the devices to appear.
wait_for() {
	i=0
	while ! ls "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "vm1: no $* after 10 s"
			return 1
		fi
		sleep 0.1
	done
}

wait_for /dev/vda /sys/class/net/eth0 /dev/input/event0
if mount -t ext4 /dev/vda /mnt; then
	if [ ! -s /mnt/token ]; then
		head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >/mnt/token.new
		sync
		mv /mnt/token.new /mnt/token
		sync
	fi
	boots=$(($(cat /mnt/boots 2>/dev/null || echo 0) + 1))
	echo "$boots" >/mnt/boots
	sync
	echo "VM1-TOKEN $(cat /mnt/token)"
	echo "VM1-BOOT $boots"
else
	echo "VM1-NO-DISK"
fi

ip link set lo up
ip addr add 10.0.0.2/24 dev eth0
ip link set eth0 up

# The power button (the fixed-feature button: the "button" module makes it
# an input device, evdev a /dev/input/event*): busybox acpid's stock map
# runs /etc/acpi/PWRF/00000080 for it.
mkdir -p /etc/acpi/PWRF
cat >/etc/acpi/PWRF/00000080 <<'SCRIPT'
#!/bin/sh
echo "vm1: power button, shutting down" >/dev/console
umount /mnt
sync
poweroff -f
SCRIPT
chmod 755 /etc/acpi/PWRF/00000080
acpid -d >/dev/null 2>&1 &
echo "VM1-READY"
while true; do sleep 3600; done

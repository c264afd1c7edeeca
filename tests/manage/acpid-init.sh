#!/bin/sh
# /init of the acpid test guest (tests/manage/acpid.sh): loads the ACPI
# button driver and evdev, so that the fixed-feature power button is an
# input device, then runs busybox acpid with the stock mapping (power
# button -> /etc/acpi/PWRF/00000080), whose script prints a marker and
# powers off: the guest's own shutdown path, as `vessel stop` triggers it.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	insmod "$m" || echo "ACPID-INSMOD-FAILED $m"
done </lib/modules/load-order
i=0
while ! ls /dev/input/event* >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "ACPID-NO-INPUT-DEVICE"
		break
	fi
	sleep 0.1
done
mkdir -p /etc/acpi/PWRF
cat >/etc/acpi/PWRF/00000080 <<'SCRIPT'
#!/bin/sh
echo "ACPID-POWER-BUTTON-MARKER" >/dev/console
poweroff -f
SCRIPT
chmod 755 /etc/acpi/PWRF/00000080
acpid -d &
sleep 1
echo "ACPID-READY $(ls /dev/input)"
while true; do sleep 60; done

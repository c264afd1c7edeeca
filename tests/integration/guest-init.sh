#!/bin/sh
# /init of the test guests' initramfs (busybox). Prints what the tests check,
# then acts on vessel_test= from the kernel cmdline:
#   poweroff (default)  poweroff -f
#   reboot              reboot -f (every boot: a restarted guest reboots again)
#   shell               an sh on the console; when it exits, poweroff -f
#   halt                halt -f (no power-off, no reboot)
# and with vessel_klog, first prints the lines of the kernel's log that
# bench/boot.sh's initcall table reads (BENCH_BOOT_INITCALLS=1), each
# prefixed VESSEL-KLOG: "Run /init" and every initcall that took 100 us or
# more (a slow serial console takes long for the whole log).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
# The kernel's uptime as /init begins (a builtin read, no fork): printed
# later as VESSEL-UPTIME, the kernel's own part of the boot.
read -r uptime_at_init _ </proc/uptime
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

mode=poweroff
klog=
# shellcheck disable=SC2013 # words, not lines
for arg in $(cat /proc/cmdline); do
	case $arg in
	vessel_test=*) mode=${arg#*=} ;;
	vessel_klog) klog=1 ;;
	esac
done

echo "VESSEL-USERSPACE-OK"
echo "VESSEL-NPROC=$(nproc)"
echo "VESSEL-CPUINFO=$(grep -c '^processor' /proc/cpuinfo)"
echo "VESSEL-MEMTOTAL-KB=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
echo "VESSEL-CMDLINE=$(cat /proc/cmdline)"
echo "VESSEL-INITRD-TOKEN=$(cat /etc/vessel-token 2>/dev/null || echo missing)"
echo "VESSEL-UPTIME=$uptime_at_init"
# The uptime counts timer ticks until the kernel switches its clocksource
# to kvm-clock (an fs_initcall), so ticks lost before then (a slow,
# emulated boot loses many) are missing from it. Where kvm-clock is stable,
# sched_clock prints by how much when it marks itself stable:
# "(gtod, gtod offset)->(kvm-clock, offset)", offset = tick clock - kvm-clock.
echo "VESSEL-SCHED-CLOCK-OFFSET-NS=$(dmesg | sed -n 's/.*sched_clock: Marking stable (.*)->([0-9]*, *\(-\{0,1\}[0-9]*\)).*/\1/p' | head -n1)"
echo "VESSEL-CPUFLAGS=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)"
echo "VESSEL-CLOCKEVENT=$(cat /sys/devices/system/clockevents/clockevent0/current_device 2>/dev/null)"
[ -z "$klog" ] || dmesg | sed -n -e '/ Run \/init /s/^/VESSEL-KLOG /p' \
	-e '/ initcall .* returned .* after [0-9][0-9][0-9][0-9]* usecs$/s/^/VESSEL-KLOG /p'

case $mode in
reboot)
	echo "VESSEL-REBOOTING"
	reboot -f
	;;
shell)
	echo "VESSEL-SHELL-READY"
	sh
	echo "VESSEL-SHELL-EXITED"
	echo "VESSEL-POWEROFF"
	poweroff -f
	;;
halt)
	echo "VESSEL-HALTING"
	halt -f
	;;
*)
	echo "VESSEL-POWEROFF"
	poweroff -f
	;;
esac
# Not reached unless the power-off/reboot request failed.
echo "VESSEL-INIT-STUCK: $mode did not take effect"
while :; do sleep 3600; done

#!/bin/sh
# /init of the guest-cpu-info.sh guest (busybox): prints what the guest
# kernel made of the virtual CPU, each line prefixed "CI ", then powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null   # /dev/cpu/0/cpuid
# The cpuid and msr modules (their load order from mkinitramfs.sh).
while read -r m; do [ -z "$m" ] || insmod "$m" 2>/dev/null; done </lib/modules/load-order
{
	echo "BEGIN"
	# CPUID leaves of vCPU 0 (eax ebx ecx edx): /dev/cpu/0/cpuid reads the
	# leaf at the file offset.
	for leaf in 0x1 0x7 0xd 0x40000000 0x40000001 0x40000010 0x80000001 0x80000007 0x80000008 0x8000000a; do
		echo "CPUID $leaf: $(dd if=/dev/cpu/0/cpuid bs=16 count=1 skip=$((leaf)) iflag=skip_bytes 2>/dev/null | od -An -tx4 | tr -s ' ')"
	done
	grep -m1 '^flags' /proc/cpuinfo
	echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	for c in /sys/devices/system/clockevents/clockevent*; do
		echo "clockevent ${c##*/}: $(cat "$c/current_device")"
	done
	dmesg | grep -iE 'kvm|hypervisor|pv |paravirt|steal|x2apic|tsc|deadline|apic timer|clocksource|clockevent|hpet|smpboot|Brought up|xsave|xstate|fpu|cpuid\[|warning'
	grep -E '^ *(LOC|CAL|RES|TLB|HYP|PIN|NMI|  0):' /proc/interrupts
	echo "END"
} 2>&1 | sed 's/^/CI /'
sleep 1      # let the UART drain before the power goes
poweroff -f

#!/bin/sh
# /init of the hello guest: a busybox shell on the serial console.
# Leaving the shell (exit, or Ctrl-D) powers the VM off.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo
echo "Welcome to vessel's hello guest: $(uname -sr), $(nproc) vCPUs,"
echo "$(sed -n 's/MemTotal: *//p' /proc/meminfo) of memory. Type 'exit' to power off."
echo "VESSEL-USERSPACE-OK"
# Without a terminal (the nested host), run a few commands as a demo.
if grep -qw vessel_demo /proc/cmdline; then
	for c in 'uname -r' 'nproc' 'grep MemTotal /proc/meminfo' 'cat /proc/cmdline'; do
		echo "~ # $c"
		sh -c "$c"
	done
	poweroff -f
fi
setsid cttyhack sh -l
poweroff -f

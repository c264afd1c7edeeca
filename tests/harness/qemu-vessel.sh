#!/usr/bin/env bash
# qemu-vessel.sh run FILE.yaml: a stand-in for `vessel run` built on QEMU
# (KVM), with vessel's contract: guest serial console on stdout, stdin to
# the guest; exit 0 when the guest powers off, 3 when it reboots with
# on_reboot: exit, 2 on a config/usage error, 1 on a host failure; SIGTERM
# stops it (status 0). Used to check the integration tests and harness
# against a known-good VMM:
#   VESSEL=$PWD/tests/harness/qemu-vessel.sh tests/harness/run-integration.sh
# QEMU_MACHINE picks the machine type (default q35).
set -euo pipefail

usage() {
	echo "usage: $0 run FILE.yaml" >&2
	exit 2
}
cfgerr() {
	echo "qemu-vessel: $*" >&2
	exit 2
}
if [ $# -ne 2 ] || [ "$1" != run ]; then usage; fi
cfg=$2
[ -f "$cfg" ] || cfgerr "no such config file: $cfg"
dir=$(cd "$(dirname "$cfg")" && pwd)

name='' vcpus=1 memory=512M kernel='' initrd='' cmdline='' on_reboot=exit
# nets: a list of {tap, mac, vhost, bridge} (vessel's keys), each a
# virtio-net-pci on that tap: vhost off unless `vhost: true` (vessel's
# user-space path); with `bridge:` the tap is made here, as a port of that
# bridge, and removed at exit (as vessel does), else it must exist.
net_args=() in_nets='' nnet=0 made_taps=()
add_net() {
	[ -z "${ntap:-}" ] && return 0
	local vh=off
	[ "${nvhost:-false}" != true ] || vh=on
	net_args+=(-netdev "tap,id=n$nnet,ifname=$ntap,script=no,downscript=no,vhost=$vh"
		-device "virtio-net-pci,netdev=n$nnet${nmac:+,mac=$nmac}")
	[ -z "${nbridge:-}" ] || made_taps+=("$ntap:$nbridge")
	nnet=$((nnet + 1)) ntap='' nmac='' nvhost='' nbridge=''
}
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%%#*}
	[ -n "${line//[[:space:]]/}" ] || continue
	if [ -n "$in_nets" ] && [[ $line =~ ^[[:space:]]+(-[[:space:]]+)?(tap|mac|vhost|bridge):[[:space:]]*([^[:space:]]+)[[:space:]]*$ ]]; then
		[ -z "${BASH_REMATCH[1]}" ] || add_net
		case ${BASH_REMATCH[2]} in
		tap) ntap=${BASH_REMATCH[3]} ;;
		mac) nmac=${BASH_REMATCH[3]} ;;
		vhost) nvhost=${BASH_REMATCH[3]} ;;
		bridge) nbridge=${BASH_REMATCH[3]} ;;
		esac
		continue
	fi
	in_nets=''
	[[ $line =~ ^([a-z_]+):[[:space:]]*(.*[^[:space:]])?[[:space:]]*$ ]] ||
		cfgerr "cannot parse line: $line"
	key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
	case $val in
	\"*\") val=${val:1:${#val}-2} ;;
	\'*\') val=${val:1:${#val}-2} ;;
	\[* | \{* | \"* | \'*) cfgerr "unsupported or malformed value for $key: $val" ;;
	esac
	case $key in
	name) name=$val ;;
	vcpus) vcpus=$val ;;
	memory) memory=$val ;;
	kernel) kernel=$val ;;
	initrd) initrd=$val ;;
	cmdline) cmdline=$val ;;
	on_reboot) on_reboot=$val ;;
	nets) [ -z "$val" ] || cfgerr "nets: a list on the following lines"; in_nets=1 ;;
	*) cfgerr "unknown key: $key" ;;
	esac
done <"$cfg"
add_net
[[ $vcpus =~ ^[1-9][0-9]*$ ]] || cfgerr "vcpus must be a positive integer, not '$vcpus'"
[[ $memory =~ ^[1-9][0-9]*[MG]$ ]] || cfgerr "memory must look like 512M or 4G, not '$memory'"
case $on_reboot in exit | restart) ;; *) cfgerr "on_reboot must be exit or restart, not '$on_reboot'" ;; esac
[ -n "$kernel" ] || cfgerr "no kernel"
case $kernel in /*) ;; *) kernel=$dir/$kernel ;; esac
[ -f "$kernel" ] || cfgerr "no such kernel: $kernel"
initrd_args=()
if [ -n "$initrd" ]; then
	case $initrd in /*) ;; *) initrd=$dir/$initrd ;; esac
	[ -f "$initrd" ] || cfgerr "no such initrd: $initrd"
	initrd_args=(-initrd "$initrd")
fi

log=$(mktemp "${TMPDIR:-/tmp}/qemu-vessel.XXXXXX")
qpid='' stopped=''
# shellcheck disable=SC2317 # invoked by trap
stop() {
	stopped=1
	if [ -n "$qpid" ]; then kill -TERM "$qpid" 2>/dev/null || true; fi
}
trap stop TERM INT
# shellcheck disable=SC2317 # invoked by trap
del_taps() {
	local t
	for t in "${made_taps[@]}"; do ip link del "${t%%:*}" 2>/dev/null || true; done
	rm -f "$log"
}
trap del_taps EXIT
for t in "${made_taps[@]}"; do
	ip tuntap add dev "${t%%:*}" mode tap || { echo "qemu-vessel: cannot make tap ${t%%:*}" >&2; exit 1; }
	ip link set "${t%%:*}" master "${t#*:}" up || { echo "qemu-vessel: cannot put ${t%%:*} on bridge ${t#*:}" >&2; exit 1; }
done
reboot_args=()
[ "$on_reboot" = restart ] || reboot_args=(-no-reboot)
qemu-system-x86_64 -accel kvm -cpu host -M "${QEMU_MACHINE:-q35}" \
	-name "${name:-guest}" -smp "$vcpus" -m "$memory" \
	-nodefaults -no-user-config -display none "${reboot_args[@]}" \
	-chardev "stdio,id=con,signal=off,logfile=$log" -serial chardev:con \
	-kernel "$kernel" "${initrd_args[@]}" -append "$cmdline" "${net_args[@]}" <&0 &
qpid=$!
rc=0
while :; do
	wait "$qpid" && rc=0 || rc=$?
	# wait returns >128 when a trapped signal interrupts it; QEMU still runs.
	kill -0 "$qpid" 2>/dev/null || break
done
[ -z "$stopped" ] || exit 0
[ "$rc" -eq 0 ] || exit 1
if grep -aq 'reboot: Restarting system' "$log"; then exit 3; fi
exit 0

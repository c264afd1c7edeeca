#!/usr/bin/env bash
# End-to-end test of `vessel init` (vessel as PID 1 of the appliance, issue
# #14), without `vessel image build`: an initramfs laid out by hand as
# APPLIANCE.md describes (/init -> bin/vessel, busybox, e2fsck, host.yaml,
# one container guest, the modules of the cached Debian kernel), and a
# data.img (ext4, label vessel-data), booted four times in QEMU (TCG, q35, with
# an i6300esb watchdog and a virtio NIC on the bridge).
#   tests/appliance/init.sh            (make appliance-init-test)
# Boot 1: the mount, module, bridge, data and watchdog lines; the guest's
# marker through the rescue shell (`vessel logs hello` typed on the serial
# console); system_powerdown over QMP -> the guest's own SIGTERM handler
# runs (it writes to /data), "powering off", QEMU exits by itself.
# Boot 2: "data: clean", the guest's shutdown line read back from /data,
# `vessel host poweroff` typed on the console -> QEMU exits.
# Boot 3: `exit` in the rescue shell -> a new one; Ctrl-Alt-Del -> reboot.
# Boot 4: `vessel host reboot` -> reboot. The watchdog is fed throughout
# and closed cleanly.
# Prints ok/FAIL per check and "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$HERE/../harness/lib.sh"

VESSEL=${VESSEL:-$REPO/vessel}
export VESSEL_CACHE=${VESSEL_CACHE:-$CACHE}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

[ -x "$VESSEL" ] || die "no vessel binary at $VESSEL (make first)"
ensure_cmds busybox-static:/bin/busybox e2fsck-static:/sbin/e2fsck.static \
	cpio:cpio qemu-system-x86:qemu-system-x86_64 e2fsprogs:mkfs.ext4 socat:socat
eval "$("$HARNESS_DIR/fetch-kernel.sh")" || die "fetch-kernel.sh failed"
kver=$(basename "$MODDIR")

work=$(mktemp -d "${TMPDIR:-/tmp}/vessel-appliance-init.XXXXXX")
qpid=''
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
stage=$work/root

# ---- the initramfs, laid out as APPLIANCE.md says ----
mkdir -p "$stage"/{bin,sbin,etc/vessel/guests,lib/modules/"$kver",dev,proc,sys,run,tmp,data}
chmod 1777 "$stage/tmp"
cp /bin/busybox "$stage/bin/busybox"
chroot "$stage" /bin/busybox --install -s /bin
ln -sf busybox "$stage/bin/sh"
cp /sbin/e2fsck.static "$stage/sbin/e2fsck"
cp "$VESSEL" "$stage/bin/vessel"
ln -s bin/vessel "$stage/init"
# vessel is dynamically linked: its libraries at the same paths.
for lib in $(ldd "$VESSEL" | grep -o '/[^ ]*'); do
	mkdir -p "$stage$(dirname "$lib")"
	cp -L "$lib" "$stage$lib"
done
mknod -m 600 "$stage/dev/console" c 5 1
printf 'root:x:0:0:root:/:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"

cat >"$stage/etc/vessel/host.yaml" <<'EOF'
hostname: appliance-test
console: ttyS0
bridges:
  - {name: br0, address: 10.0.0.1/24, interfaces: [eth0]}
data: {size: 64M}
watchdog: 10s
EOF

# The guest: a container printing a marker, pinging the host over br0, and
# logging its own shutdown (SIGTERM) to the data partition.
ct=$stage/etc/vessel/guests/hello-rootfs
mkdir -p "$ct"/{bin,proc,dev,sys,tmp,log}
cp /bin/busybox "$ct/bin/busybox"
for a in sh echo sleep ping date cat; do ln -s busybox "$ct/bin/$a"; done
cat >"$stage/etc/vessel/guests/hello.yaml" <<'EOF'
kind: container
rootfs: hello-rootfs
mounts: [{source: /data/hello, target: /log}]
nets: [{bridge: br0, address: 10.0.0.2/24}]
command:
  - /bin/sh
  - -c
  - |
    trap 'echo "hello: SIGTERM, shutting down" | tee -a /log/shutdown.log; exit 0' TERM
    echo HELLO-MARKER
    ping -c 1 -W 5 10.0.0.1 >/dev/null && echo HELLO-PING-OK
    while :; do sleep 1 & wait; done
EOF

# Modules: what APPLIANCE.md lists, plus button (the ACPI power button is
# a module in Debian's kernel) and crc32c_generic (ext4's softdep, loaded
# by modprobe normally); paths relative to /lib/modules/KVER, deps first.
modules="kvm kvm_intel kvm_amd tun bridge veth virtio_pci virtio_blk virtio_net
	ahci nvme sd_mod crc32c_generic ext4 evdev i6300esb button"
dep=$MODDIR/modules.dep
order=()
add() { local p; for p in "${order[@]}"; do [ "$p" = "$1" ] && return 0; done; order+=("$1"); }
for m in $modules; do
	p=$(awk -F: -v want="${m//-/_}" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n);
		gsub(/-/, "_", n); if (n == want) { print $1; exit } }' "$dep")
	if [ -z "$p" ]; then
		grep -qE "/${m//[-_]/[-_]}\.ko" "$MODDIR/modules.builtin" || die "module $m not found"
		continue
	fi
	read -r -a deps <<<"$(grep -m1 "^$p:" "$dep" | cut -d: -f2)"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add "${deps[i]}"; done
	add "$p"
done
: >"$stage/lib/modules/load-order"
for p in "${order[@]}"; do
	mkdir -p "$stage/lib/modules/$kver/$(dirname "$p")"
	cp "$MODDIR/$p" "$stage/lib/modules/$kver/$p"
	echo "$p" >>"$stage/lib/modules/load-order"
done
nmod=${#order[@]}

initrd=$work/initrd.img
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1n >"$initrd" || die "cpio failed"
log "initramfs $(du -h "$initrd" | cut -f1), $nmod modules"

# The data partition: whole-disk ext4 with label vessel-data, holding the
# guest's log directory.
mkdir -p "$work/data-src/hello"
truncate -s 64M "$work/data.img"
mkfs.ext4 -q -F -L vessel-data -d "$work/data-src" "$work/data.img" || die "mkfs.ext4 failed"

# ---- booting ----
serial=$work/serial.log
# boot N: QEMU in the background; its serial console on stdio (our fifo in,
# $serial out); QMP on $work/qmp.sock.
boot() {
	rm -f "$work/in" "$work/qmp.sock"
	mkfifo "$work/in"
	: >"$serial"
	timeout -k 10 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -M q35 -m 1024 -smp 1 \
		-kernel "$KERNEL" -initrd "$initrd" -append 'console=ttyS0 panic=10' \
		-nographic -no-reboot \
		-drive file="$work/data.img",format=raw,if=virtio \
		-nic user,model=virtio-net-pci -device i6300esb \
		-qmp unix:"$work/qmp.sock",server=on,wait=off \
		<"$work/in" >"$serial" 2>&1 &
	qpid=$!
	exec 7>"$work/in"
}
# wait_for PATTERN SECS: until the serial log has PATTERN (a grep -E regex).
wait_for() {
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		tr -d '\r' <"$serial" | grep -qE "$1" && return 0
		kill -0 "$qpid" 2>/dev/null || { tr -d '\r' <"$serial" | grep -qE "$1"; return; }
		sleep 1
	done
	return 1
}
check() { # check NAME PATTERN SECS
	if wait_for "$2" "$3"; then ok "$1"; else bad "$1" "no '$2' on the serial console"; fi
}
type_line() { printf '%s\n' "$1" >&7; }
# wait_exit SECS: QEMU ends by itself (the guest powered off) in time.
wait_exit() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		kill -0 "$qpid" 2>/dev/null || { wait "$qpid"; return $?; }
		sleep 1
	done
	return 124
}
qmp() {
	printf '{"execute":"qmp_capabilities"}\n{"execute":"%s"}\n' "$1" |
		socat -t 2 - UNIX-CONNECT:"$work/qmp.sock" >/dev/null
}
show_log() { echo "---- serial console (last 60 lines) ----"; tail -n 60 "$serial" | sed 's/^/    | /'; }

# Boot 1.
t0=$SECONDS
boot
check boot1_mounts 'vessel-init: mounted /proc /sys /dev /dev/pts /dev/shm /run /tmp /sys/fs/cgroup' 120
# kvm_intel finds no VMX under TCG: "without hardware", not a failure.
check boot1_modules "vessel-init: modules: [0-9]+ loaded, [0-9]+ without hardware, 0 failed" 60
check boot1_hostname 'vessel-init: hostname appliance-test' 30
check boot1_bridge 'vessel-init: bridge br0: up, 10.0.0.1/24, 1 port' 30
check boot1_data_found 'vessel-init: data: /dev/vda \(label vessel-data\)' 30
check boot1_data_clean 'vessel-init: data: clean' 5
check boot1_data_mounted 'vessel-init: data: /dev/vda mounted on /data' 30
check boot1_watchdog 'vessel-init: watchdog: 10 s' 30
check boot1_power_button 'vessel-init: power button: ready' 30
check boot1_started 'vessel-init: started hello' 90
check boot1_up 'vessel-init: up: 1 guests' 30
log "boot 1 up after $((SECONDS - t0)) s"
check boot1_shell 'vessel-init: rescue shell on ttyS0' 30
sleep 3
type_line 'vessel logs hello'
check boot1_guest_marker 'HELLO-MARKER' 30
check boot1_guest_ping 'HELLO-PING-OK' 30
type_line 'vessel ps'
check boot1_ps 'hello +container +running' 30
qmp system_powerdown
check boot1_power_pressed 'vessel-init: power button: stopping guests' 60
check boot1_guest_stopped 'vessel-init: stopped hello' 90
check boot1_data_unmounted 'vessel-init: data: unmounted' 30
check boot1_powering_off 'vessel-init: powering off' 30
if wait_exit 60; then ok boot1_qemu_exits; else bad boot1_qemu_exits "QEMU still running (or failed: $?)"; fi
[ "$fail" -eq 0 ] || show_log
cp "$serial" "$work/serial1.log"

# Boot 2: the data partition was unmounted cleanly, and holds the guest's
# own shutdown line.
boot
check boot2_data_clean 'vessel-init: data: clean' 150
check boot2_up 'vessel-init: up: 1 guests' 90
check boot2_shell 'vessel-init: rescue shell on ttyS0' 30
sleep 3
type_line 'cat /data/hello/shutdown.log'
check boot2_guest_shutdown_line 'hello: SIGTERM, shutting down' 30
# The watchdog (10 s) is fed: 25 s later the machine still runs (an
# i6300esb reset would end QEMU: -no-reboot).
sleep 25
if kill -0 "$qpid" 2>/dev/null; then ok boot2_watchdog_fed; else bad boot2_watchdog_fed "QEMU ended"; fi
type_line 'vessel host poweroff'
check boot2_poweroff_requested 'vessel-init: poweroff requested: stopping guests' 30
check boot2_guest_stopped 'vessel-init: stopped hello' 90
check boot2_powering_off 'vessel-init: powering off' 30
if wait_exit 60; then ok boot2_qemu_exits; else bad boot2_qemu_exits "QEMU still running (or failed: $?)"; fi
cp "$serial" "$work/serial2.log"

# Boot 3: the rescue shell comes back after `exit`; Ctrl-Alt-Del (QMP
# send-key) reboots (-no-reboot: QEMU exits).
boot
check boot3_up 'vessel-init: up: 1 guests' 150
check boot3_shell 'vessel-init: rescue shell on ttyS0' 30
sleep 3
type_line 'exit'
end=$((SECONDS + 30))
while [ "$(tr -d '\r' <"$serial" | grep -c 'vessel-init: rescue shell on ttyS0')" -lt 2 ] &&
	[ $SECONDS -lt $end ]; do sleep 1; done
if [ $SECONDS -lt $end ]; then ok boot3_shell_respawned; else bad boot3_shell_respawned "no second shell"; fi
printf '{"execute":"qmp_capabilities"}\n{"execute":"send-key","arguments":{"keys":[%s]}}\n' \
	'{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},{"type":"qcode","data":"delete"}' |
	socat -t 2 - UNIX-CONNECT:"$work/qmp.sock" >/dev/null
check boot3_ctrl_alt_del 'vessel-init: ctrl-alt-del: stopping guests' 30
check boot3_guest_stopped 'vessel-init: stopped hello' 90
check boot3_rebooting 'vessel-init: rebooting' 30
if wait_exit 60; then ok boot3_qemu_exits; else bad boot3_qemu_exits "QEMU still running (or failed: $?)"; fi
[ "$fail" -eq 0 ] || show_log
cp "$serial" "$work/serial3.log"

# Boot 4: `vessel host reboot`.
boot
check boot4_shell 'vessel-init: rescue shell on ttyS0' 150
check boot4_up 'vessel-init: up: 1 guests' 90
sleep 3
type_line 'vessel host reboot'
check boot4_reboot_requested 'vessel-init: reboot requested: stopping guests' 30
check boot4_rebooting 'vessel-init: rebooting' 90
if wait_exit 60; then ok boot4_qemu_exits; else bad boot4_qemu_exits "QEMU still running (or failed: $?)"; fi
grep -q 'fatal' "$serial" "$work"/serial[123].log && bad no_fatal "a fatal error was logged"
# Closed with the magic character: the watchdog core does not complain.
grep -q 'did not stop' "$serial" "$work"/serial[123].log && bad watchdog_magic_close "watchdog did not stop"
[ "$fail" -eq 0 ] || show_log
exec 7>&-
echo "appliance-init: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

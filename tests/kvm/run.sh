#!/usr/bin/env bash
# Tiny-guest KVM tests: small guests assembled at build time boot through
# vessel's own bzImage loader, 64-bit entry, buses and devices. They run on
# any /dev/kvm, PVM included. Each asserts on what vessel printed and its
# exit status.
#   env: VESSEL (the binary), GUESTS (the directory of built *.bin guests)
set -u
: "${VESSEL:?}" "${GUESTS:?}"
lib=$(dirname "$(readlink -f "$0")")/../lib    # kpayload.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0 skip=0

# Without /dev/kvm every test would skip: that fails, unless
# VESSEL_ALLOW_SKIP allows it (tests/run-all.sh runs these tests in the
# nested KVM host instead).
if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ]; then
	echo "SKIP kvm tests: no usable /dev/kvm (make kvm-test runs them in the nested KVM host)"
	echo "kvm: 0 passed, 0 failed, 1 skipped"
	case " ${VESSEL_ALLOW_SKIP:-} " in *" suite "* | *" all "* | *" kvm-test "*) exit 0 ;; esac
	exit 1
fi

ok()   { echo "ok   $1"; pass=$((pass + 1)); }
bad()  { echo "FAIL $1: $2"; fail=$((fail + 1)); sed 's/^/     | /' "$work/out" | tail -20; }

# vm NAME GUEST [extra yaml lines...]: write NAME.yaml for GUEST
vm() {
	local name=$1 guest=$2
	shift 2
	cp "$GUESTS/$guest.bin" "$work/$guest.bin"
	{
		echo "name: $name"
		echo "kernel: $guest.bin"
		echo "memory: 64M"
		for l in "$@"; do echo "$l"; done
	} > "$work/$name.yaml"
}

# run NAME [vessel args...] < stdin: sets $code, output in $work/out
run() {
	local name=$1
	shift
	timeout 60 "$VESSEL" run "$@" "$work/$name.yaml" > "$work/out" 2>&1
	code=$?
}

expect() { grep -q -- "$1" "$work/out"; }

# KVM on AMD (SVM) INITs the vCPU on a shutdown intercept (a triple fault):
# the registers vessel dumps then are the reset state, not the guest's.
regs_lost_on_shutdown() { [ -d /sys/module/kvm_amd ]; }

t_serial() {
	vm serial serial
	run serial < /dev/null
	if [ $code -ne 0 ]; then bad serial "exit $code, want 0 (poweroff)"
	elif ! expect "tiny-guest: hello from serial"; then bad serial "guest output missing"
	else ok serial; fi
}

t_unclaimed() {
	vm unclaimed unclaimed
	run unclaimed --stats < /dev/null
	if [ $code -ne 0 ]; then bad unclaimed "exit $code, want 0"
	elif ! expect "survived unclaimed accesses"; then bad unclaimed "guest did not carry on"
	elif ! expect "unclaimed_pio 2 unclaimed_mmio 2"; then bad unclaimed "accesses not counted"
	else ok unclaimed; fi
}

t_crash() {
	vm crash crash
	run crash < /dev/null
	if [ $code -ne 4 ]; then bad crash "exit $code, want 4 (crash)"
	elif ! expect "about to crash"; then bad crash "guest never ran"
	elif ! grep -qE "triple fault|internal error" "$work/out"; then bad crash "no crash reason"
	elif ! grep -qE "rax [0-9a-f]{16}" "$work/out"; then bad crash "no register dump"
	elif ! regs_lost_on_shutdown && ! expect "rax 0000000000c0ffee"; then bad crash "no register dump with the guest's rax"
	elif ! expect "io   out port 0x03f8 size 1"; then bad crash "the dump lacks the last exits (its serial output)"
	else ok crash; fi
}

t_reboot_exit() {
	local g
	for g in reboot kbdreset; do
		vm "$g" "$g" "on_reboot: exit"
		run "$g" < /dev/null
		if [ $code -ne 3 ]; then bad "$g" "exit $code, want 3 (reboot)"
		elif ! expect "tiny-guest: rebooting"; then bad "$g" "guest never ran"
		else ok "$g"; fi
	done
}

t_reboot_restart() {
	# With on_reboot: restart the machine boots again; SIGTERM ends it.
	vm restart reboot "on_reboot: restart"
	timeout 60 "$VESSEL" run "$work/restart.yaml" > "$work/out" 2>&1 < /dev/null &
	local pid=$! n=0
	for _ in $(seq 100); do
		n=$(grep -c "tiny-guest: rebooting" "$work/out")
		[ "$n" -ge 3 ] && break
		sleep 0.1
	done
	kill -TERM $pid 2>/dev/null
	wait $pid
	code=$?
	if [ "$n" -lt 3 ]; then bad restart "booted $n times, want >= 3"
	elif [ $code -ne 143 ]; then bad restart "exit $code after SIGTERM, want 143"
	else ok restart; fi
}

t_stdin() {
	vm echo echo
	run echo < <(sleep 0.3; echo "ping-$((6 * 7))")
	if [ $code -ne 0 ]; then bad stdin "exit $code, want 0"
	elif ! expect "tiny-guest: got ping-42"; then bad stdin "typed line did not come back"
	else ok stdin; fi
}

t_pvh() {
	cp "$GUESTS/pvh.elf" "$work/pvh.elf"
	printf 'name: pvh\nkernel: pvh.elf\nmemory: 64M\ncmdline: hello-pvh token=%s\n' \
		"$$" > "$work/pvh.yaml"
	run pvh < /dev/null
	if [ $code -ne 0 ]; then bad pvh "exit $code, want 0"
	elif ! expect "pvh entry, cmdline: hello-pvh token=$$"; then bad pvh "no PVH entry or cmdline"
	else ok pvh; fi
}

# Each compression the kernel's build writes, as issue #18 asks: the PVH
# guest (pvh.elf) compressed into the payload of a minimal bzImage (the
# tiny guests' header), booted with the kernel cache on. vessel must
# decompress it (a miss, stored), boot the ELF through PVH, and serve the
# next boot from the cache (a hit).
t_formats() {
	local f tok
	export VESSEL_KERNEL_CACHE=$work/kcache
	for f in gzip xz lzma zstd lz4; do
		tok=$f-$$
		if ! python3 - "$GUESTS/serial.bin" "$GUESTS/pvh.elf" "$work/bz-$f" "$f" \
			"$lib" >"$work/out" 2>&1 <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[5])
import kpayload  # noqa: E402
setup = bytearray(open(sys.argv[1], "rb").read()[:0x400])  # setup_sects 1
comp = kpayload.compress(sys.argv[4], open(sys.argv[2], "rb").read())
if comp is None:
    sys.exit(f"no {sys.argv[4]} tool to compress with")
struct.pack_into("<II", setup, 0x248, 0, len(comp))  # payload offset, length
open(sys.argv[3], "wb").write(setup + comp)
PY
		then
			bad "format-$f" "making the bzImage failed"
			continue
		fi
		printf 'name: fmt\nkernel: bz-%s\nmemory: 64M\ncmdline: hello-pvh token=%s\n' \
			"$f" "$tok" >"$work/fmt.yaml"
		run fmt --timings </dev/null
		if [ $code -ne 0 ]; then bad "format-$f" "exit $code, want 0"
		elif ! expect "pvh entry, cmdline: hello-pvh token=$tok"; then bad "format-$f" "the guest did not run"
		elif ! expect "kernel loaded (cache miss: $f decompressed and stored.*PVH entry)"; then
			bad "format-$f" "not decompressed into the cache: $(grep 'kernel loaded' "$work/out")"
		else
			run fmt --timings </dev/null
			if [ $code -ne 0 ] || ! expect "pvh entry, cmdline: hello-pvh token=$tok"; then
				bad "format-$f" "the second boot failed (exit $code)"
			elif ! expect "kernel loaded (cache hit: $f ELF"; then
				bad "format-$f" "the second boot missed the cache: $(grep 'kernel loaded' "$work/out")"
			else ok "format-$f"; fi
		fi
	done
	unset VESSEL_KERNEL_CACHE
}

t_bad_config() {
	printf 'name: x\nkernel: nowhere.bin\n' > "$work/bad.yaml"
	run bad < /dev/null
	if [ $code -ne 2 ]; then bad bad-config "exit $code, want 2"
	elif ! grep -q "bad.yaml:2:[0-9]*: kernel" "$work/out"; then bad bad-config "no file:line: key in message"
	else ok bad-config; fi
}

# `vessel check` prints the resolved devices: disks in order with their
# options, NICs with the configured or the derived (stable) MAC.
t_check() {
	vm chk serial "disks: [{path: a.img}, {path: b.img, readonly: true, cache: writeback}]" \
		"nets: [{tap: vs-chk0, mac: '52:54:00:aa:bb:cc'}, {tap: vs-chk1}]" "rng: false"
	: > "$work/a.img"
	: > "$work/b.img"
	"$VESSEL" check "$work/chk.yaml" > "$work/out" 2>&1
	code=$?
	"$VESSEL" check "$work/chk.yaml" > "$work/out2" 2>&1
	local mac
	mac=$(sed -n 's/^net eth1: tap vs-chk1, mac \([0-9a-f:]*\) (derived)$/\1/p' "$work/out")
	if [ $code -ne 0 ]; then bad check "exit $code, want 0"
	elif ! expect "^disk vda: $work/a.img (read-write, cache: none)$"; then bad check "vda not listed as expected"
	elif ! expect "^disk vdb: $work/b.img (read-only, cache: writeback)$"; then bad check "vdb not listed as expected"
	elif ! expect "^net eth0: tap vs-chk0, mac 52:54:00:aa:bb:cc$"; then bad check "eth0 not listed as expected"
	elif [[ ! $mac =~ ^52:54:00(:[0-9a-f]{2}){3}$ ]]; then bad check "eth1 has no derived 52:54:00 MAC"
	elif ! cmp -s "$work/out" "$work/out2"; then bad check "the derived MAC is not stable"
	elif ! expect "^rng: false$"; then bad check "rng not shown"
	else ok check; fi
}

t_virtio() {
	# A freestanding C guest (tests/kvm/virtio/) drives the virtio-pci
	# transport with no interrupts: PCI scan, virtio-rng and virtio-blk
	# init and one request each, then malformed chains, each followed by a
	# reset and a good request. 16 known bytes start the disk.
	local s="vessel-disk-0123" h miss=""
	if [ ! -f "$GUESTS/virtio.bin" ]; then
		echo "no $GUESTS/virtio.bin" > "$work/out"
		bad virtio "guest not built"
		return
	fi
	vm virtio virtio "disks: [{path: disk.img}]"
	dd if=/dev/zero of="$work/disk.img" bs=1M count=1 status=none
	printf '%s' "$s" | dd of="$work/disk.img" conv=notrunc status=none
	run virtio --stats < /dev/null
	if [ $code -ne 0 ]; then bad virtio "exit $code, want 0"
	elif expect "^timeout"; then bad virtio "$(grep -m1 '^timeout' "$work/out")"
	elif ! expect "virtio-guest: done"; then bad virtio "guest did not finish"
	else ok virtio; fi

	if ! expect "^pci 00:[0-9a-f][0-9a-f].0 1af4:1044"; then bad virtio-pci "no virtio-rng function"
	elif ! expect "^pci 00:[0-9a-f][0-9a-f].0 1af4:1042"; then bad virtio-pci "no virtio-blk function"
	else ok virtio-pci; fi

	if ! grep -qE "^rng: got [1-9][0-9]* bytes" "$work/out"; then bad virtio-rng "no random bytes"
	else ok virtio-rng; fi

	if ! expect "^blk: capacity 2048 sector0: $s\$"; then bad virtio-blk "capacity or sector 0 wrong"
	else ok virtio-blk; fi

	for h in addr straddle loop head avail-idx ring; do
		expect "^rng: hostile $h: needs_reset" || miss="$miss rng-$h"
		expect "^rng: recovered after hostile $h\$" || miss="$miss rng-$h-recovery"
	done
	grep -qE "^blk: hostile addr: (needs_reset|status=[12] )" "$work/out" || miss="$miss blk-addr"
	expect "^blk: hostile loop: needs_reset" || miss="$miss blk-loop"
	expect "^blk: hostile len: status=1 " || miss="$miss blk-len"
	expect "^blk: hostile sector: status=1 " || miss="$miss blk-sector"
	for h in addr loop len sector; do
		expect "^blk: recovered after hostile $h\$" || miss="$miss blk-$h-recovery"
	done
	if [ -n "$miss" ]; then bad virtio-hostile "missing:$miss"
	else ok virtio-hostile; fi

	# Spec and sanity checks the guest made along the way
	if expect "^check failed"; then
		bad virtio-checks "$(grep -c '^check failed' "$work/out") failed, first: $(grep -m1 '^check failed' "$work/out")"
	else ok virtio-checks; fi
}

t_serial
t_unclaimed
t_crash
t_reboot_exit
t_reboot_restart
t_stdin
t_pvh
t_formats
t_bad_config
t_check
t_virtio
echo "kvm: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# Bad snapshots and bad circumstances are refused with exit status 2, a
# clear message and nothing changed (issue #12). One guest (1 vCPU,
# 128 MiB, a 16 MiB raw disk it does not write, TICK every 200 ms) is
# saved with `vessel snapshot --stop`; `vessel snapshot --info` must print
# the documented keys with the right values. Then `vessel restore` (and
# `vessel start --restore` for some) of:
#   - a copy whose state file is cut in half            -> truncated/corrupt
#   - a copy with one bit of its state file flipped      -> checksum
#   - a copy whose header says format version 999 (the crc32 trailer
#     recomputed, so only the version is wrong)          -> version
#   - the snapshot, its disk image grown by 1 MiB        -> size
#   - the snapshot, its disk image open in a running VM  -> in use
#   - the snapshot, a guest of the same name running     -> already running
# each exits 2 with a message on stderr that names the problem, makes no
# run directory entry, starts no guest, and leaves the image's bytes as
# they were (the running guest of the same name runs on undisturbed). At
# the end the good snapshot still restores and continues.
#   - a copy whose vcpu.0 CPUID has AVX512F, which the host lacks (crc32
#     recomputed)                                      -> CPU feature
# test-timeout: 300
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

snap_init
name=t27
img=$T/disk.img
head -c 16M /dev/urandom >"$img"
img_sum=$(sha256sum "$img" | cut -d' ' -f1)
virtio_guest t27 <<SH
$SNAP_GUEST_FUNCS
vt_wait_dev /dev/vda
echo "VT-DISK-SECTORS=\$(cat /sys/block/vda/size)"
snap_ticker 0.2
SH
virtio_config t27 128M 1 <<YAML
disks:
  - path: disk.img
YAML
good_cfg=$CFG

snap_start "$good_cfg" "$name"
snap_wait '^VT-DISK-SECTORS='
snap_wait_ticks 3
snap_ok snapshot snapshot --stop "$name" "$T/snap"
snap_life_end
saved_tick=$(snap_last_tick)
for ((i = 0; i < 50 && ${#name} > 0; i++)); do
	[ -e "$VESSEL_RUN_DIR/$name" ] || break
	sleep 0.2
done

# --info
snap_ok info snapshot --info "$T/snap"
sed 's/^/# info| /' "$T/info.out"
# key K: the value of the first "K: VALUE" line of --info.
key() { sed -n "s/^$1: //p" "$T/info.out" | head -n 1; }
for k in format vessel name vcpus memory memory_file compressed devices disk; do
	grep -q "^$k:" "$T/info.out" || snap_fail "vessel snapshot --info has no '$k:' line"
done
[[ $(key format) =~ ^[0-9]+$ ]] || snap_fail "--info format: '$(key format)', want a number"
[ "$(key name)" = "$name" ] || snap_fail "--info name: '$(key name)', want $name"
[ "$(key vcpus)" = 1 ] || snap_fail "--info vcpus: '$(key vcpus)', want 1"
[ "$(key memory)" = $((128 << 20)) ] || snap_fail "--info memory: '$(key memory)', want $((128 << 20))"
[ "$(key compressed)" = no ] || snap_fail "--info compressed: '$(key compressed)', want no"
mf=$(key memory_file)
[[ $mf =~ ^[0-9]+$ ]] && [ "$mf" -gt 0 ] && [ "$mf" -le $((128 << 20)) ] ||
	snap_fail "--info memory_file: '$mf', want a byte count in 1..$((128 << 20))"
read -r dpath dsize _ <<<"$(key disk)"
case $dpath in /*) ;; *) dpath=$T/$dpath ;; esac
[ "$dpath" -ef "$img" ] || snap_fail "--info disk path '$dpath', want $img"
[ "$dsize" = $((16 << 20)) ] || snap_fail "--info disk size '$dsize', want $((16 << 20))"
[ -n "$(key devices)" ] || snap_fail "--info devices: empty"
! grep -q '^net:' "$T/info.out" || snap_fail "--info lists a net device, the guest has none"
info "--info: format $(key format), memory_file $mf bytes (du: $(du -k "$T/snap/memory" 2>/dev/null | cut -f1) KiB)"

# expect_refused WHAT REGEX CMD...: `vessel CMD...` exits 2, its stderr
# matches REGEX (grep -Ei), and nothing changed.
expect_refused() {
	local what=$1 re=$2 out
	shift 2
	out=bad-$(tr -c 'a-z0-9\n' - <<<"$what" | head -n 1)
	snap_cmd "$out" "$@"
	[ "$SRC" = 2 ] || snap_fail "$what: vessel $* exited $SRC, want 2 (stderr: $(head -c 400 "$T/$out.err"))"
	grep -Eiq -- "$re" "$T/$out.err" || snap_fail "$what: the message '$(head -c 400 "$T/$out.err")' does not say what is wrong (want /$re/)"
	info "$what: refused: $(head -n 1 "$T/$out.err")"
	check_unchanged "$what"
}
# check_unchanged WHAT: no guest named $name, the image as it was.
check_unchanged() {
	if [ -z "${running:-}" ]; then
		[ ! -e "$VESSEL_RUN_DIR/$name" ] || snap_fail "$1: a run directory entry $VESSEL_RUN_DIR/$name was left"
		! timeout 30 "$VESSEL" ps 2>/dev/null | grep -qw "$name" || snap_fail "$1: vessel ps lists $name"
	fi
	[ -n "${resized:-}" ] || [ "$(sha256sum "$img" | cut -d' ' -f1)" = "$img_sum" ] ||
		snap_fail "$1: the disk image changed"
}
running='' resized=''

# A cut state file.
cp -r "$T/snap" "$T/trunc"
truncate -s $(($(stat -c %s "$T/snap/state") / 2)) "$T/trunc/state"
expect_refused "truncated state" 'truncat|corrupt|checksum|short|incomplete' restore "$T/trunc"
expect_refused "truncated state (start --restore)" 'truncat|corrupt|checksum|short|incomplete' start --restore "$T/trunc"

# One bit flipped in the middle.
cp -r "$T/snap" "$T/flip"
off=$(($(stat -c %s "$T/flip/state") / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$T/flip/state" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$T/flip/state" bs=1 seek="$off" conv=notrunc status=none
cmp -s "$T/snap/state" "$T/flip/state" && snap_fail "flipping a bit of the copy's state did not change it"
expect_refused "a flipped bit" 'checksum|corrupt|crc' restore "$T/flip"

# Format version 999: magic "VESSELST", then the u32 version (LE) at 8;
# the last 4 bytes are the crc32 (zlib's, as gzip's trailer has it) of
# everything before them, recomputed so that only the version is wrong.
cp -r "$T/snap" "$T/ver"
[ "$(head -c 8 "$T/ver/state")" = VESSELST ] || snap_fail "the state file does not start with VESSELST"
printf '\347\003\000\000' | dd of="$T/ver/state" bs=1 seek=8 conv=notrunc status=none
len=$(stat -c %s "$T/ver/state")
head -c $((len - 4)) "$T/ver/state" | gzip -1 -n -c | tail -c 8 | head -c 4 >"$T/ver.crc"
dd if="$T/ver.crc" of="$T/ver/state" bs=1 seek=$((len - 4)) conv=notrunc status=none
expect_refused "format version 999" 'version|format|newer' restore "$T/ver"

# A CPU feature the host lacks: AVX512F (CPUID leaf 7.0, EBX bit 16) set
# in vcpu.0's saved CPUID, the crc32 recomputed. The section: id[32]
# ("vcpu.0", NUL-padded), u32 version, u32 length, then the CPUID blob (u32
# length, kvm_cpuid_entry2[]: function, index, flags, eax, ebx, ecx, edx,
# 3 words of padding) first (vmm/vcpu_state_x86.c).
if grep -qw avx512f /proc/cpuinfo; then
	info "this host has AVX512F: no CPUID case here"
else
	cp -r "$T/snap" "$T/cpuid"
	st=$T/cpuid/state
	u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
	sec=$(LC_ALL=C grep -obUaP 'vcpu\.0\x00{26}' "$st" | head -n 1 | cut -d: -f1)
	[ -n "$sec" ] || snap_fail "no section vcpu.0 in the state file"
	blen=$(u32 "$st" $((sec + 40)))
	at=''
	for ((e = sec + 44; e < sec + 44 + blen; e += 40)); do
		if [ "$(u32 "$st" "$e")" = 7 ] && [ "$(u32 "$st" $((e + 4)))" = 0 ]; then at=$((e + 18)); break; fi
	done
	[ -n "$at" ] || snap_fail "no CPUID leaf 7.0 in vcpu.0's $blen bytes of CPUID"
	byte=$(od -An -tu1 -j "$at" -N1 "$st" | tr -d ' ')
	printf "$(printf '\\%03o' $((byte | 1)))" | dd of="$st" bs=1 seek="$at" conv=notrunc status=none
	len=$(stat -c %s "$st")
	head -c $((len - 4)) "$st" | gzip -1 -n -c | tail -c 8 | head -c 4 >"$T/cpuid.crc"
	dd if="$T/cpuid.crc" of="$st" bs=1 seek=$((len - 4)) conv=notrunc status=none
	expect_refused "a CPU feature the host lacks" 'cpu|feature' restore "$T/cpuid"
fi

# The disk image resized after the snapshot.
truncate -s $((17 << 20)) "$img"
resized=1
expect_refused "a resized disk image" 'size|bytes' restore "$T/snap"
[ "$(stat -c %s "$img")" = $((17 << 20)) ] || snap_fail "the refused restore changed the resized image's size"
truncate -s $((16 << 20)) "$img"
resized=''
check_unchanged "the image's size put back"

# Two more guests with t27's ticker but no use of a disk: "holder" has the
# image open (read-only, so it stays intact), "t27" again (fresh, no disk)
# makes the name clash with nothing else.
virtio_guest holder <<SH
$SNAP_GUEST_FUNCS
snap_ticker 0.2
SH
virtio_config holder 128M 1 </dev/null
sed "s/^name: .*/name: $name/" "$CFG" >"$T/same-name.yaml"
virtio_config holder 128M 1 <<YAML
disks:
  - path: disk.img
    readonly: true
YAML

# The disk image in use by another VM.
snap_start "$CFG" holder
snap_wait_ticks 1
expect_refused "a disk image in use" 'in use|locked|busy' restore "$T/snap"
snap_ok stop-holder stop --force holder

# A guest of the same name already running.
snap_start "$T/same-name.yaml" "$name"
snap_wait_ticks 3
running=1
expect_refused "a name already running" 'already|running|exists|in use' restore "$T/snap"
expect_refused "a name already running (start --restore)" 'already|running|exists|in use' start --restore "$T/snap"
n0=$(snap_last_tick)
sleep 1.5
[ "$(snap_last_tick)" -gt "$n0" ] || snap_fail "the running guest named $name stopped ticking after the refused restores"
snap_ok stop-same stop --force "$name"
running=''

# The good snapshot, after all that, still restores and continues.
snap_restore_bg "$T/snap" "$name"
snap_wait_ticks 3 120
snap_expect_continued 1 $((saved_tick + 1)) $((saved_tick + 2))
snap_ok stop-last stop --force "$name"
check_unchanged "the final restore"
pass

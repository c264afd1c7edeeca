#!/usr/bin/env bash
# `vessel image build` tests (host only, no QEMU): `VESSEL=/abs/vessel
# tests/appliance/build.sh [NAME...]`. Builds tests/appliance/fixture (a
# bridge and a data partition; a VM with the cached Debian kernel, a small
# initrd and a disk image; a busybox container) in both formats, twice each,
# and checks the bytes are the same; then what is inside: the initramfs
# listing (init, vessel, busybox, e2fsck, the modules and their load order,
# the definitions, the disk's symlink into /data), the GPT, the ESP, the UKI's
# sections and command line, the data file system; and each bad input's
# exit status and message, with nothing left at the output. Prints
# ok/FAIL/SKIP per test and "N passed, N failed, N skipped".
# shellcheck disable=SC2317,SC2015,SC2012,SC2010 # t_* are called by name; A && B || fail is meant; ls of our own names
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VESSEL=${VESSEL:-$ROOT/vessel}
REPORT_LINES=20
# shellcheck source=tests/lib/report.sh
. "$(dirname "$0")/../lib/report.sh"

ALL_TESTS="help reproducible_disk reproducible_dir initramfs_layout load_order
ownership runs_in_initramfs gpt esp uki data_fs kernel_initrd source_date_epoch bad_guest
missing_file missing_module no_data data_too_small bad_host_yaml missing_kernel host_failure
old_output_kept"

T=$(mktemp -d /tmp/vessel-imgbuild.XXXXXX)
trap 'umount "$T/root/proc" 2>/dev/null; rm -rf --one-file-system "$T"' EXIT

for tool in sgdisk mdir mcopy debugfs dumpe2fs objdump objcopy cpio mkfs.vfat mkfs.ext4; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP all: $tool is not installed (make deps)"
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
done
export VESSEL_CACHE=${VESSEL_CACHE:-/work/cache}
if ! eval "$("$ROOT/tests/harness/fetch-kernel.sh")" || [ ! -f "$KERNEL" ]; then
	echo "SKIP all: no cached Debian kernel (tests/harness/fetch-kernel.sh)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
unset SOURCE_DATE_EPOCH

# fixture DIR: the appliance with its binaries.
fixture() {
	local d=$1
	rm -rf "$d"
	cp -r "$HERE/fixture" "$d"
	mkdir -p "$d/guests/vm" "$d/guests/ct/rootfs/bin" "$d/guests/ct/rootfs/etc"
	cp "$KERNEL" "$d/guests/vm/vmlinuz"
	printf 'a small initrd\n' >"$d/guests/vm/initrd.img"
	truncate -s 8M "$d/guests/vm/disk.img"
	printf 'disk-token-1234\n' | dd of="$d/guests/vm/disk.img" bs=1 seek=1048576 conv=notrunc 2>/dev/null
	cp /bin/busybox "$d/guests/ct/rootfs/bin/busybox"
	ln -s busybox "$d/guests/ct/rootfs/bin/sh"
	printf 'ct\n' >"$d/guests/ct/rootfs/etc/hostname"
}

# build NAME ARGS...: vessel image build, output in $T/NAME.out/.err.
build() {
	local name=$1
	shift
	"$VESSEL" image build "$@" --kernel "$KERNEL" --moddir "$MODDIR" >"$T/$name.out" 2>"$T/$name.err"
}

A=$T/app
fixture "$A"
build disk1 "$A" -o "$T/disk1.img" || { cat "$T/disk1.err"; }
build dir1 "$A" -o "$T/dir1" --format kernel+initrd || { cat "$T/dir1.err"; }
LIST=$T/initramfs.list
mkdir -p "$T/x"
zcat "$T/dir1/initrd.img" 2>/dev/null | cpio -itv --quiet --numeric-uid-gid >"$LIST" 2>/dev/null
NAMES=$T/initramfs.names
# Device nodes have one more column (major, minor).
awk '{ s = $1 ~ /^[cb]/ ? 10 : 9; for (i = s; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : "\n") }' "$LIST" >"$NAMES"
has() { grep -qxF -- "$1" "$NAMES"; }

t_help() {
	"$VESSEL" image build --help >"$T/help" 2>&1 && grep -q -- '--format' "$T/help" &&
		grep -q 'kernel+initrd' "$T/help" || { bad help "no usage" "$T/help"; return; }
	"$VESSEL" image build "$A" >"$T/help2" 2>&1
	[ $? -eq 2 ] || { bad help "no -o: want exit 2"; return; }
	ok help
}

t_reproducible_disk() {
	[ -f "$T/disk1.img" ] || { bad reproducible_disk "first build failed" "$T/disk1.err"; return; }
	sleep 1.1       # a clock-dependent field would differ now
	build disk2 "$A" -o "$T/disk2.img" || { bad reproducible_disk "second build failed" "$T/disk2.err"; return; }
	cmp "$T/disk1.img" "$T/disk2.img" >"$T/cmp" 2>&1 || { bad reproducible_disk "differ" "$T/cmp"; return; }
	ok reproducible_disk
}

t_reproducible_dir() {
	[ -d "$T/dir1" ] || { bad reproducible_dir "first build failed" "$T/dir1.err"; return; }
	# A second copy of the inputs, in another place, built later.
	fixture "$T/app2"
	touch "$T/app2/guests/vm/vmlinuz" "$T/app2/host.yaml"
	build dir2 "$T/app2" -o "$T/dir2" --format kernel+initrd || { bad reproducible_dir "second build failed" "$T/dir2.err"; return; }
	local f
	for f in vmlinuz initrd.img cmdline data.img; do
		cmp "$T/dir1/$f" "$T/dir2/$f" >"$T/cmp" 2>&1 || { bad reproducible_dir "$f differs" "$T/cmp"; return; }
	done
	ok reproducible_dir
}

t_initramfs_layout() {
	local want
	[ -s "$NAMES" ] || { bad initramfs_layout "no initramfs listing" "$T/dir1.err"; return; }
	for want in "init -> bin/vessel" bin/vessel bin/busybox "bin/sh -> busybox" \
		"bin/ls -> busybox" sbin/e2fsck dev/console etc/vessel/host.yaml \
		etc/vessel/guests/10-vm.yaml etc/vessel/guests/20-ct.yaml \
		etc/vessel/guests/vm/vmlinuz etc/vessel/guests/vm/initrd.img \
		"etc/vessel/guests/vm/disk.img -> /data/guests/vm/disk.img" \
		etc/vessel/guests/ct/rootfs/bin/busybox "etc/vessel/guests/ct/rootfs/bin/sh -> busybox" \
		etc/vessel/guests/ct/rootfs/etc/hostname lib/modules/load-order \
		"lib/modules/$KVERSION/kernel/arch/x86/kvm/kvm.ko" \
		"lib/modules/$KVERSION/kernel/arch/x86/kvm/kvm-amd.ko" \
		"lib/modules/$KVERSION/kernel/arch/x86/kvm/kvm-intel.ko" proc sys run tmp data; do
		has "$want" || { bad initramfs_layout "no '$want' in the initramfs" "$NAMES"; return; }
	done
	# The vessel binary is this one, byte for byte.
	(cd "$T/x" && zcat "$T/dir1/initrd.img" | cpio -id --quiet bin/vessel etc/vessel/host.yaml 2>/dev/null)
	cmp -s "$T/x/bin/vessel" "$VESSEL" || { bad initramfs_layout "bin/vessel is not \$VESSEL"; return; }
	cmp -s "$T/x/etc/vessel/host.yaml" "$A/host.yaml" || { bad initramfs_layout "host.yaml differs"; return; }
	# Nothing else from the guests' directory: the disk stays out.
	grep -q '^etc/vessel/guests/vm/disk.img$' "$NAMES" && { bad initramfs_layout "the disk image is in the initramfs"; return; }
	# Sorted by name.
	LC_ALL=C sort -c <(sed 's/ -> .*//' "$NAMES") 2>"$T/sort" || { bad initramfs_layout "entries not sorted" "$T/sort"; return; }
	ok initramfs_layout
}

t_load_order() {
	local order mod dep line i j m
	order=$(cd "$T/x" && zcat "$T/dir1/initrd.img" | cpio -i --quiet --to-stdout lib/modules/load-order 2>/dev/null)
	[ -n "$order" ] || { bad load_order "empty load-order"; return; }
	# Every needed module that is not built in is listed.
	for mod in kvm kvm-intel kvm-amd tun bridge veth virtio_pci virtio_blk virtio_net ahci nvme sd_mod ext4 evdev i6300esb crc32c_generic button; do
		if grep -qE "/${mod//[-_]/[-_]}\.ko(\.[a-z]+)?\$" "$MODDIR/modules.builtin" 2>/dev/null; then continue; fi
		grep -qE "/${mod//[-_]/[-_]}\.ko(\.[a-z]+)?\$" <<<"$order" || { bad load_order "$mod missing"; return; }
	done
	# Each module's dependencies (modules.dep) come before it; every line once.
	[ "$(sort <<<"$order" | uniq -d)" = "" ] || { bad load_order "a module listed twice"; return; }
	i=0
	while read -r m; do
		i=$((i + 1))
		line=$(grep -m1 "^$m:" "$MODDIR/modules.dep") || { bad load_order "$m not in modules.dep"; return; }
		for dep in ${line#*:}; do
			j=$(grep -nxF "$dep" <<<"$order" | cut -d: -f1)
			[ -n "$j" ] && [ "$j" -lt "$i" ] || { bad load_order "$dep (needed by $m) is not before it"; return; }
		done
		has "lib/modules/$KVERSION/$m" || { bad load_order "$m listed but not in the image"; return; }
	done <<<"$order"
	# Each module file is the kernel's, byte for byte (one sample).
	(cd "$T/x" && zcat "$T/dir1/initrd.img" | cpio -id --quiet "lib/modules/$KVERSION/kernel/arch/x86/kvm/kvm.ko" 2>/dev/null)
	cmp -s "$T/x/lib/modules/$KVERSION/kernel/arch/x86/kvm/kvm.ko" "$MODDIR/kernel/arch/x86/kvm/kvm.ko" ||
		{ bad load_order "kvm.ko differs from the kernel's"; return; }
	ok load_order
}

t_ownership() {
	# Columns: mode links uid gid size month day year name.
	awk '$3 != 0 || $4 != 0 { print "owner: " $0; exit 1 }
	     ($1 ~ /^[cb]/ ? $9 : $8) != 1970 { print "time: " $0; exit 1 }' "$LIST" >"$T/own" ||
		{ bad ownership "an entry not 0:0 at time 0" "$T/own"; return; }
	ok ownership
}

t_runs_in_initramfs() {
	# vessel (with the shared libraries it needs), busybox and e2fsck run
	# from the unpacked initramfs alone.
	[ "$(id -u)" = 0 ] || { skipped runs_in_initramfs "needs root (chroot)"; return; }
	local r=$T/root
	mkdir -p "$r"
	(cd "$r" && zcat "$T/dir1/initrd.img" | cpio -id --quiet 2>/dev/null)
	# /proc as init mounts it (an ASan build's leak checker needs it too).
	mount -t proc proc "$r/proc" || { bad runs_in_initramfs "mount proc"; return; }
	in_root "$r"
	umount "$r/proc"
}

in_root() {
	local r=$1
	chroot "$r" /init version >"$T/chroot" 2>&1 || { bad runs_in_initramfs "/init version" "$T/chroot"; return; }
	chroot "$r" /bin/vessel check /etc/vessel/guests/20-ct.yaml >"$T/chroot" 2>&1 ||
		{ bad runs_in_initramfs "vessel check inside" "$T/chroot"; return; }
	chroot "$r" /bin/sh -c 'ls /etc/vessel/guests && readlink /etc/vessel/guests/vm/disk.img' >"$T/chroot" 2>&1 &&
		grep -qx '/data/guests/vm/disk.img' "$T/chroot" || { bad runs_in_initramfs "busybox sh" "$T/chroot"; return; }
	chroot "$r" /sbin/e2fsck -V >"$T/chroot" 2>&1 || { bad runs_in_initramfs "e2fsck -V" "$T/chroot"; return; }
	ok runs_in_initramfs
}

t_gpt() {
	[ -f "$T/disk1.img" ] || { bad gpt "no image"; return; }
	sgdisk -p "$T/disk1.img" >"$T/gpt" 2>&1 || { bad gpt "sgdisk -p failed" "$T/gpt"; return; }
	sgdisk -v "$T/disk1.img" >"$T/gptv" 2>&1 && grep -q 'No problems found' "$T/gptv" || { bad gpt "sgdisk -v" "$T/gptv"; return; }
	local n
	n=$(grep -cE '^ +[0-9]+ +[0-9]+ +[0-9]+' "$T/gpt")
	[ "$n" = 2 ] || { bad gpt "$n partitions, want 2" "$T/gpt"; return; }
	grep -qE '^ +1 .* EF00 +EFI System Partition$' "$T/gpt" || { bad gpt "partition 1 is not the ESP" "$T/gpt"; return; }
	grep -qE '^ +2 .* 8300 +vessel-data$' "$T/gpt" || { bad gpt "partition 2 is not vessel-data" "$T/gpt"; return; }
	ok gpt
}

# part N IMG OUT: extract partition N.
part() {
	local start end
	read -r start end < <(sgdisk -i "$1" "$2" | awk '/^First sector/ { s = $3 } /^Last sector/ { e = $3 } END { print s, e }')
	dd if="$2" of="$3" bs=512 skip="$start" count=$((end - start + 1)) status=none
}

t_esp() {
	[ -f "$T/disk1.img" ] || { bad esp "no image"; return; }
	part 1 "$T/disk1.img" "$T/esp.img"
	mdir -i "$T/esp.img" ::/EFI/BOOT >"$T/mdir" 2>&1 && grep -q 'BOOTX64  EFI' "$T/mdir" || { bad esp "no EFI/BOOT/BOOTX64.EFI" "$T/mdir"; return; }
	mcopy -n -i "$T/esp.img" ::/EFI/BOOT/BOOTX64.EFI "$T/uki.efi" 2>"$T/mcopy" || { bad esp "mcopy" "$T/mcopy"; return; }
	ok esp
}

t_uki() {
	[ -f "$T/uki.efi" ] || { bad uki "no UKI (esp failed)"; return; }
	objdump -h "$T/uki.efi" >"$T/sections" 2>&1 || { bad uki "objdump" "$T/sections"; return; }
	local s
	for s in .osrel .cmdline .linux .initrd; do
		grep -q " $s " "$T/sections" || { bad uki "no $s section" "$T/sections"; return; }
	done
	objcopy -O binary --only-section=.cmdline "$T/uki.efi" "$T/uki.cmdline"
	[ "$(tr -d '\0' <"$T/uki.cmdline")" = "console=ttyS0 panic=10" ] || { bad uki "cmdline '$(cat "$T/uki.cmdline")'"; return; }
	objcopy -O binary --only-section=.linux "$T/uki.efi" "$T/uki.linux"
	cmp -s "$T/uki.linux" "$KERNEL" || { bad uki ".linux is not the kernel"; return; }
	objcopy -O binary --only-section=.initrd "$T/uki.efi" "$T/uki.initrd"
	cmp -s "$T/uki.initrd" "$T/dir1/initrd.img" || { bad uki ".initrd is not the initramfs"; return; }
	ok uki
}

t_data_fs() {
	[ -f "$T/disk1.img" ] || { bad data_fs "no image"; return; }
	part 2 "$T/disk1.img" "$T/data.img"
	dumpe2fs -h "$T/data.img" 2>/dev/null | grep -qE '^Filesystem volume name: +vessel-data$' || { bad data_fs "label is not vessel-data"; return; }
	debugfs -R 'ls guests/vm' "$T/data.img" >"$T/ls" 2>&1 && grep -q 'disk.img' "$T/ls" || { bad data_fs "no guests/vm/disk.img" "$T/ls"; return; }
	debugfs -R "dump guests/vm/disk.img $T/disk.out" "$T/data.img" >/dev/null 2>&1
	cmp -s "$T/disk.out" "$A/guests/vm/disk.img" || { bad data_fs "disk.img differs from the guest's"; return; }
	e2fsck -fn "$T/data.img" >"$T/fsck" 2>&1 || { bad data_fs "e2fsck" "$T/fsck"; return; }
	local size
	size=$(($(sgdisk -i 2 "$T/disk1.img" | awk '/^Partition size/ { print $3 }') * 512))
	[ "$size" = $((64 << 20)) ] || { bad data_fs "partition is $size bytes, want 64M"; return; }
	ok data_fs
}

t_kernel_initrd() {
	[ -d "$T/dir1" ] || { bad kernel_initrd "no output" "$T/dir1.err"; return; }
	cmp -s "$T/dir1/vmlinuz" "$KERNEL" || { bad kernel_initrd "vmlinuz is not the kernel"; return; }
	[ "$(cat "$T/dir1/cmdline")" = "console=ttyS0 panic=10" ] || { bad kernel_initrd "cmdline '$(cat "$T/dir1/cmdline")'"; return; }
	dumpe2fs -h "$T/dir1/data.img" 2>/dev/null | grep -qE '^Filesystem volume name: +vessel-data$' || { bad kernel_initrd "data.img label"; return; }
	debugfs -R 'ls guests/vm' "$T/dir1/data.img" 2>/dev/null | grep -q disk.img || { bad kernel_initrd "data.img lacks guests/vm/disk.img"; return; }
	[ "$(ls "$T/dir1" | tr '\n' ' ')" = "cmdline data.img initrd.img vmlinuz " ] || { bad kernel_initrd "files: $(ls "$T/dir1")"; return; }
	# Without data: no data.img (and no VM disk, which would need it).
	fixture "$T/nodata"
	sed -i '/^data:/d' "$T/nodata/host.yaml"
	rm "$T/nodata/guests/10-vm.yaml"
	build nodata "$T/nodata" -o "$T/nodata.out.d" --format kernel+initrd || { bad kernel_initrd "no-data build failed" "$T/nodata.err"; return; }
	[ ! -e "$T/nodata.out.d/data.img" ] || { bad kernel_initrd "data.img without data:"; return; }
	build nodatadisk "$T/nodata" -o "$T/nodata.img" || { bad kernel_initrd "no-data disk build failed" "$T/nodatadisk.err"; return; }
	[ "$(sgdisk -p "$T/nodata.img" | grep -cE '^ +[0-9]+ +[0-9]+ +[0-9]+')" = 1 ] || { bad kernel_initrd "no-data disk has not 1 partition"; return; }
	ok kernel_initrd
}

t_source_date_epoch() {
	SOURCE_DATE_EPOCH=1700000000 build sde "$A" -o "$T/sde" --format kernel+initrd || { bad source_date_epoch "build failed" "$T/sde.err"; return; }
	zcat "$T/sde/initrd.img" | cpio -itv --quiet 2>/dev/null | grep -q ' 2023 init -> bin/vessel' ||
		{ bad source_date_epoch "mtime is not 2023"; return; }
	ok source_date_epoch
}

# fails NAME STATUS REGEX ARGS...: the build exits STATUS, its message
# matches REGEX, and nothing is at the output (nor a work directory).
fails() {
	local name=$1 want=$2 re=$3
	shift 3
	local out=$T/$name.fail.img
	build "$name" "$@" -o "$out"
	local rc=$?
	[ "$rc" = "$want" ] || { bad "$name" "exit $rc, want $want" "$T/$name.err"; return 1; }
	grep -qE -- "$re" "$T/$name.err" || { bad "$name" "message does not match '$re'" "$T/$name.err"; return 1; }
	[ ! -e "$out" ] || { bad "$name" "$out was left behind"; return 1; }
	if ls -a "$T" | grep -q "^\.$name\.fail\.img\.tmp"; then bad "$name" "work directory left behind"; return 1; fi
	return 0
}

t_bad_guest() {
	fixture "$T/bg"
	printf 'name: bad\nmemory: 256M\nkernel: vm/vmlinuz\nvcpus: lots\n' >"$T/bg/guests/30-bad.yaml"
	fails bad_guest 2 "^vessel: $T/bg/guests/30-bad.yaml:4:[0-9]+: vcpus: " "$T/bg" || return
	# The same message as vessel check prints.
	"$VESSEL" check "$T/bg/guests/30-bad.yaml" 2>"$T/check.err" >/dev/null
	cmp -s "$T/check.err" "$T/bad_guest.err" || { bad bad_guest "not vessel check's message" "$T/check.err"; return; }
	ok bad_guest
}

t_missing_file() {
	fixture "$T/mf"
	rm "$T/mf/guests/vm/initrd.img"
	fails missing_file 2 "10-vm.yaml:[0-9]+:[0-9]+: initrd: no such file 'vm/initrd.img'" "$T/mf" || return
	fixture "$T/mf2"
	rm -r "$T/mf2/guests/ct/rootfs"
	fails missing_file 2 "20-ct.yaml:[0-9]+:[0-9]+: rootfs: .*ct/rootfs" "$T/mf2" || return
	ok missing_file
}

t_missing_module() {
	fixture "$T/mm"
	echo 'modules: [no_such_module]' >>"$T/mm/host.yaml"
	fails missing_module 2 "kernel $KVERSION \\($KERNEL\\) has no module no_such_module" "$T/mm" || return
	# A module directory whose modules.dep lacks kvm.
	mkdir -p "$T/moddir"
	grep -v 'kvm' "$MODDIR/modules.dep" >"$T/moddir/modules.dep"
	"$VESSEL" image build "$A" -o "$T/mm2.img" --kernel "$KERNEL" --moddir "$T/moddir" >/dev/null 2>"$T/mm2.err"
	local rc=$?
	[ "$rc" = 2 ] && grep -q "has no module kvm " "$T/mm2.err" && [ ! -e "$T/mm2.img" ] ||
		{ bad missing_module "moddir without kvm: exit $rc" "$T/mm2.err"; return; }
	ok missing_module
}

t_no_data() {
	fixture "$T/nd"
	sed -i '/^data:/d' "$T/nd/host.yaml"
	fails no_data 2 "10-vm.yaml: disk '.*vm/disk.img' goes on the data partition, but .*host.yaml has no data:" "$T/nd" || return
	ok no_data
}

t_data_too_small() {
	fixture "$T/ds"
	sed -i 's/^data: .*/data: {size: 32M}/' "$T/ds/host.yaml"
	dd if=/dev/zero of="$T/ds/guests/vm/disk.img" bs=1M count=24 status=none
	fails data_too_small 2 "host.yaml: data: 32 MiB is too small for the guests' disks \\(24 MiB\\)" "$T/ds" || return
	ok data_too_small
}

t_bad_host_yaml() {
	fixture "$T/bh"
	echo 'colour: blue' >>"$T/bh/host.yaml"
	fails bad_host_yaml 2 "host.yaml:[0-9]+: .*colour" "$T/bh" || return
	rm "$T/bh/host.yaml"
	fails bad_host_yaml 2 "host.yaml" "$T/bh" || return
	ok bad_host_yaml
}

t_missing_kernel() {
	"$VESSEL" image build "$A" -o "$T/mk.img" --kernel "$T/nope" --moddir "$MODDIR" >/dev/null 2>"$T/mk.err"
	local rc=$?
	[ "$rc" = 2 ] && grep -q "kernel '$T/nope': No such file" "$T/mk.err" && [ ! -e "$T/mk.img" ] ||
		{ bad missing_kernel "exit $rc" "$T/mk.err"; return; }
	ok missing_kernel
}

t_host_failure() {
	# The output's directory does not exist: a host-side failure.
	build hf "$A" -o "$T/no/such/dir/x.img"
	local rc=$?
	[ "$rc" = 1 ] && grep -q "$T/no/such/dir" "$T/hf.err" || { bad host_failure "exit $rc, want 1" "$T/hf.err"; return; }
	ok host_failure
}

t_old_output_kept() {
	# A failed build leaves a previous image alone.
	[ -f "$T/disk1.img" ] || { bad old_output_kept "no image"; return; }
	cp "$T/disk1.img" "$T/keep.img"
	fixture "$T/ok"
	echo 'modules: [no_such_module]' >>"$T/ok/host.yaml"
	build keep "$T/ok" -o "$T/keep.img"
	[ $? = 2 ] && cmp -s "$T/keep.img" "$T/disk1.img" || { bad old_output_kept "changed" "$T/keep.err"; return; }
	# A successful one replaces it (a directory output too).
	build keep2 "$A" -o "$T/dir1" --format kernel+initrd && [ -f "$T/dir1/initrd.img" ] &&
		! ls -a "$T" | grep -q '^dir1\.old' || { bad old_output_kept "rebuilding over a directory" "$T/keep2.err"; return; }
	ok old_output_kept
}

if [ $# -gt 0 ]; then TESTS="$*"; else TESTS=$ALL_TESTS; fi
for t in $TESTS; do "t_$t"; done
sed -n 's/^\(image\|initramfs\|initramfs (uncompressed)\|EFI system partition\): /size \1: /p' "$T/disk1.out"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

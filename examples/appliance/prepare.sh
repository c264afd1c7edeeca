#!/usr/bin/env bash
# Makes the example appliance's generated assets under guests/ (git-ignored):
#   guests/vm1/vmlinuz      a copy of Debian's kernel (tests/harness/fetch-kernel.sh;
#                           VESSEL_CACHE=/work/cache shares an already fetched one)
#   guests/vm1/initrd.img   busybox initramfs with src/vm1-init.sh as /init and the
#                           virtio, ext4, ACPI button and evdev modules
#   guests/vm1/disk.img     8 MiB ext4, empty (vm1 writes its token on first boot)
#   guests/rootfs/          busybox root filesystem of the containers ct1 and crashy
# Each is made only when missing or older than its source; --fresh makes the
# disk again (a new token on the next first boot). Then:
#   vessel image build examples/appliance -o edge.img
#   examples/appliance/prepare.sh [--fresh]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
guests=$here/guests
fresh=0
case ${1:-} in
'') ;;
--fresh) fresh=1 ;;
*) echo "usage: $0 [--fresh]" >&2; exit 2 ;;
esac
PATH=$PATH:/sbin:/usr/sbin

eval "$("$repo/tests/harness/fetch-kernel.sh")"
mkdir -p "$guests/vm1"

# The VM's kernel: a copy, so that the appliance image carries it.
if ! cmp -s "$KERNEL" "$guests/vm1/vmlinuz"; then
	cp "$KERNEL" "$guests/vm1/vmlinuz.tmp"
	mv "$guests/vm1/vmlinuz.tmp" "$guests/vm1/vmlinuz"
fi

initrd=$guests/vm1/initrd.img
if [ ! -s "$initrd" ] || [ "$here/src/vm1-init.sh" -nt "$initrd" ] || [ "$0" -nt "$initrd" ] ||
	[ "$KERNEL" -nt "$initrd" ]; then
	"$repo/tests/harness/mkinitramfs.sh" "$initrd" --init "$here/src/vm1-init.sh" \
		--moddir "$MODDIR" \
		--modules "virtio_pci virtio_blk virtio_net crc32c_generic ext4 button evdev"
fi

# vm1's disk: an empty ext4 filesystem, with a fixed UUID, hash seed and
# time so that the same script makes the same bytes.
disk=$guests/vm1/disk.img
if [ $fresh = 1 ] || [ ! -s "$disk" ]; then
	rm -f "$disk.tmp"
	truncate -s 8M "$disk.tmp"
	E2FSPROGS_FAKE_TIME=1 mkfs.ext4 -q -F -L vm1-data \
		-U 6d9a0a4c-1b5e-4c1e-9a71-0e5d9f0b0001 \
		-E hash_seed=6d9a0a4c-1b5e-4c1e-9a71-0e5d9f0b0002 "$disk.tmp"
	mv "$disk.tmp" "$disk"
fi

# The containers' root filesystem: busybox and its applets.
rootfs=$guests/rootfs
if [ ! -x "$rootfs/bin/busybox" ] || ! cmp -s /bin/busybox "$rootfs/bin/busybox"; then
	file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
		{ echo "prepare.sh: /bin/busybox is not static: apt-get install busybox-static" >&2; exit 1; }
	rm -rf "$rootfs"
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root}
	chmod 1777 "$rootfs/tmp"
	cp /bin/busybox "$rootfs/bin/busybox"
	while read -r applet; do
		if [ -z "$applet" ] || [ -e "$rootfs/$applet" ]; then continue; fi
		ln -s /bin/busybox "$rootfs/$applet"
	done < <(/bin/busybox --list-full)
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\n' >"$rootfs/etc/group"
fi
echo "prepare.sh: $(du -sh "$guests" | cut -f1) in $guests"

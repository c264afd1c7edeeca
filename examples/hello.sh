#!/usr/bin/env bash
# Prepares examples/images/ (Debian's kernel, a busybox initramfs with the
# virtio modules, and a small ext4 disk image) and boots an example:
# examples/hello.yaml by default. Where /dev/kvm is not hardware-backed (no
# kvm_intel/kvm_amd), the guest boots inside the nested KVM host the tests
# use, with the console still on this terminal.
#   examples/hello.sh [NAME]          prepare and boot examples/NAME.yaml
#                                     (hello, or disk-net: one disk and one
#                                     NIC; that one needs root for its tap)
#   examples/hello.sh --prepare       only prepare the images
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
images=$here/images
mkdir -p "$images"

eval "$("$repo/tests/harness/fetch-kernel.sh")"
ln -sf "$KERNEL" "$images/vmlinuz"
if [ ! -s "$images/hello-initrd.img" ] || [ "$here/hello-init.sh" -nt "$images/hello-initrd.img" ] ||
	[ "$0" -nt "$images/hello-initrd.img" ]; then
	"$repo/tests/harness/mkinitramfs.sh" "$images/hello-initrd.img" \
		--init "$here/hello-init.sh" --moddir "$MODDIR" \
		--modules "virtio_pci virtio_blk virtio_net virtio_rng crc32c_generic ext4"
fi
# The disk of disk-net.yaml: 16 MiB of ext4 holding a greeting.
if [ ! -s "$images/hello-disk.img" ]; then
	command -v mkfs.ext4 >/dev/null || PATH=$PATH:/sbin:/usr/sbin
	tree=$(mktemp -d)
	echo "Hello from the ext4 disk examples/images/hello-disk.img, read through virtio-blk." >"$tree/hello.txt"
	truncate -s 16M "$images/hello-disk.img.tmp"
	mkfs.ext4 -q -F -L hello -d "$tree" "$images/hello-disk.img.tmp"
	rm -rf "$tree"
	mv "$images/hello-disk.img.tmp" "$images/hello-disk.img"
fi
[ "${1:-}" = --prepare ] && exit 0

# Inside the nested host there is no terminal: the same guest, told by its
# cmdline to run a few commands itself and power off.
if [ "${1:-}" = --inside ]; then
	name=${2:-hello}
	sed -e "s|^kernel: .*|kernel: $images/vmlinuz|" \
	    -e "s|^initrd: .*|initrd: $images/hello-initrd.img|" \
	    -e "s|^  - path: images/|  - path: $images/|" \
	    -e "s|^cmdline: \(.*\)|cmdline: \1 vessel_demo|" \
	    "$here/$name.yaml" >"$images/$name-demo.yaml"
	exec "$repo/vessel" run "$images/$name-demo.yaml" </dev/null
fi

name=${1:-hello}
[ -f "$here/$name.yaml" ] || { echo "hello: no such example: examples/$name.yaml" >&2; exit 2; }
if [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
	exec "$repo/vessel" run "$here/$name.yaml"
fi
echo "hello: /dev/kvm is not hardware-backed here; booting inside the nested KVM host (~1 min)." >&2
echo "hello: there the console is not interactive: the guest runs a few commands itself." >&2
exec "$repo/tests/harness/nested-host.sh" "$here/hello.sh" --inside "$name"

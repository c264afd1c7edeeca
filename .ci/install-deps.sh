#!/usr/bin/env bash
# Installs what vessel needs to build and to run its tests, on Debian 12.
# Used by `make deps` and by CI. Idempotent; needs root (or sudo).
set -euo pipefail
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PKGS=(
	build-essential pkg-config
	libyaml-dev zlib1g-dev libaio-dev libfdt-dev libseccomp-dev  # build
	libjson-c-dev                                                # build: control protocol
	liblzma-dev libzstd-dev liblz4-dev                           # build: kernel cache (bzImage payloads)
	libcmocka-dev                                               # unit tests
	busybox-static cpio gzip kmod                                # guest initramfs images
	qemu-system-x86                                              # nested KVM host for kernel tests
	iproute2 iputils-ping procps e2fsprogs debootstrap           # container and disk tests
	attr                                                         # backup-test: xattrs (getfattr, setfattr)
	clang libclang-rt-14-dev zstd lz4                            # make fuzz (libFuzzer; zstd, lz4: seeds)
	podman conmon containerd                                     # oci-test: podman and ctr with vessel-runc
	e2fsck-static socat                                          # appliance-init-test: e2fsck in the image, QMP
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

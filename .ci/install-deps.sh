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
	binutils systemd-boot-efi mtools dosfstools gdisk e2fsck-static  # vessel image build (and its test)
	ovmf socat                                                   # appliance-boot-test: UEFI firmware, QMP socket
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

# QEMU 10 from bookworm-backports for the nested KVM host, on request
# (VESSEL_QEMU_BACKPORTS=1). Debian 12's QEMU 7.2 keeps running a stale
# translation of an int3 after another vCPU has live-patched the code
# under multi-threaded TCG (issue #11; tests/harness/README.md, "Stale
# code after live patching"); 10 does not, but on this project's machines
# its nested guests stalled (2 of 2 integration runs), so 7.2 stays the
# default.
qemu_major() {
	dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null | sed 's/^[0-9]*://; s/\..*//; s/[^0-9].*//'
}
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "${VESSEL_QEMU_BACKPORTS:-0}" = 1 ] && [ "$codename" = bookworm ] && [ "$(qemu_major)" -lt 8 ]; then
	export DEBIAN_FRONTEND=noninteractive
	if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "deb http://deb.debian.org/debian bookworm-backports main" |
			$SUDO tee /etc/apt/sources.list.d/vessel-bookworm-backports.list >/dev/null
	fi
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends qemu-system-x86/bookworm-backports \
		qemu-system-common/bookworm-backports qemu-system-data/bookworm-backports
	[ "$(qemu_major)" -ge 8 ] || {
		echo "install-deps: qemu-system-x86 is still $(dpkg-query -W -f='${Version}' qemu-system-x86) after installing it from bookworm-backports" >&2
		exit 1
	}
fi

#!/usr/bin/env bash
# systemd-vm-image.sh: prints the path of an ext4 root disk image for a VM
# that boots Debian bookworm with systemd (test_15), building it once and
# caching it in $CACHE/systemd-vm (CACHE: see tests/harness/lib.sh).
#
# Made without mounting anything: the rootfs tarball of
# tests/container/debian-rootfs.sh (minbase + systemd, systemd-sysv, dbus)
# is unpacked into a scratch directory and `mkfs.ext4 -d` copies it into a
# 1 GiB sparse image. What the VM boot needs on top (the tarball is also the
# container tests' image, so it stays as it is):
#   * /etc/machine-id set: an empty one means "first boot", and
#     systemd-firstboot would then prompt on the console for a locale;
#   * the gettys masked: the image has no udev, so dev-ttyS0.device never
#     appears (serial-getty@ttyS0 would wait for it), and nothing logs in;
#   * no fstab entry for the root: the initramfs mounts /dev/vda read-write,
#     and an fstab line for it would make systemd wait for the (udev-less)
#     dev-vda.device before fsck;
#   * vessel-test.service (WantedBy= and After=multi-user.target), which
#     runs /usr/local/sbin/vessel-test-booted once the system is up. That
#     script prints VESSEL-SYSTEMD-BOOTED with the boot's kernel, uptime,
#     the monotonic time multi-user.target was reached, the system state and
#     the failed units to /dev/console; writes the token given as
#     vessel_systemd_token=TOKEN on the kernel command line to
#     /var/lib/vessel-test/booted (synced); then `systemctl poweroff`.
# The cache key covers this script and the tarball (name, size, mtime):
# editing either builds a new image. Needs root (the tarball holds files
# owned by other users and device nodes).
#
# Exit status: 0 (path on stdout); 2 when there is no Debian rootfs and no
# way to build one (debian-rootfs.sh's 2: the mirror cannot be reached), so
# the caller skips; 1 on any other failure (stderr says why).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/../harness/lib.sh"

msg() { echo "systemd-vm-image: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { msg "needs root (unpacking the rootfs tarball)"; exit 1; }
for c in mkfs.ext4 tar gzip flock; do
	command -v "$c" >/dev/null 2>&1 || { msg "missing $c"; exit 1; }
done

tarball=$("$REPO/tests/container/debian-rootfs.sh")
st=$?
case $st in
0) ;;
2) msg "no Debian rootfs tarball (debian-rootfs.sh: the mirror cannot be reached)"; exit 2 ;;
*) msg "debian-rootfs.sh failed with status $st"; exit 1 ;;
esac
[ -s "$tarball" ] || { msg "debian-rootfs.sh printed '$tarball', which is missing or empty"; exit 1; }

key=$({
	cat "$0"
	stat -L -c '%n %s %Y' "$tarball"
} | sha256sum | cut -c1-16)
dir=$CACHE/systemd-vm
out=$dir/root-$key.ext4
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$dir" || { msg "cannot create $dir"; exit 1; }
# One builder at a time; a second caller waits and then finds the image.
exec 9>"$dir/.build.lock"
flock -w 600 9 || { msg "timed out waiting for another build in $dir"; exit 1; }
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

# Built on the scratch filesystem (tmpfs inside the nested test host, where
# the cache is a slow 9p share), then copied into the cache.
work=$(mktemp -d "${TMPDIR:-/tmp}/systemd-vm-image.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
root=$work/root
t0=$(now_ms)
mkdir "$root"
run_timeout 600 tar --numeric-owner -xzf "$tarball" -C "$root" ||
	{ msg "unpacking $tarball failed"; exit 1; }
[ -x "$root/lib/systemd/systemd" ] || { msg "$tarball has no /lib/systemd/systemd"; exit 1; }

# Documentation and translations: a third of the tree, unused here.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
	"$root"/usr/share/info/*
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
echo >>"$root/etc/machine-id"
echo vessel-systemd >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vessel-systemd\n' >"$root/etc/hosts"
printf '# the root (/dev/vda) is mounted read-write by the initramfs\n' >"$root/etc/fstab"
for u in getty@.service serial-getty@.service console-getty.service \
	container-getty@.service systemd-firstboot.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

mkdir -p "$root/usr/local/sbin" "$root/etc/systemd/system/multi-user.target.wants"
cat >"$root/etc/systemd/system/vessel-test.service" <<'UNIT'
[Unit]
Description=vessel test: report the boot, record it on disk, power off
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vessel-test-booted
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/vessel-test.service \
	"$root/etc/systemd/system/multi-user.target.wants/vessel-test.service"

cat >"$root/usr/local/sbin/vessel-test-booted" <<'SCRIPT'
#!/bin/sh
# Run by vessel-test.service once multi-user.target is reached.
token=missing
for arg in $(cat /proc/cmdline); do
	case $arg in vessel_systemd_token=*) token=${arg#*=} ;; esac
done
up=$(cut -d' ' -f1 /proc/uptime)
mu=$(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target)
us=$(systemctl show -P UserspaceTimestampMonotonic)
state=$(systemctl is-system-running 2>/dev/null)
failed=$(systemctl list-units --state=failed --no-legend --plain 2>/dev/null |
	awk '{ print $1 }' | paste -sd, -)
mkdir -p /var/lib/vessel-test
printf '%s\n' "$token" >/var/lib/vessel-test/booted
sync
echo "VESSEL-SYSTEMD-BOOTED token=$token kernel=$(uname -r) pid1=$(cat /proc/1/comm)" \
	"uptime=$up userspace_us=$us multi_user_us=$mu state=$state failed=${failed:-none}" >/dev/console
echo "VESSEL-SYSTEMD-POWEROFF" >/dev/console
systemctl --no-block poweroff
SCRIPT
chmod 755 "$root/usr/local/sbin/vessel-test-booted"

truncate -s 1G "$work/root.ext4"
run_timeout 600 mkfs.ext4 -q -F -L vessel-root -d "$root" "$work/root.ext4" ||
	{ msg "mkfs.ext4 -d failed"; exit 1; }
if ! { cp --sparse=always "$work/root.ext4" "$out.tmp" && mv -f "$out.tmp" "$out"; }; then
	rm -f "$out.tmp"
	msg "copying the image to $out failed"
	exit 1
fi
find "$dir" -maxdepth 1 -name 'root-*.ext4' ! -name "root-$key.ext4" -delete 2>/dev/null || true
msg "built $out from $(basename "$tarball") in $(($(now_ms) - t0)) ms ($(du -h "$out" | cut -f1) used)"
echo "$out"

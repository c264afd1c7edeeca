#!/usr/bin/env bash
# Debian with systemd on a virtio-blk root disk: the image of
# systemd-vm-image.sh (debootstrap'd bookworm minbase + systemd, dbus; a
# unit ordered after multi-user.target that reports the boot, writes the
# token from the kernel cmdline to /var/lib/vessel-test/booted and runs
# `systemctl poweroff`), copied to an ext4 scratch filesystem and attached
# with cache: none (O_DIRECT + libaio, checked in /proc/PID/fdinfo). The
# initramfs (the virtio one, /init replaced by systemd-vm-init.sh) loads
# virtio_pci, virtio_blk and ext4, mounts /dev/vda and switch_roots to
# systemd. 2 vCPUs, 1 GiB.
# Asserts: the console shows systemd reaching multi-user.target and the
# unit's marker (PID 1 is systemd, the token and kernel are this boot's,
# no unit failed);
# systemd's poweroff makes vessel exit 0; then on the host the image holds
# the token file (debugfs) and e2fsck -fn finds it clean.
# Skips when there is no Debian rootfs tarball and no way to build one
# (tests/container/debian-rootfs.sh exits 2: no network to the mirror).
# SYSTEMD_VM_TIMEOUT: seconds the VM may take (default VM_TIMEOUT).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

vm_secs=${SYSTEMD_VM_TIMEOUT:-$VM_TIMEOUT}
[ "$(id -u)" -eq 0 ] || skip "needs root (unpacking the rootfs, a loop mount)"
ensure_cmds e2fsprogs:debugfs e2fsprogs:e2fsck e2fsprogs:mkfs.ext4 cpio:cpio

t0=$(now_ms)
st=0
src=$(run_timeout 900 "$INTEG_DIR/systemd-vm-image.sh" 2>"$T/image.err") || st=$?
case $st in
0) ;;
2) skip "no Debian rootfs: $(tail -n1 "$T/image.err")" ;;
*) fail "building the systemd root image failed (status $st): $(tail -n 20 "$T/image.err")" ;;
esac
[ ! -s "$T/image.err" ] || info "$(tail -n1 "$T/image.err")"
host_ext4_dir "$T/fs" 512
img=$T/fs/root.ext4
cp --sparse=always "$src" "$img" || fail "copying $src to the scratch filesystem failed"
info "root image $src ($(du -h "$img" | cut -f1) used) ready after $(($(now_ms) - t0)) ms"

# The initramfs: the virtio guests' one, then a second archive with this
# test's /init and the initrd token (later files replace earlier ones).
virtio_initrd
d=$T/initrd-extra
mkdir -p "$d/etc"
cp "$INTEG_DIR/systemd-vm-init.sh" "$d/init"
chmod 755 "$d/init"
printf '%s\n' "$GUEST_TOKEN" >"$d/etc/vessel-token"
(cd "$d" && printf '%s\n' etc/vessel-token init | cpio -o -H newc -R 0:0 --quiet) |
	gzip -n >"$T/extra.cpio.gz"
cat "$VIRTIO_INITRD_PATH" "$T/extra.cpio.gz" >"$T/t15-initrd.cpio.gz"

token=$(random_token)
write_config t15 <<YAML
name: t15
vcpus: 2
memory: 1G
kernel: vmlinuz
initrd: t15-initrd.cpio.gz
cmdline: "$GUEST_CMDLINE root=/dev/vda systemd.show_status=true vessel_cmdline_token=$T_CMDTOKEN vessel_systemd_token=$token"
on_reboot: exit
disks:
  - path: fs/root.ext4
    cache: none
YAML

vm_start
wait_output '^VESSEL-SWITCH-ROOT ' 60
expect_direct_rw "$img"
wait_output 'Reached target .*Multi-User System' "$vm_secs"
wait_output '^VESSEL-SYSTEMD-BOOTED ' 60
vm_wait 90
expect_booted
expect_no_output '^VESSEL-INIT-FAILED'
expect_no_output '^VESSEL-INSMOD-FAILED='
expect_rc 0 "guest powered off (systemctl poweroff)"
expect_output 'reboot: Power down'

line=$(grep -m1 '^VESSEL-SYSTEMD-BOOTED ' "$T/console")
info "guest: $line"
# field NAME: the value of NAME=VALUE in the marker line.
field() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p" | head -n1; }
[ "$(field pid1)" = systemd ] || fail "PID 1 in the guest is '$(field pid1)', want systemd"
[ "$(field token)" = "$token" ] || fail "the unit saw token '$(field token)' on the kernel cmdline, want '$token'"
[[ $(field kernel) =~ ^[0-9]+\.[0-9]+ ]] || fail "the marker's kernel version is '$(field kernel)'"
mu=$(field multi_user_us) us=$(field userspace_us)
[[ $mu =~ ^[0-9]+$ && $mu -gt 0 ]] || fail "multi-user.target was not active when the unit ran (ActiveEnterTimestampMonotonic '$mu')"
info "guest: multi-user.target reached at uptime $(awk -v u="$mu" 'BEGIN { printf "%.2f", u / 1e6 }') s" \
	"(systemd started at $(awk -v u="$us" 'BEGIN { printf "%.2f", u / 1e6 }') s; unit ran at $(field uptime) s);" \
	"system state '$(field state)', failed units: $(field failed)"
[ "$(field failed)" = none ] || fail "units failed during the guest's boot: $(field failed)"
expect_output '^VESSEL-SYSTEMD-POWEROFF$'
# systemd's own shutdown: its units stopped, then the final power-off.
re='systemd-shutdown|Reached target .*(Power-Off|System Power Off)'
expect_output "$re"
info "guest: $(grep -m1 -E "$re" "$T/console")"

# The host's view of the root disk after the guest shut down.
out=$(e2fsck -fn "$img" 2>&1) || fail "e2fsck -fn on the root image: status $?: $out"
info "e2fsck: $(tail -n1 <<<"$out")"
got=$(debugfs -R 'cat /var/lib/vessel-test/booted' "$img" 2>"$T/debugfs.err") ||
	fail "debugfs cat failed: $(cat "$T/debugfs.err")"
[ "$got" = "$token" ] ||
	fail "/var/lib/vessel-test/booted in the image holds '$got' ($(cat "$T/debugfs.err")), want this boot's token '$token'"
info "host: /var/lib/vessel-test/booted in the image holds the token"
pass

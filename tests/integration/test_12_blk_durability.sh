#!/usr/bin/env bash
# A write the guest has synced is in the image even if vessel dies right
# after: the guest writes a token to /dev/vda (cache: none, on an ext4
# scratch filesystem: O_DIRECT + libaio) and another to /dev/vdb (cache:
# writeback, on tmpfs), each with dd conv=fsync at a known offset, then prints
# VT-SYNCED and idles; the test SIGKILLs vessel as soon as it sees that line
# (status 137), and finds both tokens in the image files. Also checks that
# vessel's descriptor on vda's image is O_DIRECT and on vdb's is not.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

host_ext4_dir "$T/fs" 256
img_a=$T/fs/a.img img_b=$T/b.img
truncate -s 64M "$img_a"
truncate -s 64M "$img_b"
tok_a="VESSEL-DURABLE-A-$(random_token)"
tok_b="VESSEL-DURABLE-B-$(random_token)"
# 4 KiB blocks at 40 MiB + 12 KiB (vda) and 17 MiB + 4 KiB (vdb).
off_a=$(((40 << 20) + (12 << 10))) off_b=$(((17 << 20) + (4 << 10)))

virtio_guest t12 <<SH
vt_wait_dev /dev/vda
vt_wait_dev /dev/vdb
echo "VT-DEVICES-READY"
read -r go
printf '%s\n' "$tok_a" | dd of=/dev/vda bs=4096 seek=$((off_a / 4096)) conv=fsync 2>/dev/null
printf '%s\n' "$tok_b" | dd of=/dev/vdb bs=4096 seek=$((off_b / 4096)) conv=fsync 2>/dev/null
echo "VT-SYNCED"
sleep 600
SH
virtio_config t12 256M <<'YAML'
disks:
  - path: fs/a.img
    cache: none
  - path: b.img
    cache: writeback
YAML

vm_start
wait_output '^VT-DEVICES-READY$'
flags_a=$(vm_fd_flags "$img_a") flags_b=$(vm_fd_flags "$img_b")
info "vessel's descriptors: a.img flags '$flags_a', b.img flags '$flags_b'"
{ [ -n "$flags_a" ] && [ -n "$flags_b" ]; } || vfail "vessel has no descriptor open on one of the images"
for f in $flags_a; do ((8#$f & 8#40000)) || vfail "cache: none on ext4, yet a.img is not open O_DIRECT (flags $f)"; done
for f in $flags_b; do ((!(8#$f & 8#40000))) || vfail "cache: writeback, yet b.img is open O_DIRECT (flags $f)"; done
vm_send "go"
wait_output '^VT-SYNCED$' 60
vm_signal KILL
t_kill=$(now_ms)
vm_wait 20
info "SIGKILL sent $((t_kill - VM_T0)) ms after start"
expect_rc 137 "SIGKILL"
expect_booted
expect_output '^VT-DEVICES-READY$'

got_a=$(image_bytes "$img_a" "$off_a" ${#tok_a})
got_b=$(image_bytes "$img_b" "$off_b" ${#tok_b})
info "a.img at $off_a: '$got_a'; b.img at $off_b: '$got_b'"
[ "$got_a" = "$tok_a" ] || vfail "vda (cache: none): the synced token is not in the image after SIGKILL (found '$got_a' at $off_a)"
[ "$got_b" = "$tok_b" ] || vfail "vdb (cache: writeback): the synced token is not in the image after SIGKILL (found '$got_b' at $off_b)"
pass

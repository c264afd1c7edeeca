#!/usr/bin/env bash
# The kernel cache and the boot timeline, with Debian's stock bzImage (an xz
# payload): an uncached boot (kernel_cache: false) and cached boots (a miss
# that fills the cache, then a hit with the bzImage's key remembered, not
# hashed again) all reach userspace; a corrupted entry
# is rebuilt (vessel says so, the guest still boots, the next boot hits
# again); a kernel without a PVH note boots from the cache through the
# 64-bit boot protocol; `vessel run --timings` prints every milestone, in
# order. The
# guest's /init is reached through a marker (rdinit=) that writes to port
# 0x80 first, so the timeline's last milestone is "launch -> /init".
# test-timeout: 420
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export VESSEL_KERNEL_CACHE=$T/kcache

# The marker: a second cpio archive with /mark-init, appended to the initrd.
mkdir -p "$T/mark"
cat >"$T/mark/mark-init" <<'SH'
#!/bin/sh
/bin/mknod /port c 1 4 && printf '\001' | /bin/dd of=/port bs=1 seek=128 2>/dev/null
exec /init
SH
chmod 755 "$T/mark/mark-init"
(cd "$T/mark" && echo mark-init | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$T/mark.cpio.gz"
cat "$GUEST_INITRD" "$T/mark.cpio.gz" >"$T/initrd-mark.cpio.gz"

# config NAME CACHE: the poweroff guest, kernel_cache: CACHE, marker init.
config() {
	guest_config "$1" 1 256M poweroff exit "rdinit=/mark-init"
	sed -i 's/^initrd: .*/initrd: initrd-mark.cpio.gz/' "$CFG"
	echo "kernel_cache: $2" >>"$CFG"
}

# boot NAME CACHE [keep]: run it (keep: the config already made) with --timings; it must reach userspace and power
# off. The timeline is left in $T/timings.
boot() {
	[ "${3:-}" = keep ] || config "$1" "$2"
	info "vessel run --timings $CFG (kernel_cache: $2)"
	local t0
	t0=$(now_ms)
	RC=0
	timeout -k 5 "$VM_TIMEOUT" "$VESSEL" run --timings "$CFG" </dev/null \
		>"$T/stdout" 2>"$T/stderr" || RC=$?
	_t_console
	info "vessel exited with status $RC after $(($(now_ms) - t0)) ms"
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then fail "vessel hung"; fi
	expect_booted
	expect_rc 0 "guest powered off"
	sed -n '/^vessel: boot timeline/,$p' "$T/stderr" >"$T/timings"
	[ -s "$T/timings" ] || fail "--timings printed no timeline"
	sed 's/^/#   /' "$T/timings"
}

# kernel_line REGEX: the timeline's kernel line must match REGEX.
kernel_line() {
	grep -E ' ms  kernel loaded \(' "$T/timings" | grep -qE -- "$1" ||
		fail "kernel line '$(grep 'kernel loaded' "$T/timings")' does not match '$1'"
}

# check_order: every milestone reached, the host's in order, the guest's
# (serial byte, port 0x80) after the first KVM_RUN.
check_order() {
	local names=("config parsed" "/dev/kvm opened" "memory mapped" "kernel loaded"
		"initrd loaded" "tables written" "first KVM_RUN"
		"first byte on the serial console" "guest's first write to debug port 0x80")
	local i=0 prev=0 ms run_ms=
	while IFS= read -r line; do
		case $line in vessel:*) continue ;; esac
		[ $i -lt ${#names[@]} ] || fail "timeline has more lines than milestones: $line"
		case $line in *" ms  ${names[i]}"*) ;; *) fail "timeline line $((i + 1)) is '$line', want '${names[i]}'" ;; esac
		ms=$(awk '{print $1}' <<<"$line")
		[[ $ms =~ ^[0-9]+\.[0-9]$ ]] || fail "no time on '$line'"
		if [ $i -le 6 ]; then
			awk -v a="$prev" -v b="$ms" 'BEGIN { exit !(b + 0 >= a + 0) }' ||
				fail "'${names[i]}' at $ms ms comes before the previous milestone ($prev ms)"
			prev=$ms
			run_ms=$ms
		else
			awk -v a="$run_ms" -v b="$ms" 'BEGIN { exit !(b + 0 >= a + 0) }' ||
				fail "'${names[i]}' at $ms ms comes before the first KVM_RUN ($run_ms ms)"
		fi
		i=$((i + 1))
	done <"$T/timings"
	[ $i -eq ${#names[@]} ] || fail "timeline has $i milestones, want ${#names[@]}"
	grep -q "debug port 0x80 (value 0x01)" "$T/timings" ||
		fail "the port 0x80 milestone is not the marker's write of 0x01"
}

init_ms() { grep "debug port 0x80" "$T/timings" | awk '{print $1}'; }

boot uncached false
kernel_line '^.*bzImage \(kernel_cache: false\), 64-bit entry'
check_order
uncached=$(init_ms)
[ -z "$(ls -A "$VESSEL_KERNEL_CACHE" 2>/dev/null)" ] || fail "kernel_cache: false wrote to the cache: $(ls "$VESSEL_KERNEL_CACHE")"

boot miss true
kernel_line 'cache miss: xz decompressed and stored in [0-9]+ ms.*PVH entry'
check_order
entries=("$VESSEL_KERNEL_CACHE"/*.vmlinux)
if [ ${#entries[@]} -ne 1 ] || [ ! -f "${entries[0]}" ]; then
	fail "want one cache entry, have: $(ls -la "$VESSEL_KERNEL_CACHE")"
fi
entry=${entries[0]}
want=$(sha256sum "$GUEST_KERNEL" | cut -d' ' -f1)
[ "$(basename "$entry")" = "$want.vmlinux" ] || fail "entry $(basename "$entry"), want $want.vmlinux (the bzImage's SHA-256)"
[ "$(stat -c %a "$VESSEL_KERNEL_CACHE")" = 700 ] || fail "cache dir mode $(stat -c %a "$VESSEL_KERNEL_CACHE"), want 700"
# The entry holds the payload's ELF after a 4 KiB header.
[ "$(image_bytes "$entry" 4096 4 | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || fail "no ELF at offset 4096 of the entry"
tmps=("$VESSEL_KERNEL_CACHE"/.*.tmp)
[ ! -e "${tmps[0]}" ] || fail "a temporary file was left: $(ls -A "$VESSEL_KERNEL_CACHE")"

# The bzImage's key is remembered by the file's identity (it was copied
# well over 2 s ago), so a hit skips hashing it.
memos=("$VESSEL_KERNEL_CACHE"/key-*)
[ -f "${memos[0]}" ] || fail "no remembered key after the miss: $(ls -A "$VESSEL_KERNEL_CACHE")"

boot hit true
kernel_line 'cache hit: xz ELF, key remembered, .*PVH entry'
check_order
cached=$(init_ms)

# Corrupt one byte in the middle of the ELF: the next boot must rebuild it.
size=$(stat -c %s "$entry")
printf '\x5a' | dd of="$entry" bs=1 seek=$((size / 2)) conv=notrunc status=none
boot corrupt true
kernel_line 'cache miss \(rebuilt: .*checksum mismatch\)'
grep -qE "kernel cache: .*checksum mismatch; rebuilding it" "$T/stderr" ||
	fail "vessel did not say on stderr that it rebuilt the entry"
boot rehit true
kernel_line 'cache hit: xz ELF, key remembered'

# A kernel without a PVH note: the cached ELF with its PHYS32_ENTRY note
# renamed, gzip'd into the payload slot of a copy of the bzImage (its
# decompressor is never run): booted through the 64-bit boot protocol at
# the ELF's entry, with the bzImage's setup header.
python3 - "$GUEST_KERNEL" "$entry" "$T/vmlinuz-nopvh" <<'PY' || fail "making the kernel without a PVH note failed"
import gzip, struct, sys
bz = open(sys.argv[1], 'rb').read()
elf = bytearray(open(sys.argv[2], 'rb').read()[4096:])
phoff, = struct.unpack_from('<Q', elf, 32)
phentsize, phnum = struct.unpack_from('<HH', elf, 54)
patched = 0
for i in range(phnum):
    ph = phoff + i * phentsize
    if struct.unpack_from('<I', elf, ph)[0] != 4:
        continue
    o, = struct.unpack_from('<Q', elf, ph + 8)
    end = o + struct.unpack_from('<Q', elf, ph + 32)[0]
    while o + 12 <= end:
        namesz, descsz, typ = struct.unpack_from('<III', elf, o)
        if typ == 18 and elf[o + 12:o + 15] == b'Xen':
            struct.pack_into('<I', elf, o + 8, 0x7fff)
            patched += 1
        o += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
assert patched == 1, patched
setup = ((bz[0x1f1] or 4) + 1) * 512
off = struct.unpack_from('<I', bz, 0x248)[0]
comp = gzip.compress(bytes(elf), 1)
new = bytearray(bz[:setup + off]) + comp
struct.pack_into('<I', new, 0x24c, len(comp))
open(sys.argv[3], 'wb').write(new)
PY
config nopvh true
sed -i 's/^kernel: .*/kernel: vmlinuz-nopvh/' "$CFG"
boot nopvh true keep
kernel_line 'cache miss: gzip decompressed and stored.*64-bit entry'
check_order

info "launch -> /init: uncached ${uncached} ms, cached ${cached} ms"
pass

#!/usr/bin/env bash
# Backup tests (host, no KVM): `VESSEL=/abs/vessel tests/backup/run.sh [NAME...]`.
# Drives `vessel backup` on stopped VM definitions (sparse disk images) and
# on a busybox container (stopped, and running under `vessel start`),
# checking what lands in the repository and what comes back: byte-identical
# images (cmp), trees with the same owners, modes, xattrs and hard links,
# dedup across clones, SIGKILLs at random points, a flipped byte, prune's
# rules, and the errors. Prints ok/FAIL/SKIP per test and
# "N passed, N failed, N skipped".
# shellcheck disable=SC2317,SC2015,SC2012 # t_* are called by name; A && B || fail is meant
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
VESSEL=${VESSEL:-$HERE/../../vessel}
# shellcheck source=tests/lib/report.sh
. "$(dirname "$0")/../lib/report.sh"

ALL_TESTS="help roundtrip_sparse dedup_clones incremental bitmap_incremental bitmap_untrusted errors running_vm_unreachable
no_space flipped_byte sigkill half_made concurrent prune container_stopped container_running"

T=$(mktemp -d /tmp/vessel-backup.XXXXXX)
chmod 755 "$T"
BG=''
cleanup() {
	local p
	for p in $BG; do kill -9 "$p" 2>/dev/null; done
	{ wait; } 2>/dev/null
	[ -z "${CT_NAME:-}" ] || "$VESSEL" stop --force "$CT_NAME" >/dev/null 2>&1
	mountpoint -q "$T/small" 2>/dev/null && umount "$T/small"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export VESSEL_RUN_DIR=$T/run
mkdir -m 700 "$VESSEL_RUN_DIR"
head -c 4096 /dev/urandom >"$T/kernel"

# vmdef NAME IMAGE...: a VM definition $T/NAME.yaml with these disks.
vmdef() {
	local name=$1 d
	shift
	{
		echo "kind: vm"
		echo "kernel: $T/kernel"
		echo "disks:"
		for d in "$@"; do echo "  - path: $d"; done
	} >"$T/$name.yaml"
}

# jfield FILE KEY: a field of the JSON object in FILE.
jfield() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# mkimage PATH: a 1 GiB sparse image: random extents, zero-filled extents
# (allocated), holes, and data at the very end.
mkimage() {
	truncate -s 1G "$1"
	dd if=/dev/urandom of="$1" bs=1M count=24 seek=10 conv=notrunc status=none
	dd if=/dev/zero of="$1" bs=1M count=16 seek=100 conv=notrunc status=none
	dd if=/dev/urandom of="$1" bs=4k count=3 seek=70000 conv=notrunc status=none
	printf 'end of disk' | dd of="$1" bs=1 seek=$((1024 * 1024 * 1024 - 11)) conv=notrunc status=none
}

t_help() {
	local s
	for s in "" list restore verify prune; do
		# shellcheck disable=SC2086 # empty s: the verb itself
		"$VESSEL" backup $s --help >"$T/help.out" 2>&1 || { bad help "backup $s --help failed" "$T/help.out"; return; }
		grep -q '^usage: vessel backup' "$T/help.out" || { bad help "no usage for '$s'" "$T/help.out"; return; }
	done
	ok help
}

t_roundtrip_sparse() {
	local R=$T/r1 id
	mkimage "$T/a.img"
	vmdef a "$T/a.img"
	"$VESSEL" backup --json "$T/a.yaml" "$R" >"$T/a.json" 2>"$T/a.err" || { bad roundtrip_sparse "backup failed" "$T/a.err"; return; }
	id=$(jfield "$T/a.json" id)
	# Holes unread: 24 MiB + 16 MiB + 12 KiB + 11 bytes of data extents.
	[ "$(jfield "$T/a.json" bytes_read)" -lt $((48 << 20)) ] || { bad roundtrip_sparse "read $(jfield "$T/a.json" bytes_read) bytes of a mostly sparse image"; return; }
	# Stored: 6 chunks of random data + the two small extents; no zeros.
	[ "$(jfield "$T/a.json" chunks)" -le 9 ] || { bad roundtrip_sparse "$(jfield "$T/a.json" chunks) chunks stored (zeros stored?)"; return; }
	"$VESSEL" backup restore "$R" "$id" --to "$T/a.out" >"$T/a.rlog" 2>&1 || { bad roundtrip_sparse "restore failed" "$T/a.rlog"; return; }
	cmp "$T/a.img" "$T/a.out/a.img" || { bad roundtrip_sparse "restored image differs"; return; }
	[ "$(du -k "$T/a.out/a.img" | cut -f1)" -lt $((64 * 1024)) ] || { bad roundtrip_sparse "restored image is not sparse"; return; }
	cmp -s "$T/a.yaml" "$T/a.out/definition.yaml" || { bad roundtrip_sparse "definition not restored"; return; }
	"$VESSEL" backup verify "$R" >"$T/a.v" 2>&1 || { bad roundtrip_sparse "verify not clean" "$T/a.v"; return; }
	ok roundtrip_sparse
}

t_dedup_clones() {
	local R=$T/r2 n1 n2
	mkimage "$T/base.img"
	cp --sparse=always "$T/base.img" "$T/c1.img"
	cp --sparse=always "$T/base.img" "$T/c2.img"
	dd if=/dev/urandom of="$T/c2.img" bs=1M count=2 seek=500 conv=notrunc status=none
	vmdef c1 "$T/c1.img"
	vmdef c2 "$T/c2.img"
	"$VESSEL" backup --json "$T/c1.yaml" "$R" >"$T/c1.json" 2>&1 || { bad dedup_clones "first clone failed" "$T/c1.json"; return; }
	"$VESSEL" backup --json "$T/c2.yaml" "$R" >"$T/c2.json" 2>&1 || { bad dedup_clones "second clone failed" "$T/c2.json"; return; }
	n1=$(jfield "$T/c1.json" bytes_new)
	n2=$(jfield "$T/c2.json" bytes_new)
	# The second adds only its one changed 4 MiB chunk.
	[ "$(jfield "$T/c2.json" chunks_new)" = 1 ] && [ "$n2" -le $((n1 / 5)) ] || { bad dedup_clones "second clone stored $n2 bytes ($(jfield "$T/c2.json" chunks_new) chunks), first $n1"; return; }
	ok dedup_clones
}

t_incremental() {
	local R=$T/r3 size=$((256 << 20)) n1 n2
	dd if=/dev/urandom of="$T/inc.img" bs=1M count=256 status=none
	vmdef inc "$T/inc.img"
	"$VESSEL" backup --json "$T/inc.yaml" "$R" >"$T/i1.json" 2>&1 || { bad incremental "first failed" "$T/i1.json"; return; }
	# 1% changed: 2.5 MiB in 64 KiB pieces spread over the disk.
	for i in $(seq 0 39); do
		dd if=/dev/urandom of="$T/inc.img" bs=64k count=1 seek=$((i * 97 % 4096)) conv=notrunc status=none
	done
	"$VESSEL" backup --json "$T/inc.yaml" "$R" >"$T/i2.json" 2>&1 || { bad incremental "second failed" "$T/i2.json"; return; }
	n1=$(jfield "$T/i1.json" bytes_new)
	n2=$(jfield "$T/i2.json" bytes_new)
	# 40 pieces touch at most 40 chunks of 64; stopped image: all read.
	[ "$(jfield "$T/i2.json" bytes_read)" = "$size" ] || { bad incremental "read $(jfield "$T/i2.json" bytes_read) of $size"; return; }
	[ "$n2" -lt "$n1" ] || { bad incremental "second stored $n2 >= first $n1"; return; }
	ok incremental
}

# vbitmap IMAGE CLEAN CHUNK...: rewrite IMAGE.vbitmap (docs/backup-format.md)
# as a VM's clean stop would: its generation kept, these chunks marked, the
# image's identity now; CLEAN 0 writes it as a killed VM leaves it.
vbitmap() {
	python3 - "$@" <<'PY'
import os, struct, sys, zlib
img, clean, marks = sys.argv[1], int(sys.argv[2]), [int(c) for c in sys.argv[3:]]
old = open(img + ".vbitmap", "rb").read()
gen = struct.unpack_from("<Q", old, 24)[0]
st = os.stat(img)
n = (st.st_size + (4 << 20) - 1) >> 22
words = [0] * ((n + 63) // 64)
for c in marks:
    words[c // 64] |= 1 << (c % 64)
b = b"VBM1" + struct.pack("<BBHIIQQQqqQ", 1, clean, 0, 22, 0, st.st_size, gen,
                          st.st_ino, st.st_mtime_ns, st.st_ctime_ns, n)
b += b"".join(struct.pack("<Q", w) for w in words)
open(img + ".vbitmap", "wb").write(b + struct.pack("<I", zlib.crc32(b)))
PY
}

# jdisk FILE KEY: a field of the first disk in a backup's --json.
jdisk() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["disks"][0].get(sys.argv[2], ""))' "$1" "$2"; }

t_bitmap_incremental() {
	local R=$T/rb size=$((256 << 20)) id
	dd if=/dev/urandom of="$T/bm.img" bs=1M count=256 status=none
	vmdef bm "$T/bm.img"
	"$VESSEL" backup --json "$T/bm.yaml" "$R" >"$T/b1.json" 2>&1 || { bad bitmap_incremental "first failed" "$T/b1.json"; return; }
	[ "$(jdisk "$T/b1.json" incremental)" = False ] && [ -s "$T/bm.img.vbitmap" ] || { bad bitmap_incremental "first backup: incremental, or no bitmap made" "$T/b1.json"; return; }
	# What a VM would do: change chunks 3 and 40, stop cleanly.
	dd if=/dev/urandom of="$T/bm.img" bs=64k count=2 seek=$((3 * 64 + 5)) conv=notrunc status=none
	dd if=/dev/urandom of="$T/bm.img" bs=4k count=1 seek=$((40 * 1024)) conv=notrunc status=none
	vbitmap "$T/bm.img" 1 3 40
	"$VESSEL" backup --json "$T/bm.yaml" "$R" >"$T/b2.json" 2>&1 || { bad bitmap_incremental "second failed" "$T/b2.json"; return; }
	[ "$(jdisk "$T/b2.json" incremental)" = True ] || { bad bitmap_incremental "second not incremental" "$T/b2.json"; return; }
	[ "$(jfield "$T/b2.json" bytes_read)" = $((8 << 20)) ] || { bad bitmap_incremental "read $(jfield "$T/b2.json" bytes_read), not the two 4 MiB chunks" "$T/b2.json"; return; }
	[ "$(jfield "$T/b2.json" chunks_new)" = 2 ] && [ "$(jfield "$T/b2.json" chunks)" = 64 ] || { bad bitmap_incremental "chunks $(jfield "$T/b2.json" chunks_new) new of $(jfield "$T/b2.json" chunks)" "$T/b2.json"; return; }
	id=$(jfield "$T/b2.json" id)
	"$VESSEL" backup restore "$R" "$id" --to "$T/bm.out" >/dev/null 2>"$T/bm.err" || { bad bitmap_incremental "restore failed" "$T/bm.err"; return; }
	cmp -s "$T/bm.img" "$T/bm.out/bm.img" || { bad bitmap_incremental "restored image differs"; return; }
	# Nothing changed since: nothing read.
	"$VESSEL" backup --json "$T/bm.yaml" "$R" >"$T/b3.json" 2>&1 || { bad bitmap_incremental "third failed" "$T/b3.json"; return; }
	[ "$(jfield "$T/b3.json" bytes_read)" = 0 ] && [ "$(jfield "$T/b3.json" bytes_logical)" = "$size" ] || { bad bitmap_incremental "third read $(jfield "$T/b3.json" bytes_read)" "$T/b3.json"; return; }
	# The text summary says it too.
	vbitmap "$T/bm.img" 1 0
	"$VESSEL" backup "$T/bm.yaml" "$R" >"$T/b4.out" 2>&1 && grep -q "disk0 .*read 4.0 MiB of 256.0 MiB, incremental" "$T/b4.out" || { bad bitmap_incremental "summary" "$T/b4.out"; return; }
	"$VESSEL" backup verify "$R" >"$T/bm.v" 2>&1 || { bad bitmap_incremental "verify failed" "$T/bm.v"; return; }
	ok bitmap_incremental
}

# bm_full NAME OUT PATTERN: back up bm2 into $T/rb2 (--json): a full read
# whose reason matches PATTERN.
bm_full() {
	"$VESSEL" backup --json "$T/bm2.yaml" "$T/rb2" >"$T/$2.json" 2>&1 || { bad bitmap_untrusted "$1: backup failed" "$T/$2.json"; return 1; }
	[ "$(jdisk "$T/$2.json" incremental)" = False ] && [ "$(jfield "$T/$2.json" bytes_read)" = $((64 << 20)) ] && jdisk "$T/$2.json" full_reason | grep -q "$3" || { bad bitmap_untrusted "$1: not a full read for '$3'" "$T/$2.json"; return 1; }
}

t_bitmap_untrusted() {
	local lk rc
	dd if=/dev/urandom of="$T/bm2.img" bs=1M count=64 status=none
	vmdef bm2 "$T/bm2.img"
	bm_full first u0 "no dirty bitmap" || return
	# A killed VM leaves it not clean.
	vbitmap "$T/bm2.img" 0 1
	bm_full unclean u1 "did not stop cleanly" || return
	vbitmap "$T/bm2.img" 0 1
	"$VESSEL" backup "$T/bm2.yaml" "$T/rb2" >"$T/u1.out" 2>&1 && grep -q "disk0 .*read 64.0 MiB of 64.0 MiB, full read: the VM did not stop cleanly" "$T/u1.out" || { bad bitmap_untrusted "reason not printed" "$T/u1.out"; return; }
	# Changed outside vessel after a clean stop.
	vbitmap "$T/bm2.img" 1 1
	sleep 0.01
	dd if=/dev/urandom of="$T/bm2.img" bs=4k count=1 seek=100 conv=notrunc status=none
	bm_full touched u2 "changed outside vessel" || return
	# Damaged: named, not trusted, no crash.
	printf 'X' | dd of="$T/bm2.img.vbitmap" bs=1 seek=70 conv=notrunc status=none
	bm_full damaged u3 "bm2.img.vbitmap: bad CRC" || return
	head -c 30 /dev/urandom >"$T/bm2.img.vbitmap"
	bm_full garbage u4 "bm2.img.vbitmap: truncated" || return
	# Another repository's backup in between: its generation moved on.
	"$VESSEL" backup --json "$T/bm2.yaml" "$T/rb3" >"$T/u5.json" 2>&1 || { bad bitmap_untrusted "other repository" "$T/u5.json"; return; }
	bm_full generation u6 "generation mismatch" || return
	# Resized.
	vbitmap "$T/bm2.img" 1
	truncate -s 68M "$T/bm2.img"
	"$VESSEL" backup --json "$T/bm2.yaml" "$T/rb2" >"$T/u7.json" 2>&1 && jdisk "$T/u7.json" full_reason | grep -q "changed outside vessel\|size changed" || { bad bitmap_untrusted "resized" "$T/u7.json"; return; }
	# Locked by a VM: refused, and nothing changed.
	cp "$T/bm2.img.vbitmap" "$T/bm2.saved"
	flock -x "$T/bm2.img" sleep 5 &
	lk=$!
	BG="$BG $lk"
	sleep 0.3
	"$VESSEL" backup "$T/bm2.yaml" "$T/rb2" >"$T/u8.out" 2>&1
	rc=$?
	kill "$lk"
	{ wait "$lk"; } 2>/dev/null
	if [ "$rc" = 0 ] || ! grep -q "locked" "$T/u8.out"; then bad bitmap_untrusted "a locked image was backed up" "$T/u8.out"; return; fi
	cmp -s "$T/bm2.saved" "$T/bm2.img.vbitmap" || { bad bitmap_untrusted "a refused backup changed the bitmap"; return; }
	ok bitmap_untrusted
}

t_errors() {
	local rc
	mkdir -p "$T/notrepo" && echo x >"$T/notrepo/file"
	"$VESSEL" backup list "$T/notrepo" >"$T/e.out" 2>&1; rc=$?
	[ "$rc" = 2 ] && grep -q "not a backup repository" "$T/e.out" || { bad errors "not a repository: exit $rc" "$T/e.out"; return; }
	vmdef e "$T/kernel"
	"$VESSEL" backup "$T/e.yaml" "$T/notrepo" >"$T/e.out" 2>&1; rc=$?
	[ "$rc" = 2 ] && grep -q "not empty" "$T/e.out" || { bad errors "backup into a non-repository: exit $rc" "$T/e.out"; return; }
	"$VESSEL" backup "$T/e.yaml" "$T/re" >/dev/null 2>&1 || { bad errors "a small backup failed"; return; }
	"$VESSEL" backup restore "$T/re" e/2000-01-01T00:00:00Z --to "$T/eo" >"$T/e.out" 2>&1; rc=$?
	[ "$rc" = 2 ] && grep -q "no backup" "$T/e.out" || { bad errors "unknown id: exit $rc" "$T/e.out"; return; }
	"$VESSEL" backup restore "$T/re" ../../etc --to "$T/eo" >"$T/e.out" 2>&1; rc=$?
	[ "$rc" = 2 ] || { bad errors "a bad id: exit $rc" "$T/e.out"; return; }
	"$VESSEL" backup nosuchguest "$T/re" >"$T/e.out" 2>&1; rc=$?
	[ "$rc" = 2 ] || { bad errors "unknown guest: exit $rc" "$T/e.out"; return; }
	"$VESSEL" backup prune "$T/re" >"$T/e.out" 2>&1; rc=$?
	[ "$rc" = 2 ] || { bad errors "prune without rules: exit $rc" "$T/e.out"; return; }
	ok errors
}

t_running_vm_unreachable() {
	local rc
	# A live supervisor, as far as the run directory tells: its lock held,
	# but no control socket. A running VM is backed up by its supervisor
	# (tests/integration/test_36_backup_live.sh): here it cannot be asked,
	# and the backup fails cleanly.
	mkdir -p "$VESSEL_RUN_DIR/live"
	flock "$VESSEL_RUN_DIR/live/lock" sleep 60 &
	BG="$BG $!"
	sleep 0.3
	mkimage "$T/live.img"
	vmdef live "$T/live.img"
	"$VESSEL" backup "$T/live.yaml" "$T/rl" >"$T/l.out" 2>&1; rc=$?
	[ "$rc" = 1 ] && grep -q "vessel backup: live" "$T/l.out" || { bad running_vm_unreachable "exit $rc" "$T/l.out"; return; }
	[ ! -d "$T/rl/backups/live" ] || [ -z "$(ls "$T/rl/backups/live")" ] || { bad running_vm_unreachable "left a backup behind"; return; }
	ok running_vm_unreachable
}

t_no_space() {
	local rc left
	mkdir -p "$T/small"
	mount -t tmpfs -o size=48m tmpfs "$T/small" 2>/dev/null || { skipped no_space "cannot mount a tmpfs"; return; }
	dd if=/dev/urandom of="$T/big.img" bs=1M count=96 status=none
	vmdef big "$T/big.img"
	"$VESSEL" backup "$T/big.yaml" "$T/small/repo" >"$T/ns.out" 2>&1; rc=$?
	[ "$rc" = 1 ] && grep -qi "no space left" "$T/ns.out" || { bad no_space "exit $rc" "$T/ns.out"; return; }
	left=$(find "$T/small/repo" -name '.tmp*' | wc -l)
	[ "$left" = 0 ] || { bad no_space "$left temporary files left"; return; }
	[ -z "$(ls "$T/small/repo/backups/big" 2>/dev/null)" ] || { bad no_space "a backup directory left"; return; }
	"$VESSEL" backup verify "$T/small/repo" >"$T/ns.v" 2>&1 || { bad no_space "verify after ENOSPC" "$T/ns.v"; return; }
	umount "$T/small"
	ok no_space
}

t_flipped_byte() {
	local R=$T/rf id chunk rc
	dd if=/dev/urandom of="$T/f.img" bs=1M count=12 status=none
	vmdef f "$T/f.img"
	"$VESSEL" backup --json "$T/f.yaml" "$R" >"$T/f.json" 2>&1 || { bad flipped_byte "backup failed" "$T/f.json"; return; }
	id=$(jfield "$T/f.json" id)
	chunk=$(find "$R/chunks" -type f ! -name '.tmp*' | sort | head -n1)
	printf '\x5a' | dd of="$chunk" bs=1 seek=1000 conv=notrunc status=none
	"$VESSEL" backup verify "$R" >"$T/f.v" 2>&1; rc=$?
	[ "$rc" = 1 ] && grep -q "damaged: chunk ${chunk##*/}.*$id" "$T/f.v" || { bad flipped_byte "verify: exit $rc" "$T/f.v"; return; }
	"$VESSEL" backup restore "$R" "$id" --to "$T/f.out" >"$T/f.r" 2>&1; rc=$?
	[ "$rc" != 0 ] && grep -q damaged "$T/f.r" || { bad flipped_byte "restore: exit $rc" "$T/f.r"; return; }
	[ -z "$(ls "$T/f.out")" ] || { bad flipped_byte "restore left files: $(ls "$T/f.out")"; return; }
	ok flipped_byte
}

t_sigkill() {
	local R=$T/rk i p rc
	dd if=/dev/urandom of="$T/k.img" bs=1M count=64 status=none
	truncate -s 256M "$T/k.img"
	vmdef k "$T/k.img"
	for i in $(seq 1 20); do
		dd if=/dev/urandom of="$T/k.img" bs=1M count=1 seek=$((i * 3)) conv=notrunc status=none
		"$VESSEL" backup "$T/k.yaml" "$R" >/dev/null 2>&1 &
		p=$!
		sleep "0.$((RANDOM % 40))"
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	"$VESSEL" backup verify "$R" >"$T/k.v" 2>&1; rc=$?
	[ "$rc" = 0 ] || { bad sigkill "verify after 20 kills: exit $rc" "$T/k.v"; return; }
	"$VESSEL" backup --json "$T/k.yaml" "$R" >"$T/k.json" 2>&1 || { bad sigkill "a later backup failed" "$T/k.json"; return; }
	"$VESSEL" backup restore "$R" "$(jfield "$T/k.json" id)" --to "$T/k.out" >/dev/null 2>&1 && cmp -s "$T/k.img" "$T/k.out/k.img" || { bad sigkill "the later backup does not restore"; return; }
	"$VESSEL" backup prune --keep-last 1 "$R" >"$T/k.p" 2>&1 || { bad sigkill "prune" "$T/k.p"; return; }
	[ -z "$(find "$R" -name '.tmp*')" ] || { bad sigkill "prune left temporary files"; return; }
	"$VESSEL" backup verify "$R" >"$T/k.v" 2>&1 || { bad sigkill "verify after prune" "$T/k.v"; return; }
	ok sigkill
}

# A creation killed between its mkdirs and its marker (what t_sigkill hits
# when every kill comes early) leaves chunks/, backups/ and lock: the
# readers see an empty repository, the next backup finishes the creation;
# anything more in the directory is still refused.
t_half_made() {
	local R=$T/rh rc
	mkdir -p "$R/chunks" "$R/backups" && : >"$R/lock" && : >"$R/.tmp-vessel-backup-1234-0"
	"$VESSEL" backup verify "$R" >"$T/h.out" 2>&1 || { bad half_made "verify of a half-made repository: exit $?" "$T/h.out"; return; }
	"$VESSEL" backup list "$R" >"$T/h.out" 2>&1 || { bad half_made "list of a half-made repository: exit $?" "$T/h.out"; return; }
	[ "$(grep -vc '^ID ' "$T/h.out")" = 0 ] || { bad half_made "list of a half-made repository lists something" "$T/h.out"; return; }
	[ ! -e "$R/vessel-backup" ] || { bad half_made "a reader wrote the marker"; return; }
	vmdef h "$T/kernel"
	"$VESSEL" backup --json "$T/h.yaml" "$R" >"$T/h.json" 2>&1 || { bad half_made "a backup into a half-made repository failed" "$T/h.json"; return; }
	[ -f "$R/vessel-backup" ] || { bad half_made "the backup did not write the marker"; return; }
	"$VESSEL" backup restore "$R" "$(jfield "$T/h.json" id)" --to "$T/h.o" >"$T/h.out" 2>&1 && cmp -s "$T/kernel" "$T/h.o/kernel" || { bad half_made "the backup does not restore" "$T/h.out"; return; }
	R=$T/rh2
	mkdir -p "$R/chunks/ab" "$R/backups"
	"$VESSEL" backup "$T/h.yaml" "$R" >"$T/h.out" 2>&1; rc=$?
	[ "$rc" = 2 ] && grep -q "not empty" "$T/h.out" || { bad half_made "a directory with chunks/ab: exit $rc" "$T/h.out"; return; }
	"$VESSEL" backup verify "$R" >"$T/h.out" 2>&1; rc=$?
	[ "$rc" = 2 ] && grep -q "not a backup repository" "$T/h.out" || { bad half_made "verify of a directory with chunks/ab: exit $rc" "$T/h.out"; return; }
	ok half_made
}

t_concurrent() {
	local R=$T/rc p1 p2 p3 r1 r2 r3
	dd if=/dev/urandom of="$T/x.img" bs=1M count=48 status=none
	dd if=/dev/urandom of="$T/y.img" bs=1M count=48 status=none
	vmdef x "$T/x.img"
	vmdef y "$T/y.img"
	"$VESSEL" backup "$T/x.yaml" "$R" >/dev/null 2>&1
	"$VESSEL" backup "$T/x.yaml" "$R" >"$T/c1.out" 2>&1 & p1=$!
	"$VESSEL" backup "$T/y.yaml" "$R" >"$T/c2.out" 2>&1 & p2=$!
	"$VESSEL" backup prune --keep-last 1 "$R" >"$T/c3.out" 2>&1 & p3=$!
	wait "$p1"; r1=$?
	wait "$p2"; r2=$?
	wait "$p3"; r3=$?
	[ "$r1$r2$r3" = 000 ] || { bad concurrent "exits $r1 $r2 $r3" "$T/c3.out"; return; }
	"$VESSEL" backup verify "$R" >"$T/c.v" 2>&1 || { bad concurrent "verify" "$T/c.v"; return; }
	[ "$("$VESSEL" backup list --json "$R" y | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] || { bad concurrent "y's backup is missing"; return; }
	ok concurrent
}

t_prune() {
	local R=$T/rp i now kept want
	vmdef p "$T/p.img"
	now=$(date +%s)
	for i in 0 1 2 3 4; do
		dd if=/dev/urandom of="$T/p.img" bs=1M count=4 status=none
		"$VESSEL" backup "$T/p.yaml" "$R" >/dev/null 2>&1 || { bad prune "backup $i failed"; return; }
	done
	# Move them in time: 3 days ago, 2 days ago (twice), yesterday, now.
	# Prints the ones the rules keep: the newest (keep-last 1), then the
	# newest of yesterday and of 2 days ago (keep-daily 2).
	want=$(python3 - "$R" "$now" <<'PY'
import glob, json, os, sys
repo, now = sys.argv[1], int(sys.argv[2])
days = [3, 2, 2, 1, 0]
def order(m):
    stamp = m.split("/")[-2]
    base, _, n = stamp.partition(".")
    return (base, int(n or 0))
ms = sorted(glob.glob(repo + "/backups/p/*/manifest.json"), key=order)
for i, m in enumerate(ms):
    d = json.load(open(m))
    d["started"] = now - days[i] * 86400 + i
    json.dump(d, open(m, "w"))
print(" ".join(sorted(m.split("/")[-2] for m in ms[2:])))
PY
) || { bad prune "could not date the backups"; return; }
	"$VESSEL" backup prune --keep-last 1 --keep-daily 2 "$R" >"$T/p.out" 2>&1 || { bad prune "prune failed" "$T/p.out"; return; }
	kept=$(ls "$R/backups/p" | sort | tr '\n' ' ')
	kept=${kept% }
	[ "$kept" = "$want" ] || { bad prune "kept '$kept', want '$want'" "$T/p.out"; return; }
	[ "$(find "$R/chunks" -type f | wc -l)" = 3 ] || { bad prune "$(find "$R/chunks" -type f | wc -l) chunks left, want 3" "$T/p.out"; return; }
	"$VESSEL" backup verify "$R" >"$T/p.v" 2>&1 || { bad prune "verify" "$T/p.v"; return; }
	ok prune
}

# ---- containers ------------------------------------------------------------

BUSYBOX=$(command -v busybox)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q static; then
	BUSYBOX=/bin/busybox
fi

build_rootfs() {
	local r=$1 a
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/data/sub" "$r/dev"
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	echo "restored fine" >"$r/data/hello"
	head -c 3000000 /dev/urandom >"$r/data/big"
	ln "$r/data/hello" "$r/data/sub/hardlink"
	chown 1234:5678 "$r/data/hello"
	chmod 4750 "$r/data/hello"
	chmod 1777 "$r/tmp"
	chmod 0500 "$r/data/sub"
	ln -s /data/hello "$r/data/abs-link"
	mkfifo "$r/data/fifo"
	mknod "$r/data/null" c 1 3 2>/dev/null || true
	setfattr -n user.backup -v "kept" "$r/data/big" 2>/dev/null || true
	setfattr -n trusted.t -v "root only" "$r/data/sub"
	touch -h -d '2020-02-02 02:02:02' "$r/data/abs-link"
}

# tree_listing DIR: one line per entry: path, type, mode, owner, size,
# mtime, link count, symlink target, xattrs (device nodes left out: never
# restored).
tree_listing() {
	(cd "$1" && find . ! -type c ! -type b -printf '%p %y %m %U:%G %s %T@ %n %l\n' | sort)
	(cd "$1" && getfattr -R -d -m - -h . 2>/dev/null | grep -v '^$' | sort)
}

# has_xattrs LISTING: the trusted.* xattr build_rootfs set is in it (so a
# listing without xattrs cannot pass for equal).
has_xattrs() { grep -q '^trusted\.t="root only"$' "$1"; }

t_container_stopped() {
	local R=$T/rcs id n2
	build_rootfs "$T/ct1"
	printf 'kind: container\nname: ct1\nrootfs: %s\ncommand: [/bin/sh, -c, "cat /data/hello"]\n' "$T/ct1" >"$T/ct1.yaml"
	"$VESSEL" backup --json "$T/ct1.yaml" "$R" >"$T/cs.json" 2>"$T/cs.err" || { bad container_stopped "backup failed" "$T/cs.err"; return; }
	id=$(jfield "$T/cs.json" id)
	"$VESSEL" backup restore "$R" "$id" --to "$T/cs.out" >"$T/cs.r" 2>&1 || { bad container_stopped "restore failed" "$T/cs.r"; return; }
	tree_listing "$T/ct1" >"$T/cs.a"
	tree_listing "$T/cs.out/rootfs" >"$T/cs.b"
	diff "$T/cs.a" "$T/cs.b" >"$T/cs.d" || { bad container_stopped "restored tree differs" "$T/cs.d"; return; }
	has_xattrs "$T/cs.b" || { bad container_stopped "the restored tree has no xattrs" "$T/cs.b"; return; }
	[ "$(stat -c %i "$T/cs.out/rootfs/data/hello")" = "$(stat -c %i "$T/cs.out/rootfs/data/sub/hardlink")" ] || { bad container_stopped "hard link not restored"; return; }
	[ ! -e "$T/cs.out/rootfs/data/null" ] || { bad container_stopped "a device node was made"; return; }
	# Unchanged tree: nothing new stored.
	"$VESSEL" backup --json "$T/ct1.yaml" "$R" >"$T/cs2.json" 2>&1 || { bad container_stopped "second backup failed"; return; }
	n2=$(jfield "$T/cs2.json" bytes_new)
	[ "$n2" = 0 ] || { bad container_stopped "unchanged tree stored $n2 bytes"; return; }
	# One file changed: a few chunks, not the tree.
	echo "changed" >>"$T/ct1/etc/passwd"
	"$VESSEL" backup --json "$T/ct1.yaml" "$R" >"$T/cs3.json" 2>&1 || { bad container_stopped "third backup failed"; return; }
	[ "$(jfield "$T/cs3.json" chunks_new)" -le 2 ] || { bad container_stopped "one changed file stored $(jfield "$T/cs3.json" chunks_new) chunks"; return; }
	ok container_stopped
}

t_container_running() {
	local R=$T/rcr id out
	build_rootfs "$T/ct2"
	CT_NAME=bk-ct-$$
	printf 'kind: container\nname: %s\nrootfs: %s\ncommand: [/bin/sh, -c, "while :; do date > /tmp/tick; sleep 0.1; done"]\n' "$CT_NAME" "$T/ct2" >"$T/ct2.yaml"
	"$VESSEL" start "$T/ct2.yaml" >"$T/cr.start" 2>&1 || { skipped container_running "vessel start failed (containers unavailable here?): $(head -c 200 "$T/cr.start")"; CT_NAME=''; return; }
	sleep 0.5
	"$VESSEL" backup --json "$CT_NAME" "$R" >"$T/cr.json" 2>"$T/cr.err" || { bad container_running "backup of a running container failed" "$T/cr.err"; return; }
	[ "$(jfield "$T/cr.json" freeze_ms)" -ge 0 ] || { bad container_running "not frozen" "$T/cr.json"; return; }
	"$VESSEL" ps >"$T/cr.ps" 2>&1
	grep "$CT_NAME" "$T/cr.ps" | grep -q running || { bad container_running "not running after the backup" "$T/cr.ps"; return; }
	"$VESSEL" stop --force "$CT_NAME" >/dev/null 2>&1
	CT_NAME=''
	id=$(jfield "$T/cr.json" id)
	"$VESSEL" backup restore "$R" "$id" --to "$T/cr.out" >"$T/cr.r" 2>&1 || { bad container_running "restore failed" "$T/cr.r"; return; }
	tree_listing "$T/ct2" | grep -v '^./tmp/tick ' >"$T/cr.a"
	tree_listing "$T/cr.out/rootfs" | grep -v '^./tmp/tick ' >"$T/cr.b"
	diff "$T/cr.a" "$T/cr.b" >"$T/cr.d" || { bad container_running "restored tree differs" "$T/cr.d"; return; }
	has_xattrs "$T/cr.b" || { bad container_running "the restored tree has no xattrs" "$T/cr.b"; return; }
	# The restored container runs.
	printf 'kind: container\nname: bk-rst-%s\nrootfs: %s\ncommand: [/bin/sh, -c, "cat /data/hello; ls -l /data/hello"]\n' "$$" "$T/cr.out/rootfs" >"$T/cr-run.yaml"
	out=$(timeout 60 "$VESSEL" run "$T/cr-run.yaml" 2>&1 </dev/null)
	echo "$out" | grep -q "restored fine" && echo "$out" | grep -q -- "-rwsr-x--- .* 1234 .*5678" || { echo "$out" >"$T/cr.run"; bad container_running "the restored container did not run as expected" "$T/cr.run"; return; }
	ok container_running "(frozen $(jfield "$T/cr.json" freeze_ms) ms)"
}

if [ "$(id -u)" -ne 0 ]; then
	for t in $ALL_TESTS; do skipped "$t" "needs root"; done
	finish
fi
if ! command -v getfattr >/dev/null || ! command -v setfattr >/dev/null; then
	echo "FAIL setup: getfattr and setfattr are needed (Debian: apt-get install attr)"
	fail=1
	finish
fi
if [ ! -x "$VESSEL" ]; then
	echo "FAIL setup: VESSEL=$VESSEL is not executable"
	fail=1
	finish
fi
tests=${*:-$ALL_TESTS}
for t in $tests; do
	"t_$t"
done
finish

#!/usr/bin/env bash
# bench/blk.sh: virtio-blk throughput of the same guest (Debian's stock
# kernel, the virtio test initramfs with bench/blkload, 1 vCPU, 256 MiB,
# "console=ttyS0 quiet") under vessel (disks: cache: none, i.e. O_DIRECT +
# libaio) and under QEMU q35 (virtio-blk-pci, aio=native,cache=none), and of
# the same load run on the host itself against its backing file: the
# physical limit. Each side has its own BENCH_BLK_MIB (256) MiB raw image,
# written in full beforehand, on one ext4 filesystem loop-mounted in the
# scratch dir (tmpfs has no O_DIRECT).
# Both VMs boot once and wait at their shell; then, per round, each
# measurement runs on vessel, QEMU and the host in turn (the idle VMs sit
# at their prompt):
#   sequential read and write, 1 MiB blocks, queue depth 1   MiB/s
#   random 4 KiB reads, queue depth 1 and 32                  IOPS
# each `blkload MODE /dev/vda -t BENCH_BLK_SECS (2)` in the guest: O_DIRECT,
# Linux native AIO, fixed duration; a write run ends with fdatasync, timed.
# BENCH_WARMUP (1) unmeasured rounds, then BENCH_RUNS (5) measured ones.
# Run it through bench/run.sh.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_RUNS:-5}
warmup=${BENCH_WARMUP:-1}
secs=${BENCH_BLK_SECS:-2}
mib=${BENCH_BLK_MIB:-256}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, not '$warmup'"
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "BENCH_BLK_SECS must be a positive integer, not '$secs'"
{ [[ $mib =~ ^[1-9][0-9]*$ ]] && [ "$mib" -ge 16 ]; } || die "BENCH_BLK_MIB must be an integer of at least 16, not '$mib'"
bench_virtio_setup

sides=(vessel qemu-q35 host)
vms=(vessel qemu-q35)
# The tests, in the table's order: ID MODE DEPTH UNIT-FIELD.
tests=("blk.read read 1 mib_s" "blk.write write 1 mib_s" "blk.rand1 randread 1 iops" "blk.rand32 randread 32 iops")
bench_metric blk.read "virtio-blk: sequential read, 1 MiB blocks, QD1, O_DIRECT (higher is better)" MiB/s
bench_metric blk.write "virtio-blk: sequential write, 1 MiB blocks, QD1, O_DIRECT (higher is better)" MiB/s
bench_metric blk.rand1 "virtio-blk: random 4 KiB read, QD1 (higher is better)" IOPS
bench_metric blk.rand32 "virtio-blk: random 4 KiB read, QD32 (higher is better)" IOPS

d=$(mktemp -d "$BENCH_WORK/blk.XXXXXX")
fs=$d/fs
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local id
	for id in "${vms[@]}"; do
		[ -z "${SHVM_PID[blk-$id]:-}" ] || bench_shvm_kill "blk-$id"
	done
	wait 2>/dev/null || true
	bench_ext4_undo "$fs"
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# One filesystem for all three images, each written in full (a sparse or
# fallocated image would read back zeros without touching the disk).
bench_ext4_dir "$fs" $((3 * mib + 64))
for side in "${sides[@]}"; do
	run_timeout 300 dd if=/dev/zero of="$fs/$side.img" bs=1M count="$mib" conv=fsync status=none ||
		die "writing the $mib MiB image $fs/$side.img failed"
done

vm_cmd() { # SIDE: sets BENCH_CMD, the command that boots SIDE's guest
	case $1 in
	vessel)
		cat >"$d/vessel.yaml" <<-YAML
			name: bench-blk
			vcpus: $BENCH_VCPUS
			memory: ${BENCH_MEM_MIB}M
			kernel: $BENCH_KERNEL
			initrd: $BENCH_VIRTIO_INITRD
			cmdline: "$BENCH_VIRTIO_CMDLINE"
			on_reboot: exit
			rng: false
			disks:
			  - path: $fs/vessel.img
			    cache: none
		YAML
		BENCH_CMD=("$VESSEL" run "$d/vessel.yaml")
		;;
	qemu-q35)
		# shellcheck disable=SC2054 # commas inside QEMU's arguments
		BENCH_CMD=("$BENCH_QEMU" -accel kvm -cpu host -M q35
			-smp "$BENCH_VCPUS" -m "${BENCH_MEM_MIB}M"
			-nodefaults -no-user-config -display none -no-reboot -serial stdio
			-kernel "$BENCH_KERNEL" -initrd "$BENCH_VIRTIO_INITRD" -append "$BENCH_VIRTIO_CMDLINE"
			-drive "file=$fs/qemu-q35.img,if=none,id=d0,format=raw,aio=native,cache=none"
			-device virtio-blk-pci,drive=d0)
		;;
	esac
}

vm_cmd vessel
bench_note vessel "blk: \`vessel run\` ($("$VESSEL" version 2>/dev/null | head -n1 || echo '?')): vcpus: $BENCH_VCPUS, memory: ${BENCH_MEM_MIB}M, rng: false, disks: [{path: IMG, cache: none}] (O_DIRECT + libaio); the virtio initramfs, cmdline \"$BENCH_VIRTIO_CMDLINE\""
vm_cmd qemu-q35
qargs="${BENCH_CMD[*]}"
qargs=${qargs//"$fs/qemu-q35.img"/IMG}
qargs=${qargs//"$BENCH_WORK/"/}
qargs=${qargs/-append $BENCH_VIRTIO_CMDLINE/-append \"$BENCH_VIRTIO_CMDLINE\"}
bench_note qemu-q35 "blk: $("$BENCH_QEMU" --version | head -n1 | sed 's/ *Copyright.*//'): \`$qargs\` (no iothread)"
bench_note host "blk: the same blkload, run in the host on the backing file (an image like the VMs', on the same ext4) with O_DIRECT: the physical limit"

# Boot both VMs, side by side; each waits at its shell with /dev/vda.
# vda_ok ID: the guest sees /dev/vda, of the image's size.
# shellcheck disable=SC2317 # called by bench_vms_up
vda_ok() {
	# shellcheck disable=SC2016 # expanded by the guest's shell
	bench_shvm_cmd "blk-$1" 60 'i=0; while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; echo "VDA-SECTORS=$(cat /sys/block/vda/size)"'
	if [ "${SHVM_RC:-x}" != 0 ] || ! grep -q "^VDA-SECTORS=$((mib * 2048))\$" <<<"$SHVM_OUT"; then
		SHVM_WHY="${SHVM_WHY:-/dev/vda missing or of the wrong size: $(grep -o 'VDA-SECTORS=.*' <<<"$SHVM_OUT" || echo none)}"
		return 1
	fi
}
bench_vms_up blk $((BENCH_VM_TIMEOUT + (runs + warmup) * 4 * 3 * (secs + 30))) \
	"did not boot to its shell with /dev/vda" vda_ok "${vms[@]}"

declare -A failed why
for side in "${sides[@]}"; do failed[$side]=0 why[$side]=''; done
fail_run() { # SIDE WHY
	failed[$1]=$((failed[$1] + 1))
	case "; ${why[$1]}; " in *"; $2; "*) ;; *) why[$1]+="${why[$1]:+; }$2" ;; esac
}

for ((r = 1 - warmup; r <= runs; r++)); do
	if [ "$r" -le 0 ]; then round="warm-up $((1 - r))"; else round="run $r"; fi
	for t in "${tests[@]}"; do
		read -r id mode qd field <<<"$t"
		for side in "${sides[@]}"; do
			line='' err='' t0=0 t1=0 gsecs='' host_ms=''
			if [ "$side" = host ]; then
				bench_now t0
				out=$(run_timeout $((secs + 60)) "$BENCH_TOOLS_DIR/blkload" "$mode" "$fs/host.img" -t "$secs" -q "$qd" 2>&1) || err="blkload failed: $out"
				bench_now t1
				host_us=$((t1 - t0))
				bench_line "$out" 'BLKLOAD ' line
			elif [ -n "${dead[$side]}" ]; then
				err=${dead[$side]}
			else
				bench_shvm_cmd "blk-$side" $((secs + 60)) "blkload $mode /dev/vda -t $secs -q $qd"
				host_us=$SHVM_US
				bench_line "$SHVM_OUT" 'BLKLOAD ' line
				if [ -z "$SHVM_RC" ]; then
					dead[$side]="stopped answering: $SHVM_WHY"
					err=${dead[$side]}
					log "blk: $side ${dead[$side]}; console tail:"
					bench_shvm_tail "blk-$side" >&2
				elif [ "$SHVM_RC" != 0 ]; then
					err="blkload exited $SHVM_RC: $(tr '\n' ' ' <<<"$SHVM_OUT" | cut -c1-200)"
				fi
			fi
			bench_kv "$line" "$field" val
			[ -n "$err" ] || [ -n "$val" ] || err="no result from blkload"
			if [ -n "$err" ]; then
				log "blk $round: $id $side: FAILED ($err)"
				[ "$r" -le 0 ] || fail_run "$side" "$err"
				continue
			fi
			bench_kv "$line" secs gsecs
			bench_us_ms "$host_us" host_ms
			log "blk $round: $id $side: $field=$val (blkload $mode qd=$qd: $gsecs s by its clock, $host_ms ms by the host's from start to result)"
			[ "$r" -le 0 ] || bench_sample "$id" "$side" "$val"
		done
	done
done

for id in "${vms[@]}"; do
	bench_shvm_stop "blk-$id" 60
	[ "$SHVM_EXIT" -eq 0 ] || [ -n "${dead[$id]}" ] ||
		bench_note "$id" "blk: the VM did not power off cleanly at the end (status $SHVM_EXIT); see run/logs/blk-$id.console"
done
for side in "${sides[@]}"; do
	bench_run_fail_note blk "$side" "${failed[$side]}" $((runs * ${#tests[@]})) "${why[$side]}"
done
bench_note all "blk: $runs measured rounds after $warmup warm-up round(s); in each, every measurement runs on each side in turn (vessel, qemu-q35, host), both VMs up throughout (the idle one at its shell prompt); each is \`blkload MODE DEV -t $secs -q DEPTH\` (bench/blkload.c, static: O_DIRECT, Linux native AIO, DEPTH requests in flight for $secs s, a write run ends with fdatasync) on the guest's /dev/vda, or on the host's image file; its own clock; images of $mib MiB, raw, written in full, each on the same loop-mounted ext4 on tmpfs (so the 'disk' is RAM); guest kernel ${BENCH_KVERSION:-?}, $BENCH_VCPUS vCPU, $BENCH_MEM_MIB MiB; throughputs: a ratio below 1 means vessel is slower"
exit 0

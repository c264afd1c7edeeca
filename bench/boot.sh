#!/usr/bin/env bash
# bench/boot.sh: boot time of the same guest (Debian's stock kernel, the
# test busybox initramfs, 1 vCPU, 256 MiB, "console=ttyS0 quiet
# vessel_test=poweroff") under vessel (from its kernel cache, and with
# kernel_cache: false) and under QEMU/KVM (microvm, q35).
# Per run: time from launching the VMM until the guest's /init prints
# VESSEL-USERSPACE-OK, until the VMM has exited after the guest's poweroff,
# the guest kernel's own uptime at /init (VESSEL-UPTIME) and its kvm-clock
# there (the uptime plus the ticks it lost before switching to kvm-clock,
# VESSEL-SCHED-CLOCK-OFFSET-NS; only where kvm-clock is stable). Runs are
# interleaved (vessel, microvm, q35, vessel, ...) after BENCH_WARMUP (1)
# unmeasured rounds; BENCH_RUNS (5) measured rounds.
# BENCH_BOOT_INITCALLS=1 adds "initcall_debug log_buf_len=8M vessel_klog"
# to the command line (the guest's /init then prints the kernel log's
# "Run /init" line and its initcalls of 0.1 ms or more) and writes
# initcalls.md: per side, the median over the measured runs of the
# kernel's time at "Run /init", of those initcalls together, and of the
# initcalls whose medians differ most between the sides. initcall_debug
# slows the boot a little, on every side alike.
# Needs a hardware-backed /dev/kvm: run it through bench/run.sh, which
# provides one (nested host) and BENCH_OUT.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_RUNS:-5}
warmup=${BENCH_WARMUP:-1}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, not '$warmup'"
initcalls=${BENCH_BOOT_INITCALLS:-0}
[[ $initcalls =~ ^[01]$ ]] || die "BENCH_BOOT_INITCALLS must be 0 or 1, not '$initcalls'"
[ "$initcalls" = 0 ] || BENCH_CMDLINE_BASE+=" initcall_debug log_buf_len=8M vessel_klog"
bench_guest_setup
# vessel twice: from its kernel cache, and without it.
BENCH_SIDES=(vessel vessel-nocache qemu-microvm qemu-q35)
bench_note_sides

bench_metric boot.userspace "boot: VMM launch → guest /init (VESSEL-USERSPACE-OK)" ms
bench_metric boot.exit "boot + poweroff: VMM launch → VMM exited" ms
bench_metric boot.guest_uptime "guest kernel's uptime at /init (VESSEL-UPTIME)" ms
bench_metric boot.guest_kclock "guest kernel's kvm-clock at /init (uptime + ticks lost early)" ms

declare -A failed why
for side in "${BENCH_SIDES[@]}"; do failed[$side]=0 why[$side]=''; done

for ((r = 1 - warmup; r <= runs; r++)); do
	for side in "${BENCH_SIDES[@]}"; do
		if [ "$r" -le 0 ]; then tag=boot-warmup$((1 - r))-$side; else tag=boot-$r-$side; fi
		bench_vm_run "$side" poweroff "$tag"
		if [ "$VM_OK" -eq 1 ]; then
			log "$tag: userspace $(us_to_ms "$VM_MARKER_US") ms, exit $(us_to_ms "$VM_EXIT_US") ms, guest uptime ${VM_UPTIME_MS:-?} ms, kvm-clock ${VM_KCLOCK_MS:-?} ms"
		else
			log "$tag: FAILED ($VM_WHY) after $(us_to_ms "$VM_EXIT_US") ms"
		fi
		[ "$r" -gt 0 ] || continue
		if [ "$VM_OK" -ne 1 ]; then
			failed[$side]=$((failed[$side] + 1))
			case "; ${why[$side]}; " in *"; $VM_WHY; "*) ;; *) why[$side]+="${why[$side]:+; }$VM_WHY" ;; esac
			continue
		fi
		bench_sample boot.userspace "$side" "$(us_to_ms "$VM_MARKER_US")"
		bench_sample boot.exit "$side" "$(us_to_ms "$VM_EXIT_US")"
		[ -z "$VM_UPTIME_MS" ] || bench_sample boot.guest_uptime "$side" "$VM_UPTIME_MS"
		[ -z "$VM_KCLOCK_MS" ] || bench_sample boot.guest_kclock "$side" "$VM_KCLOCK_MS"
	done
done

for side in "${BENCH_SIDES[@]}"; do
	bench_run_fail_note boot "$side" "${failed[$side]}" "$runs" "${why[$side]}"
done
if [ "$initcalls" = 1 ]; then
	# Each console's VESSEL-KLOG lines, tagged with its side and run.
	for side in "${BENCH_SIDES[@]}"; do
		for ((r = 1; r <= runs; r++)); do
			f=$BENCH_OUT/logs/boot-$r-$side.console
			[ -f "$f" ] || continue
			sed -n "s/^VESSEL-KLOG /$side $r /p" "$f"
		done
	done | awk -v sides="${BENCH_SIDES[*]}" -f "$(dirname "$0")/initcalls.awk" >"$BENCH_OUT/initcalls.md"
	bench_note all "boot: with initcall_debug (BENCH_BOOT_INITCALLS=1); the guest kernel's own times per initcall, medians per side, are in initcalls.md"
fi
bench_note all "boot: $runs measured runs per side after $warmup warm-up round(s), interleaved; guest kernel ${BENCH_KVERSION:-?}, busybox initramfs, $BENCH_VCPUS vCPU, $BENCH_MEM_MIB MiB; times from the host's clock, stdout of each VMM read through a pipe; VESSEL-UPTIME has 10 ms resolution, counts timer ticks until the kernel switches to kvm-clock (the kvm-clock row adds the ticks it lost: VESSEL-SCHED-CLOCK-OFFSET-NS, sched_clock's offset as it marks itself stable) and neither counts firmware (SeaBIOS on q35) or the VMM's own setup"
exit 0

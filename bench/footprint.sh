#!/usr/bin/env bash
# bench/footprint.sh: what the VMM itself costs, for the guest of boot.sh
# (same kernel, initramfs, 1 vCPU, 256 MiB, vessel_test=poweroff), sampled
# the moment its /init prints VESSEL-USERSPACE-OK (the guest is fully
# booted; it powers off right after). BENCH_FOOTPRINT_MODE=shell instead
# boots it to a shell (vessel_test=shell, stdin a FIFO), lets it idle for
# BENCH_IDLE_SETTLE (1) s, samples, and sends `exit`. (The default avoids
# that mode: nested hosts have hung in it twice, in QEMU microvm runs.)
# Per run and side:
#   peak RSS      GNU time's %M over the VMM's whole life (boot to exit)
#   RSS           VmRSS at the sampling point
#   outside guest RAM: RSS and private (Private_Clean + Private_Dirty) memory
#                 then, from /proc/PID/smaps, less the guest RAM mapping
#                 (the largest anonymous mapping)
#   threads       /proc/PID/status Threads then, and the most seen while
#                 sampling every 50 ms from launch to exit
# Plus the binaries' sizes (file, and text+data+bss from size(1)).
# BENCH_FOOTPRINT_RUNS (3) runs per side, interleaved. Run it through
# bench/run.sh.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_FOOTPRINT_RUNS:-3}
settle=${BENCH_IDLE_SETTLE:-1}
mode=${BENCH_FOOTPRINT_MODE:-sample}
case $mode in
sample) at="at guest /init" point="when the guest's /init printed VESSEL-USERSPACE-OK (vessel_test=poweroff)" ;;
shell) at="at idle shell" point="with the guest at its shell (vessel_test=shell), idle for ${settle} s, then sent \`exit\`" ;;
*) die "BENCH_FOOTPRINT_MODE must be sample or shell, not '$mode'" ;;
esac
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_FOOTPRINT_RUNS must be a positive integer, not '$runs'"
ensure_cmds time:/usr/bin/time binutils:size
bench_guest_setup
bench_note_sides

bench_metric fp.peak_rss "peak RSS, launch → exit (GNU time %M)" MiB
bench_metric fp.idle_rss "RSS $at (VmRSS)" MiB
bench_metric fp.nonguest_rss "RSS outside guest RAM $at (smaps)" MiB
bench_metric fp.nonguest_priv "private memory outside guest RAM $at (smaps)" MiB
bench_metric fp.guest_rss "guest RAM resident $at" MiB
bench_metric fp.threads_idle "threads $at" threads
bench_metric fp.threads_max "threads, most seen (50 ms sampling)" threads
bench_metric fp.bin_file "binary file size" MiB
bench_metric fp.bin_loaded "binary text+data+bss (size -B)" MiB

# bench_on_ready PID: called by bench_vm_run when the guest's shell is up.
bench_on_ready() {
	local pid=$1 split
	[ "$mode" != shell ] || sleep "$settle"
	proc_status "$pid"
	IDLE_THREADS=$ST_THREADS IDLE_RSS=$ST_RSS
	split=$(smaps_split "$pid" 2>/dev/null || true)
	read -r SM_TOTAL SM_GSIZE SM_GRSS SM_PRIV SM_GPRIV <<<"${split:-}" || true
}

declare -A failed why gsize
for side in "${BENCH_SIDES[@]}"; do failed[$side]=0 why[$side]='' gsize[$side]=''; done

for ((r = 1; r <= runs; r++)); do
	for side in "${BENCH_SIDES[@]}"; do
		tag=footprint-$r-$side
		IDLE_THREADS='' IDLE_RSS='' SM_TOTAL='' SM_GSIZE='' SM_GRSS='' SM_PRIV='' SM_GPRIV=''
		bench_vm_run "$side" "$mode" "$tag"
		if [ "$VM_OK" -eq 1 ] && { [ -z "$IDLE_RSS" ] || [ -z "$SM_TOTAL" ] || [ -z "$VM_PEAK_KB" ]; }; then
			VM_OK=0 VM_WHY="sampling failed (status: ${IDLE_RSS:-none}, smaps: ${SM_TOTAL:-none}, time: ${VM_PEAK_KB:-none})"
		fi
		if [ "$VM_OK" -ne 1 ]; then
			log "$tag: FAILED ($VM_WHY)"
			failed[$side]=$((failed[$side] + 1))
			case "; ${why[$side]}; " in *"; $VM_WHY; "*) ;; *) why[$side]+="${why[$side]:+; }$VM_WHY" ;; esac
			continue
		fi
		log "$tag: peak ${VM_PEAK_KB} kB, idle ${IDLE_RSS} kB (guest RAM mapping ${SM_GSIZE} kB, ${SM_GRSS} kB resident), threads ${IDLE_THREADS} (max ${VM_THREADS_MAX})"
		bench_sample fp.peak_rss "$side" "$(kib_to_mib "$VM_PEAK_KB")"
		bench_sample fp.idle_rss "$side" "$(kib_to_mib "$IDLE_RSS")"
		bench_sample fp.nonguest_rss "$side" "$(kib_to_mib $((SM_TOTAL - SM_GRSS)))"
		bench_sample fp.nonguest_priv "$side" "$(kib_to_mib $((SM_PRIV - SM_GPRIV)))"
		bench_sample fp.guest_rss "$side" "$(kib_to_mib "$SM_GRSS")"
		bench_sample fp.threads_idle "$side" "$IDLE_THREADS"
		bench_sample fp.threads_max "$side" "$VM_THREADS_MAX"
		gsize[$side]=$SM_GSIZE
	done
done

for side in "${BENCH_SIDES[@]}"; do
	bench_run_fail_note footprint "$side" "${failed[$side]}" "$runs" "${why[$side]}"
	if [ -n "${gsize[$side]}" ] && [ "${gsize[$side]}" -lt $((BENCH_MEM_MIB * 1024)) ]; then
		bench_note "$side" "footprint: the guest RAM mapping found (the largest anonymous one, ${gsize[$side]} kB) is smaller than guest RAM: the outside-guest-RAM figures are suspect"
	fi
done

# Binary sizes: one value each; QEMU's binary serves both machine types.
bin_sizes() { # SIDE PATH
	local side=$1 path file loaded state libs
	path=$(readlink -f "$(command -v "$2")")
	file=$(stat -c %s "$path")
	loaded=$(size -B "$path" | awk 'NR == 2 { print $4 }')
	bench_sample fp.bin_file "$side" "$(kib_to_mib $((file / 1024)))"
	[ -z "$loaded" ] || bench_sample fp.bin_loaded "$side" "$(kib_to_mib $((loaded / 1024)))"
	state=$(file -b "$path" 2>/dev/null | grep -o 'with debug_info\|not stripped\|stripped' | head -n1 || true)
	libs=$(ldd "$path" 2>/dev/null | grep -c '=>' || true)
	bench_note "$side" "binary: $path (${state:-?}), links ${libs:-?} shared libraries"
}
bin_sizes vessel "$VESSEL"
bin_sizes qemu "$BENCH_QEMU"
bench_note qemu "the qemu-system-x86_64 binary behind both QEMU peers (sizes only, for context)"

bench_note all "footprint: $runs runs per side, interleaved, each sampled $point; kernel memory KVM uses for the VM (page tables, vCPU state) is not in any RSS"
exit 0

#!/usr/bin/env bash
# smoke-qemu.sh [VARIANT...]: boots the test guest initramfs with QEMU on KVM
# and checks that it prints its markers and powers off. Proves that
# (nested) /dev/kvm works and that the guest image is sound, independently
# of vessel; also a QEMU baseline for benchmarks. Without hardware KVM it
# re-runs itself inside the nested host (nested-host.sh).
# Variants (default: all): q35-1cpu q35-4cpu-4G microvm-1cpu
# Prints one line per variant:
#   smoke VARIANT: ok marker=1.234s exit=2.345s uptime=0.80 cpus=1 memtotal_kb=...
set -euo pipefail
# shellcheck source=tests/harness/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_hw_kvm; then
	[ -z "${VESSEL_NESTED:-}" ] || harness_fail "no hardware-backed /dev/kvm inside the nested host"
	log "no hardware KVM here: running the smoke test inside the nested host"
	"$HARNESS_DIR/fetch-kernel.sh" >/dev/null
	exec "$HARNESS_DIR/nested-host.sh" "$HARNESS_DIR/smoke-qemu.sh" "$@"
fi

ensure_cmds qemu-system-x86:qemu-system-x86_64
eval "$("$HARNESS_DIR/fetch-kernel.sh")"
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(q35-1cpu q35-4cpu-4G microvm-1cpu)
timeout_s=${SMOKE_TIMEOUT:-180}

work=$(mktemp -d "${TMPDIR:-/tmp}/smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
token=$(random_token)
t0=$(now_ms)
build_guest_initrd "$work/initrd.cpio.gz" "$token"
log "guest initramfs built in $(($(now_ms) - t0)) ms"
t0=$(now_ms)
qemu-system-x86_64 -version >/dev/null
echo "smoke: qemu-system-x86_64 -version takes $(($(now_ms) - t0)) ms here (process start-up cost)"

# wait_marker FILE PID: prints ms until FILE contains the marker (or -1).
wait_marker() {
	local f=$1 pid=$2 start=$3
	while kill -0 "$pid" 2>/dev/null; do
		if grep -q VESSEL-USERSPACE-OK "$f" 2>/dev/null; then
			echo $(($(now_ms) - start))
			return
		fi
		sleep 0.05
	done
	grep -q VESSEL-USERSPACE-OK "$f" 2>/dev/null && echo $(($(now_ms) - start)) || echo -1
}
secs() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }

failed=0
for v in "${variants[@]}"; do
	smp=1 mem=512M
	case $v in
	q35-1cpu) machine=q35 ;;
	q35-4cpu-4G) machine=q35 smp=4 mem=4G ;;
	microvm-1cpu) machine=microvm,x-option-roms=off,pit=on,pic=on,rtc=on,isa-serial=on ;;
	*) die "unknown variant $v" ;;
	esac
	out=$work/$v.out
	cmdline="console=ttyS0 vessel_test=poweroff smoke_token=$token-$v"
	start=$(now_ms)
	timeout -k 5 "$timeout_s" qemu-system-x86_64 -accel kvm -cpu host \
		-M "$machine" -smp "$smp" -m "$mem" \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$KERNEL" -initrd "$work/initrd.cpio.gz" -append "$cmdline" \
		</dev/null >"$out" 2>"$work/$v.err" &
	pid=$!
	marker_ms=$(wait_marker "$out" "$pid" "$start")
	wait "$pid" && rc=0 || rc=$?
	exit_ms=$(($(now_ms) - start))
	tr -d '\r' <"$out" >"$out.txt"
	val() { grep -a -m1 "^$1=" "$out.txt" | cut -d= -f2- || true; }
	cpus=$(val VESSEL-CPUINFO) memkb=$(val VESSEL-MEMTOTAL-KB) up=$(val VESSEL-UPTIME)
	problems=()
	[ "$rc" -eq 0 ] || problems+=("qemu exit $rc")
	[ "$marker_ms" -ge 0 ] || problems+=("no VESSEL-USERSPACE-OK")
	[ "$cpus" = "$smp" ] || problems+=("cpus=$cpus want $smp")
	grep -q "smoke_token=$token-$v" "$out.txt" || problems+=("cmdline token missing")
	[ "$(val VESSEL-INITRD-TOKEN)" = "$token" ] || problems+=("initrd token missing")
	grep -q VESSEL-POWEROFF "$out.txt" || problems+=("no VESSEL-POWEROFF")
	if [ ${#problems[@]} -eq 0 ]; then
		echo "smoke $v: ok marker=$(secs "$marker_ms")s exit=$(secs "$exit_ms")s guest_uptime=${up}s cpus=$cpus memtotal_kb=$memkb"
	else
		failed=$((failed + 1))
		echo "smoke $v: FAIL (${problems[*]}) marker=$(secs "$marker_ms")s exit=$(secs "$exit_ms")s"
		echo "--- $v console (last 40 lines):"
		tail -n 40 "$out.txt"
		echo "--- $v qemu stderr:"
		tail -n 20 "$work/$v.err"
	fi
done
[ "$failed" -eq 0 ]

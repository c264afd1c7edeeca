#!/usr/bin/env bash
# bench/net.sh: virtio-net TCP bulk throughput of the same guest (Debian's
# stock kernel, the virtio test initramfs with bench/netload, 1 vCPU,
# 256 MiB, "console=ttyS0 quiet") under vessel and under QEMU q35
# (virtio-net-pci on a tap), each with vhost off and with vhost on:
#   net.g2h, net.h2g                vhost on: vessel against QEMU vhost=on
#   net.g2h.novhost, net.h2g.novhost vhost off (vessel's user-space path,
#                                   QEMU's): vessel against QEMU vhost=off
#   net.*.cpu                       CPU time of the VMM process (all its
#                                   threads: vCPU, I/O) plus the vhost
#                                   workers, per Gbit/s moved: % of one
#                                   core for 1 Gbit/s (lower is better)
# Each VM has its own tap, made beforehand (persistent, up, 10.81.N.1/24 on
# the host; the guest takes 10.81.N.2/24), so every VMM attaches to the
# same kind of device. The three VMs boot once and wait at their shell;
# then, per round, each direction is measured on every side in turn (the
# idle VMs sit at their prompt): the host listens with netload (bench/
# netload.c, static), the guest connects to it and
#   guest → host: the guest sends for BENCH_NET_SECS (3) s, the host receives
#   host → guest: the host sends for BENCH_NET_SECS s, the guest receives
# one TCP connection each; the host's netload reports the rate (bytes over
# the time from accepting the connection to the end of the stream, by the
# host's clock). BENCH_WARMUP (1) unmeasured rounds, then BENCH_RUNS (5).
# Needs root (taps). Run it through bench/run.sh.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:?VESSEL must name the vessel binary}"
runs=${BENCH_RUNS:-5}
warmup=${BENCH_WARMUP:-1}
secs=${BENCH_NET_SECS:-3}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, not '$warmup'"
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "BENCH_NET_SECS must be a positive integer, not '$secs'"
[ "$(id -u)" -eq 0 ] || die "the net benchmark needs root (it makes taps)"
ensure_cmds iproute2:ip
bench_virtio_setup

host_modprobe tun || die "cannot load the tun module on this host"
[ -c /dev/net/tun ] || die "no /dev/net/tun after loading tun"
sides=(vessel-vhost-on qemu-q35-vhost-on vessel-vhost-off qemu-q35-vhost-off)
if ! host_modprobe vhost_net || [ ! -c /dev/vhost-net ]; then
	warn "no /dev/vhost-net on this host: leaving out the vhost-on sides"
	bench_note all "net: no /dev/vhost-net on the host (module vhost_net), so no vhost-on sides"
	sides=(vessel-vhost-off qemu-q35-vhost-off)
fi

bench_metric net.g2h "virtio-net, vhost on: TCP bulk, guest → host over the tap (higher is better)" Mbit/s
bench_metric net.h2g "virtio-net, vhost on: TCP bulk, host → guest over the tap (higher is better)" Mbit/s
bench_metric net.g2h.cpu "virtio-net, vhost on: CPU per Gbit/s, guest → host: the VMM's threads and the vhost workers (lower is better)" "% of a core"
bench_metric net.h2g.cpu "virtio-net, vhost on: CPU per Gbit/s, host → guest (lower is better)" "% of a core"
bench_metric net.g2h.novhost "virtio-net, vhost off: TCP bulk, guest → host over the tap (higher is better)" Mbit/s
bench_metric net.h2g.novhost "virtio-net, vhost off: TCP bulk, host → guest over the tap (higher is better)" Mbit/s
bench_metric net.g2h.novhost.cpu "virtio-net, vhost off: CPU per Gbit/s, guest → host: the VMM's threads (lower is better)" "% of a core"
bench_metric net.h2g.novhost.cpu "virtio-net, vhost off: CPU per Gbit/s, host → guest (lower is better)" "% of a core"

# metric_of ID SIDE: the metric a sample of SIDE goes to; sample_side SIDE:
# the table's side for it (vessel, or QEMU's with its vhost mode).
metric_of() { case $2 in *-vhost-off) echo "$1.novhost" ;; *) echo "$1" ;; esac; }
sample_side() { case $1 in vessel-*) echo vessel ;; *) echo "$1" ;; esac; }

# cpu_ticks SIDE: sets TICKS, the clock ticks (utime + stime) used so far
# by SIDE's VMM process (every thread of it, the exited ones too) and by
# every vhost worker on the host (on Linux < 6.4 a kernel thread outside
# the process; only one VM moves data at a time, so the others' idle
# workers add nothing to a difference).
cpu_ticks() {
	local f t c pid
	# shellcheck disable=SC2034 # TICKS is read by the caller
	TICKS=0
	# (none when the VM is gone: then only the workers count)
	pid=$(pgrep -P "${SHVM_PID[net-$1]:-0}" 2>/dev/null | head -n1 || true)
	if [ -n "$pid" ] && read -r c 2>/dev/null <"/proc/$pid/stat"; then
		c=${c##*) }
		# shellcheck disable=SC2086 # split into fields: utime is 12, stime 13
		set -- $c
		[ $# -lt 13 ] || TICKS=$((${12} + ${13}))
	fi
	for f in /proc/[0-9]*/task/*/comm; do
		read -r t 2>/dev/null <"$f" || continue
		[[ $t == vhost-* ]] || continue
		c=${f%/comm}
		# a thread of the VMM (Linux >= 6.4): already counted
		[ ! -d "/proc/${pid:-none}/task/${c##*/}" ] || continue
		read -r c 2>/dev/null <"${f%/comm}/stat" || continue
		c=${c##*) }
		# shellcheck disable=SC2086
		set -- $c
		[ $# -lt 13 ] || TICKS=$((TICKS + ${12} + ${13}))
	done
}
HZ=$(getconf CLK_TCK)

d=$(mktemp -d "$BENCH_WORK/net.XXXXXX")
sfx=$(random_token | cut -c1-6)
declare -A tap net mac
i=0
for side in "${sides[@]}"; do
	tap[$side]=vbn$i-$sfx net[$side]=10.81.$i mac[$side]=52:54:00:81:00:0$i
	i=$((i + 1))
done
hostpids=()
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local side p
	for side in "${sides[@]}"; do
		[ -z "${SHVM_PID[net-$side]:-}" ] || bench_shvm_kill "net-$side"
	done
	# timeout passes SIGTERM on to netload.
	for p in ${hostpids[@]+"${hostpids[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for side in "${sides[@]}"; do ip link del "${tap[$side]}" 2>/dev/null || true; done
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

for side in "${sides[@]}"; do
	ip link show "${tap[$side]}" >/dev/null 2>&1 && die "${tap[$side]} exists already"
	ip tuntap add dev "${tap[$side]}" mode tap || die "cannot make the tap ${tap[$side]}"
	ip addr add "${net[$side]}.1/24" dev "${tap[$side]}"
	ip link set "${tap[$side]}" up
done

vm_cmd() { # SIDE: sets BENCH_CMD, the command that boots SIDE's guest
	local side=$1
	case $side in
	vessel-vhost-*)
		cat >"$d/$side.yaml" <<-YAML
			name: bench-net
			vcpus: $BENCH_VCPUS
			memory: ${BENCH_MEM_MIB}M
			kernel: $BENCH_KERNEL
			initrd: $BENCH_VIRTIO_INITRD
			cmdline: "$BENCH_VIRTIO_CMDLINE"
			on_reboot: exit
			rng: false
			nets:
			  - tap: ${tap[$side]}
			    mac: ${mac[$side]}
			    vhost: $([ "$side" = vessel-vhost-on ] && echo true || echo false)
		YAML
		BENCH_CMD=("$VESSEL" run "$d/$side.yaml")
		;;
	qemu-q35-vhost-*)
		# shellcheck disable=SC2054 # commas inside QEMU's arguments
		BENCH_CMD=("$BENCH_QEMU" -accel kvm -cpu host -M q35
			-smp "$BENCH_VCPUS" -m "${BENCH_MEM_MIB}M"
			-nodefaults -no-user-config -display none -no-reboot -serial stdio
			-kernel "$BENCH_KERNEL" -initrd "$BENCH_VIRTIO_INITRD" -append "$BENCH_VIRTIO_CMDLINE"
			-netdev "tap,id=n0,ifname=${tap[$side]},script=no,downscript=no,vhost=${side##*-}"
			-device "virtio-net-pci,netdev=n0,mac=${mac[$side]}")
		;;
	esac
}

for side in "${sides[@]}"; do
	vm_cmd "$side"
	case $side in
	vessel-*)
		bench_note vessel "net: \`vessel run\` ($("$VESSEL" version 2>/dev/null | head -n1 || echo '?')): vcpus: $BENCH_VCPUS, memory: ${BENCH_MEM_MIB}M, rng: false, nets: [{tap: TAP, mac: MAC, vhost: true|false}] (TAP made beforehand; one VM of each); the virtio initramfs, cmdline \"$BENCH_VIRTIO_CMDLINE\""
		;;
	*)
		qargs="${BENCH_CMD[*]}"
		qargs=${qargs//"$BENCH_WORK/"/}
		qargs=${qargs//"${tap[$side]}"/TAP}
		qargs=${qargs//"${mac[$side]}"/MAC}
		qargs=${qargs/-append $BENCH_VIRTIO_CMDLINE/-append \"$BENCH_VIRTIO_CMDLINE\"}
		bench_note "$side" "net: $("$BENCH_QEMU" --version | head -n1 | sed 's/ *Copyright.*//'): \`$qargs\`"
		;;
	esac
done

# Boot the VMs side by side; each waits at its shell, then sets up eth0.
# eth0_ok SIDE: eth0 up with its address, and the host end answers a ping.
# shellcheck disable=SC2317 # called by bench_vms_up
eth0_ok() {
	bench_shvm_cmd "net-$1" 60 "i=0; while [ ! -e /sys/class/net/eth0 ] && [ \$i -lt 200 ]; do sleep 0.1; i=\$((i+1)); done; ip link set lo up && ip addr add ${net[$1]}.2/24 dev eth0 && ip link set eth0 up && ping -c 1 -w 30 ${net[$1]}.1 >/dev/null && echo NET-UP"
	if [ "${SHVM_RC:-x}" != 0 ] || ! grep -q '^NET-UP' <<<"$SHVM_OUT"; then
		SHVM_WHY="${SHVM_WHY:-eth0 did not come up or could not reach ${net[$1]}.1: $(tr '\n' ' ' <<<"$SHVM_OUT" | cut -c1-200)}"
		return 1
	fi
}
bench_vms_up net $((BENCH_VM_TIMEOUT + (runs + warmup) * 2 * ${#sides[@]} * (secs + 30))) \
	"did not boot to its shell with a working eth0" eth0_ok "${sides[@]}"

declare -A failed why
for side in "${sides[@]}"; do failed[$side]=0 why[$side]=''; done
fail_run() { # SIDE WHY
	failed[$1]=$((failed[$1] + 1))
	case "; ${why[$1]}; " in *"; $2; "*) ;; *) why[$1]+="${why[$1]:+; }$2" ;; esac
}

port=20000
for ((r = 1 - warmup; r <= runs; r++)); do
	if [ "$r" -le 0 ]; then round="warm-up $((1 - r))"; else round="run $r"; fi
	for id in net.g2h net.h2g; do
		for side in "${sides[@]}"; do
			port=$((port + 1))
			err='' line='' gline='' hbytes='' hsecs='' gval='' gsecs=''
			if [ -n "${dead[$side]}" ]; then
				err=${dead[$side]}
			else
				# The host's end listens first; the guest's connects (retrying).
				if [ "$id" = net.g2h ]; then
					hostargs=(recv -l -p "$port" -w $((secs + 60)))
					guestcmd="netload send -c ${net[$side]}.1 -p $port -t $secs -w $((secs + 60))"
				else
					hostargs=(send -l -p "$port" -t "$secs" -w $((secs + 60)))
					guestcmd="netload recv -c ${net[$side]}.1 -p $port -w $((secs + 60))"
				fi
				timeout -k 5 $((secs + 65)) "$BENCH_TOOLS_DIR/netload" "${hostargs[@]}" >"$d/host.out" 2>&1 &
				hp=$!
				hostpids=("$hp")
				cpu_ticks "$side"
				t0=$TICKS w0=${EPOCHREALTIME/./}
				bench_shvm_cmd "net-$side" $((secs + 70)) "$guestcmd"
				cpu_ticks "$side"
				t1=$TICKS w1=${EPOCHREALTIME/./}
				hrc=0
				wait "$hp" || hrc=$?
				hostpids=()
				bench_line "$(<"$d/host.out")" 'NETLOAD ' line
				bench_line "$SHVM_OUT" 'NETLOAD ' gline
				if [ -z "$SHVM_RC" ]; then
					# Is the guest's kernel still there (it answers
					# pings), only its console silent?
					if ping -c 3 -W 2 "${net[$side]}.2" >/dev/null 2>&1; then
						SHVM_WHY+="; the guest still answers pings"
					else
						SHVM_WHY+="; the guest answers no pings either"
					fi
					dead[$side]="stopped answering: $SHVM_WHY"
					err=${dead[$side]}
					log "net: $side ${dead[$side]}; console tail:"
					bench_shvm_tail "net-$side" >&2
				elif [ "$SHVM_RC" != 0 ]; then
					err="the guest's netload exited $SHVM_RC: $(tr '\n' ' ' <<<"$SHVM_OUT" | cut -c1-200)"
				elif [ "$hrc" -ne 0 ]; then
					err="the host's netload exited $hrc: $(tr '\n' ' ' <"$d/host.out" | cut -c1-200)"
				fi
			fi
			bench_kv "$line" mbit_s val
			[ -n "$err" ] || [ -n "$val" ] || err="no result from the host's netload"
			if [ -n "$err" ]; then
				log "net $round: $id $side: FAILED ($err)"
				[ "$r" -le 0 ] || fail_run "$side" "$err"
				continue
			fi
			bench_kv "$line" bytes hbytes
			bench_kv "$line" secs hsecs
			bench_kv "$gline" mbit_s gval
			bench_kv "$gline" secs gsecs
			# CPU: % of one core over the command's wall time, per Gbit/s
			# (the rate over the same span: bytes / wall time).
			cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v us=$((w1 - w0)) -v b="$hbytes" \
				'BEGIN { if (us <= 0 || b <= 0) exit; pct = 100 * t / hz / (us / 1e6); gb = b * 8 / 1e9 / (us / 1e6); printf "%.1f", pct / gb }')
			log "net $round: $id $side: $val Mbit/s ($hbytes bytes in $hsecs s by the host; the guest's netload: $gval Mbit/s in $gsecs s by its clock); CPU $((t1 - t0)) ticks in $(((w1 - w0) / 1000)) ms: ${cpu:-?} % of a core per Gbit/s"
			if [ "$r" -gt 0 ]; then
				bench_sample "$(metric_of "$id" "$side")" "$(sample_side "$side")" "$val"
				[ -z "$cpu" ] || bench_sample "$(metric_of "$id" "$side").cpu" "$(sample_side "$side")" "$cpu"
			fi
		done
	done
done

for side in "${sides[@]}"; do
	bench_shvm_stop "net-$side" 60
	[ "$SHVM_EXIT" -eq 0 ] || [ -n "${dead[$side]}" ] ||
		bench_note "$side" "net: the VM did not power off cleanly at the end (status $SHVM_EXIT); see run/logs/net-$side.console"
done
for side in "${sides[@]}"; do
	bench_run_fail_note net "$side" "${failed[$side]}" $((runs * 2)) "${why[$side]}"
done
bench_note all "net: $runs measured rounds after $warmup warm-up round(s); in each, both directions run on each side in turn (${sides[*]}), all VMs up throughout (the idle ones at their shell prompt); one TCP connection per measurement, the sender writing 128 KiB buffers for $secs s (bench/netload.c, static, both ends); the rate is the host end's: bytes over the time from accepting the connection to the end of the stream; each VM on its own persistent tap with an address on the host, no bridge; default socket buffers and offloads; CPU per Gbit/s: the VMM process's utime + stime (all threads) plus every vhost worker's, over the wall time of the guest's command (its connection set-up included), divided by the Gbit/s moved in that time; guest kernel ${BENCH_KVERSION:-?}, $BENCH_VCPUS vCPU, $BENCH_MEM_MIB MiB; throughputs: a ratio below 1 means vessel is slower"
exit 0

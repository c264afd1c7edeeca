#!/usr/bin/env bash
# A 4-vCPU guest with every CPU busy survives snapshot and restore (issue
# #12): four shell busy loops, each pinned to one CPU with taskset, count
# as fast as they can and once a second print "SPIN cpu=C on=P n=N
# up=UPTIME" (P: the CPU the loop ran on, from /proc/self/stat). The host
# snapshots the running guest (it runs on), kills it, and restores it with
# `vessel start --restore`: on each of the 4 CPUs the loop goes on, its
# count above the last one printed before the snapshot, rising, on the CPU
# it is pinned to.
# test-timeout: 360
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

snap_init
name=t25
# Four busy vCPUs on the nested host's two: at a lower priority, so that
# the host itself (its heartbeat) keeps running; it stalled once without.
SNAP_NICE=10
# /proc/self/stat's 39th field is the CPU the reader last ran on (the
# comm field, "(sh)", has no spaces).
skip38=$(printf '_ %.0s' {1..38})
virtio_guest t25 <<SH
cat >/tmp/spin.sh <<'SPIN'
c=\$1 i=0 last=0
while :; do
	i=\$((i + 1))
	[ \$((i % 100)) = 0 ] || continue
	read -r up _x </proc/uptime
	s=\${up%.*}
	[ "\$s" != "\$last" ] || continue
	last=\$s
	read -r $skip38 cpu _y </proc/self/stat
	echo "SPIN cpu=\$c on=\$cpu n=\$i up=\$up"
done
SPIN
echo "VT-NPROC=\$(nproc)"
for c in 0 1 2 3; do
	taskset -c \$c sh /tmp/spin.sh \$c &
done
echo "VT-SPINNING"
wait
SH
virtio_config t25 256M 4 </dev/null

spin_re() { echo "^SPIN cpu=$1 on=[0-9]+ n=[0-9]+ up=[0-9.]+\$"; }
# spin_lines C [LIFE]: "N ON UPTIME" of CPU C's complete SPIN lines.
spin_lines() {
	snap_con "${2:-}"
	sed -nE "s/^SPIN cpu=$1 on=([0-9]+) n=([0-9]+) up=([0-9.]+)\$/\\2 \\1 \\3/p" "$T/life.${2:-$SNAP_LIFE}.console"
}

snap_start "$CFG" "$name"
snap_wait '^VT-SPINNING$'
[ "$(snap_value VT-NPROC)" = 4 ] || snap_fail "the guest has $(snap_value VT-NPROC) CPUs, want 4"
for c in 0 1 2 3; do snap_wait "$(spin_re $c)" 120 2; done
declare -A before
for c in 0 1 2 3; do
	before[$c]=$(spin_lines $c | awk 'END { print $1 }')
	bad=$(spin_lines $c | awk -v c=$c '$2 != c { print "on CPU " $2; exit }')
	[ -z "$bad" ] || snap_fail "the loop pinned to CPU $c ran $bad"
done
info "before the snapshot: counts ${before[0]} ${before[1]} ${before[2]} ${before[3]}"
up_before=$(spin_lines 0 | awk 'END { print $3 }')
snap_ok snapshot snapshot "$name" "$T/snap"
info "snapshot in $SNAP_CMD_MS ms ($(du -sh "$T/snap" | cut -f1) on disk)"
snap_ok stop stop --force "$name"

snap_restore_bg "$T/snap" "$name"
for c in 0 1 2 3; do snap_wait "$(spin_re $c)" 120 3; done
snap_con
! grep -qE '^(VESSEL-USERSPACE-OK|VESSEL-TEST-START|VT-SPINNING)$' "$SNAP_CON" ||
	snap_fail "the restored guest booted afresh"
for c in 0 1 2 3; do
	why=$(spin_lines $c | awk -v c=$c -v b="${before[$c]}" -v ub="$up_before" '
		$2 != c { print "ran on CPU " $2; exit }
		NR == 1 && $1 + 0 <= b + 0 { print "count " $1 " after the restore, " b " before the snapshot"; exit }
		NR > 1 && $1 + 0 <= n { print "count went from " n " to " $1; exit }
		NR == 1 && $3 + 0 < ub + 0 { print "uptime " $3 " after the restore, " ub " before the snapshot"; exit }
		{ n = $1 + 0 }')
	[ -z "$why" ] || snap_fail "CPU $c's loop after the restore: $why"
	info "CPU $c: counts after the restore $(spin_lines $c | awk '{ printf "%s ", $1 }')"
done
snap_ok stop2 stop --force "$name"
pass

#!/usr/bin/env bash
# Snapshot and restore the same guest 10 times in a row (issue #12): a
# guest (1 vCPU, 128 MiB, no devices) prints TICK N every 200 ms. Each
# round snapshots the current life and kills it, then `vessel start
# --restore` continues it: odd rounds `vessel snapshot NAME DIR` (the
# guest runs on after the save) and `vessel stop --force`, even rounds
# `vessel snapshot --stop NAME DIR`. Every restored life must continue the
# counter from where it was saved (not from 0, no boot banner, no clock
# going back) and keep ticking. Rounds 2, 3, 6, 7 and 10 save with
# --compress: the snapshot holds a zstd memory.z and no memory file.
# test-timeout: 600
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

rounds=${SNAP_ROUNDS:-10}
snap_init
name=t26
virtio_guest t26 <<SH
$SNAP_GUEST_FUNCS
snap_ticker 0.2
SH
virtio_config t26 128M 1 </dev/null

snap_start "$CFG" "$name"
snap_wait_ticks 5
for ((r = 1; r <= rounds; r++)); do
	prev=$SNAP_LIFE
	d=$T/snap.$r
	before=$(snap_last_tick)
	z=()
	((r % 4 < 2)) || z=(--compress)
	if ((r % 2)); then
		snap_ok snap$r snapshot "${z[@]}" "$name" "$d"
		sleep 0.3
		after=$(snap_last_tick)
		[ "$after" -gt "$before" ] || {
			sleep 2
			after=$(snap_last_tick)
			[ "$after" -gt "$before" ] || snap_fail "round $r: the guest stopped ticking after the snapshot (TICK $after)"
		}
		snap_ok stop$r stop --force "$name"
		snap_life_end
		# The restored life starts after a TICK printed before the save
		# (at least $before) and no later than one the killed life printed.
		lo=$((before + 1)) hi=$(($(snap_last_tick "$prev") + 2))
	else
		snap_ok snap$r snapshot --stop "${z[@]}" "$name" "$d"
		snap_life_end
		lo=$(($(snap_last_tick "$prev") + 1)) hi=$(($(snap_last_tick "$prev") + 2))
	fi
	if [ ${#z[@]} -gt 0 ]; then
		[ -f "$d/memory.z" ] && [ ! -e "$d/memory" ] || snap_fail "round $r: --compress left $(ls "$d" | tr '\n' ' '), want memory.z and no memory"
		[ "$(od -An -tx1 -N4 "$d/memory.z" | tr -d ' ')" = 28b52ffd ] || snap_fail "round $r: memory.z is not a zstd frame"
	fi
	info "round $r${z[*]:+ (--compress)}: saved in $SNAP_CMD_MS ms ($(du -sh "$d" | cut -f1) on disk); life $prev's last TICK $(snap_last_tick "$prev")"
	snap_restore_bg "$d" "$name"
	snap_wait_ticks 3 120
	snap_expect_continued "$prev" "$lo" "$hi"
	# The snapshot before last is no longer needed (tmpfs space).
	[ "$r" -lt 2 ] || rm -rf "$T/snap.$((r - 1))"
done
info "$rounds rounds; the last life is at TICK $(snap_last_tick)"
snap_ok stop-last stop --force "$name"
pass

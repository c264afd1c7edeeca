#!/usr/bin/env bash
# tests/appliance/run.sh: the appliance suite (issue #14) as `make test`
# runs it: build.sh (the image builder, host only), init.sh (vessel as
# PID 1, four QEMU boots of a hand-made initramfs) and boot.sh (the example
# built and booted end to end under OVMF), one after the other, each under
# a time limit. Prints what they print, then the sum as
# `N passed, N failed, N skipped`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export VESSEL=${VESSEL:-$here/../../vessel}
pass=0 fail=0 skip=0
for t in build:900 init:1200 boot:1800; do
	name=${t%%:*} limit=${t#*:}
	echo "# appliance: $name.sh"
	out=$(mktemp)
	t0=$SECONDS
	if [ "$name" = init ]; then
		timeout -k 10 "$limit" flock /tmp/vessel-appliance-qemu.lock "$here/$name.sh" 2>&1 | tee "$out"
	else
		timeout -k 10 "$limit" "$here/$name.sh" 2>&1 | tee "$out"
	fi
	rc=${PIPESTATUS[0]}
	line=$(grep -aE '^([a-z-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$out" | tail -n1)
	rm -f "$out"
	echo "# appliance: $name.sh took $((SECONDS - t0)) s"
	if [ -z "$line" ]; then
		[ "$rc" -eq 124 ] && echo "FAIL $name.sh: hang: no result within $limit s" ||
			echo "FAIL $name.sh: exited $rc without a result line"
		fail=$((fail + 1))
		continue
	fi
	read -r p f s <<<"$(sed -E 's/^([a-z-]+: )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\2 \3 \5/' <<<"$line")"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + ${s:-0}))
	if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then
		echo "FAIL $name.sh: exited $rc"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

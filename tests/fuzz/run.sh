#!/usr/bin/env bash
# Run each libFuzzer target for FUZZ_SECONDS (default 30) on its corpus:
#   tests/fuzz/run.sh BUILDDIR TARGET...
# Seeds come from seeds.py; what the fuzzer finds stays in
# BUILDDIR/corpus/TARGET for the next run. Prints ok/FAIL per target with
# the executions reached, and "N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
B=$1
shift
SECS=${FUZZ_SECONDS:-30}
pass=0 fail=0
python3 "$HERE/seeds.py" "$B/seeds" || { echo "FAIL seeds"; exit 1; }
for t in "$@"; do
	mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
	log=$B/$t.log
	"$B/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" \
		"$B/corpus/$t" "$B/seeds/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" = 0 ]; then
		echo "ok fuzz_$t: ${runs:-?} executions in $SECS s, corpus $(ls "$B/corpus/$t" | wc -l)"
		pass=$((pass + 1))
	else
		echo "FAIL fuzz_$t: exit $rc (crash input in $B/artifacts/$t/)"
		grep -E "ERROR|SUMMARY|#0|#1|#2|#3" "$log" | head -20 | sed 's/^/    | /'
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

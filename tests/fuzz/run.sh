#!/usr/bin/env bash
# Run each libFuzzer target for FUZZ_SECONDS (default 30) on its corpus:
#   tests/fuzz/run.sh BUILDDIR TARGET...
# FUZZ_JOBS targets run at a time (default: the number of CPUs), each on one
# core. Seeds come from seeds.py; what the fuzzer finds stays in
# BUILDDIR/corpus/TARGET for the next run. Prints ok/FAIL per target (in the
# order given) with the executions reached, and "N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
B=$1
shift
SECS=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-$(nproc)}
python3 "$HERE/seeds.py" "$B/seeds" || { echo "FAIL seeds"; exit 1; }

# one TARGET: runs it; writes its ok/FAIL line(s) to $B/TARGET.result.
one() {
	local t=$1 log=$B/$1.log rc runs
	mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
	"$B/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" \
		"$B/corpus/$t" "$B/seeds/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" = 0 ]; then
		echo "ok fuzz_$t: ${runs:-?} executions in $SECS s, corpus $(ls "$B/corpus/$t" | wc -l)"
	else
		echo "FAIL fuzz_$t: exit $rc (crash input in $B/artifacts/$t/)"
		grep -E "ERROR|SUMMARY|#0|#1|#2|#3" "$log" | head -20 | sed 's/^/    | /'
	fi >"$B/$t.result"
}

running=0
for t in "$@"; do
	rm -f "$B/$t.result"
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	one "$t" &
	running=$((running + 1))
done
wait
pass=0 fail=0
for t in "$@"; do
	if [ -f "$B/$t.result" ]; then cat "$B/$t.result"; else echo "FAIL fuzz_$t: no result"; fi
	if grep -q '^ok ' "$B/$t.result" 2>/dev/null; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# Runs each cmocka unit-test binary given as an argument and counts its
# tests. A skipped test is reported as `SKIP BINARY/TEST: why` (its
# "skipped: why" message, if it printed one); a binary that died without
# its summary (a crash, a sanitizer report) counts as one failure. Ends
# with `unit: N passed, N failed, N skipped`; exits non-zero if any failed.
set -u
pass=0 fail=0 skip=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	# Per test: [ RUN ] NAME, its messages, then [ OK ] / [ FAILED ] /
	# [ ERROR ] / [ SKIPPED ] NAME. The summary's lists come after no RUN.
	res=$(awk -v bin="${t##*/}" '
		/^\[ RUN      \] / { cur = $4; why = ""; next }
		cur != "" && /^skipped: / { why = substr($0, 10) }
		cur != "" && $0 ~ "^\\[       OK \\] " cur "$" { p++; cur = "" }
		cur != "" && ($0 ~ "^\\[  FAILED  \\] " cur "$" || $0 ~ "^\\[  ERROR   \\] " cur "$") { f++; cur = "" }
		cur != "" && $0 ~ "^\\[  SKIPPED \\] " cur "$" {
			s++
			printf "SKIP %s/%s: %s\n", bin, cur, why == "" ? "skipped (no reason given)" : why
			cur = ""
		}
		END { print p + 0, f + 0, s + 0 }' "$out")
	grep '^SKIP ' <<<"$res"
	read -r p f s <<<"$(tail -n1 <<<"$res")"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail=$((fail + 1))
		echo "FAIL ${t##*/}: exit status $rc without a failed test (crashed?)"
	elif [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		echo "FAILED: $t"
	fi
done
echo "unit: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

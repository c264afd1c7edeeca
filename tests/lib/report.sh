# shellcheck shell=bash
# What every test suite prints: `ok NAME`, `FAIL NAME: why` (with up to
# REPORT_LINES lines of a log file, indented; REPORT_TAIL=1 takes its last
# lines instead of its first), `SKIP NAME: why`, and at the end
# `N passed, N failed[, N skipped]` (the exit status: 0 when none failed).
# Sourced; tests/run-all.sh reads the closing line.
pass=0 fail=0 skip=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL $1: $2"
	fail=$((fail + 1))
	if [ -n "${3:-}" ] && [ -f "$3" ]; then
		if [ -n "${REPORT_TAIL:-}" ]; then
			sed 's/^/    | /' "$3" | tail -n "${REPORT_LINES:-30}"
		else
			sed 's/^/    | /' "$3" | head -n "${REPORT_LINES:-30}"
		fi
	fi
}
skipped() { echo "SKIP $1: $2"; skip=$((skip + 1)); }
# pick_tests ALL CGROUP [NAME...]: the tests to run: the NAMEs given, else
# CGROUP (the tests that depend on the cgroup hierarchy) with
# TEST_SET=cgroup, else ALL.
pick_tests() {
	local all=$1 cgroup=$2
	shift 2
	if [ $# -gt 0 ]; then
		echo "$*"
	elif [ "${TEST_SET:-all}" = cgroup ]; then
		echo "$cgroup"
	else
		echo "$all"
	fi
}
finish() {
	if [ "$skip" -gt 0 ]; then
		echo "$pass passed, $fail failed, $skip skipped"
	else
		echo "$pass passed, $fail failed"
	fi
	[ "$fail" -eq 0 ]
	exit
}

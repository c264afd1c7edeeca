#!/usr/bin/env bash
# Usage and config errors end vessel with status 2 before any guest runs.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# try WHAT ARGS...: `vessel ARGS` must exit 2 within 20 s.
try() {
	local what=$1
	shift
	RC=0
	timeout -k 5 20 "$VESSEL" "$@" </dev/null >"$T/stdout" 2>"$T/stderr" || RC=$?
	info "$what: status $RC: $(head -c 200 "$T/stderr" | tr '\n' ' ')"
	[ "$RC" -eq 2 ] || fail "$what: vessel exit status $RC, want 2"
}

try "no arguments"
try "run without a file" run
try "unknown command" no-such-command
try "missing config file" run "$T/does-not-exist.yaml"

guest_config bad-vcpus 0 512M poweroff
try "vcpus: 0" run "$CFG"
guest_config bad-reboot 1 512M poweroff sometimes
try "on_reboot: sometimes" run "$CFG"
guest_config bad-mem 1 lots poweroff
try "memory: lots" run "$CFG"
write_config bad-yaml <<'YAML'
name: [unclosed
vcpus: 1
YAML
try "malformed YAML" run "$CFG"
CFG=
pass

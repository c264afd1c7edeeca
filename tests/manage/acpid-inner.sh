#!/usr/bin/env bash
# The acpid test proper (tests/manage/acpid.sh runs it, in the nested KVM
# host unless /dev/kvm is hardware-backed): `vessel start` a Debian kernel
# whose initramfs runs busybox acpid, then `vessel stop`: the power-button
# press must run the guest's own shutdown (its marker, then an ACPI
# poweroff) well before the hard-stop timeout.
#   env: VESSEL, TEST_ACPID_DIR (vmlinuz, initrd.cpio.gz, acpid.yaml)
set -u
: "${VESSEL:?}" "${TEST_ACPID_DIR:?}"
VESSEL_RUN_DIR=$(mktemp -d /tmp/acpid-run.XXXXXX)
export VESSEL_RUN_DIR
out=$VESSEL_RUN_DIR.out
name=acpid-guest
cleanup() {
	timeout 30 "$VESSEL" stop --force "$name" >/dev/null 2>&1
	[ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null
	rm -rf "$VESSEL_RUN_DIR" "$out"
}
trap cleanup EXIT
fail() {
	echo "FAIL acpid_power_button: $1"
	[ -f "$out" ] && tail -n 30 "$out" | sed 's/^/    | /'
	exit 1
}

# boot_guest: `vessel start`, then wait until the guest's acpid is ready,
# watching one `vessel logs -f` (one connection, rather than a `vessel
# logs` every few seconds: see below). A nested Debian kernel reaches init
# in about 10 s; allow 240 s. Returns 1 if the guest crashed or hung
# first, with the reason in $why.
boot_guest() {
	local deadline lpid
	timeout 300 "$VESSEL" start "$TEST_ACPID_DIR/acpid.yaml" || fail "start failed"
	timeout 300 "$VESSEL" logs -f "$name" >"$out" 2>&1 &
	lpid=$!
	deadline=$(($(date +%s) + 240))
	why="the guest did not get acpid running within 240 s"
	while [ "$(date +%s)" -lt $deadline ]; do
		if grep -aq "ACPID-READY" "$out"; then
			why=''
			break
		fi
		if grep -aq "ACPID-NO-INPUT-DEVICE\|ACPID-INSMOD-FAILED" "$out"; then
			kill "$lpid" 2>/dev/null
			fail "the guest has no power-button input device"
		fi
		if ! kill -0 "$lpid" 2>/dev/null; then
			why="the guest ended before acpid was ready: $(grep -a '^\[vessel: ' "$out" | tail -n1)"
			break
		fi
		sleep 1
	done
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	[ -z "$why" ]
}

# Inside the nested host (QEMU TCG emulating SVM) this guest has been seen
# to triple-fault early in boot (3 of 7 boots under `vessel start` with a
# `vessel logs` every 0.5 s, 0 of 12 under `vessel run`), and in the same
# runs the nested host's own kernel panicked in vessel's process (a kernel
# stack overflow in its page-fault path): the emulated SVM is suspect, not
# proven (tests/harness/README.md). So a boot that fails is reported here
# with its log and tried again (3 attempts in all); a third failure fails it.
why=''
attempt=1
until boot_guest; do
	[ $attempt -lt 3 ] || fail "$why (attempt $attempt of 3)"
	echo "note acpid_power_button: attempt $attempt: $why; trying again. Its log:"
	tail -n 25 "$out" | sed 's/^/    | /'
	timeout 60 "$VESSEL" stop --force "$name" >/dev/null 2>&1
	attempt=$((attempt + 1))
done
timeout 600 "$VESSEL" logs -f "$name" >"$out" 2>&1 &
fpid=$!
sleep 0.5
t0=$(date +%s)
timeout 300 "$VESSEL" stop --timeout 240 "$name" || fail "stop failed"
dt=$(($(date +%s) - t0))
wait "$fpid"
fpid=
grep -aq "ACPID-POWER-BUTTON-MARKER" "$out" || fail "acpid's script did not run"
grep -aq "the guest powered off" "$out" || fail "the guest did not power off"
[ "$dt" -lt 240 ] || fail "the hard stop did it, after $dt s"
echo "ok acpid_power_button (guest shut itself down in $dt s)"

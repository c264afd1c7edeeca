#!/usr/bin/env bash
# Entry point of `make integration` (env VESSEL: absolute path of vessel).
# With a hardware-backed /dev/kvm (kvm_intel or kvm_amd loaded) it runs
# tests/integration/run-all.sh here; otherwise (no /dev/kvm, or a software
# one such as kvm_pvm, far too slow for a Linux guest) it runs the suite
# once inside a nested KVM host booted with QEMU TCG (nested-host.sh).
# Exit status: run-all.sh's; 124/125 for a harness failure (see
# nested-host.sh). INTEGRATION_MODE=direct|nested forces a mode.
set -euo pipefail
# shellcheck source=tests/harness/lib.sh
. "$(dirname "$0")/lib.sh"

: "${VESSEL:=$REPO/vessel}"
case $VESSEL in /*) ;; *) VESSEL=$PWD/$VESSEL ;; esac
export VESSEL
[ -x "$VESSEL" ] || die "VESSEL=$VESSEL is not an executable (run make first)"
suite=$REPO/tests/integration/run-all.sh
# In the nested host the container tests run too, under cgroup v2.
nested_suite=$HARNESS_DIR/nested-suite.sh

mode=${INTEGRATION_MODE:-}
if [ -z "$mode" ]; then
	if have_hw_kvm; then mode=direct; else mode=nested; fi
fi
case $mode in
direct)
	log "hardware-backed /dev/kvm: running the integration tests directly"
	exec "$suite"
	;;
nested)
	[ -z "${VESSEL_NESTED:-}" ] || harness_fail "already inside the nested host, yet no hardware-backed /dev/kvm"
	if [ -c /dev/kvm ]; then
		log "/dev/kvm here is not hardware-backed (modules: $(cd /sys/module && echo kvm*)); running the tests in a nested KVM host"
	else
		log "no /dev/kvm here; running the tests in a nested KVM host (QEMU TCG)"
	fi
	if ! command -v qemu-system-x86_64 >/dev/null 2>&1 &&
		{ [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; }; then
		die "no hardware KVM and no qemu-system-x86_64 to build a nested KVM host: install qemu-system-x86 or run on a machine with /dev/kvm (kvm_intel/kvm_amd)"
	fi
	ensure_cmds qemu-system-x86:qemu-system-x86_64 busybox-static:/bin/busybox cpio:cpio
	# Fetch the kernel out here: the nested host reads it from the cache.
	"$HARNESS_DIR/fetch-kernel.sh" >/dev/null || die "fetching the kernel failed"
	# test_15's systemd disk image: debootstrap needs the network, which
	# the nested host lacks, so it is built (and cached) out here.
	if [ -z "${TEST_FILTER:-}" ] || [[ test_15_systemd_blk =~ $TEST_FILTER ]]; then
		run_timeout 1200 "$REPO/tests/integration/systemd-vm-image.sh" >/dev/null ||
			warn "could not build test_15's systemd disk image: test_15 will SKIP"
	fi
	mkdir -p "$CACHE/tmp"
	# If the nested host hangs and is booted again, the tests that already
	# passed are not run twice (run-all.sh); on the repo share, not tmpfs.
	mkdir -p "$CACHE/nested"
	TEST_PASSED_FILE=$(mktemp "$CACHE/nested/integration-passed.XXXXXX")
	export TEST_PASSED_FILE
	trap 'rm -f "$TEST_PASSED_FILE"' EXIT
	"$HARNESS_DIR/nested-host.sh" "$nested_suite"
	;;
*) die "INTEGRATION_MODE must be direct or nested, not $mode" ;;
esac

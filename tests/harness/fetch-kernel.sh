#!/usr/bin/env bash
# Fetches (once) the newest Debian 12 linux-image-6.1.0-NN-amd64 package and
# unpacks it into $CACHE/kernel/VERSION (with a generated modules.dep);
# $CACHE/kernel/current points at it. Prints shell assignments:
#   KERNEL=/abs/vmlinuz  MODDIR=/abs/lib/modules/VERSION  KVERSION=VERSION
# so callers do: eval "$(tests/harness/fetch-kernel.sh)"
# Env: KERNEL_REFRESH=1 re-checks apt for a newer package even when one is
#      cached; KERNEL_DEB=/path/to.deb unpacks that package instead of fetching.
#      KERNEL_FLAVOUR=rt-amd64 fetches linux-image-6.1.0-NN-rt-amd64 (PREEMPT_RT)
#      instead, the same NN as the cached amd64 kernel if there is one;
#      $CACHE/kernel/current-rt-amd64 points at it.
set -euo pipefail
# shellcheck source=tests/harness/lib.sh
. "$(dirname "$0")/lib.sh"

kdir=$CACHE/kernel
mkdir -p "$kdir"
flavour=${KERNEL_FLAVOUR:-amd64}
case $flavour in
amd64) current=$kdir/current ;;
rt-amd64) current=$kdir/current-$flavour ;;
*) die "KERNEL_FLAVOUR must be amd64 or rt-amd64, not $flavour" ;;
esac

emit() { # emit DIR: print the assignments for an unpacked kernel dir
	local d=$1 v
	v=$(basename "$(readlink -f "$d")")
	printf 'KERNEL=%q\nMODDIR=%q\nKVERSION=%q\n' \
		"$d/boot/vmlinuz-$v" "$d/lib/modules/$v" "$v"
}
valid() { # valid DIR: an unpacked kernel with its modules.dep
	local d=$1 v
	[ -d "$d" ] || return 1
	v=$(basename "$(readlink -f "$d")")
	[ -f "$d/boot/vmlinuz-$v" ] && [ -s "$d/lib/modules/$v/modules.dep" ]
}

# One fetch at a time (parallel callers wait for the first).
exec 9>"$kdir/.lock"
run_timeout 900 flock 9 || die "timed out waiting for $kdir/.lock"

if [ -z "${KERNEL_REFRESH:-}" ] && [ -z "${KERNEL_DEB:-}" ] && valid "$current"; then
	emit "$(readlink -f "$current")"
	exit 0
fi

ensure_cmds dpkg:dpkg-deb kmod:depmod

deb=${KERNEL_DEB:-}
if [ -z "$deb" ]; then
	ensure_cmds apt:apt-get
	newest() {
		if [ "$flavour" != amd64 ] && valid "$kdir/current"; then
			# The same ABI as the standard kernel the tests use.
			local v
			v=$(basename "$(readlink -f "$kdir/current")")
			echo "linux-image-${v%-amd64}-$flavour"
			return
		fi
		apt-cache search --names-only "^linux-image-6\\.1\\.0-[0-9]+-$flavour\$" 2>/dev/null |
			awk '{print $1}' | sort -V | tail -n1
	}
	pkg=$(newest)
	if [ -z "$pkg" ]; then
		log "apt-get update (no linux-image-6.1.0-*-amd64 in the package lists)"
		apt_get update -qq >&2 || warn "apt-get update failed"
		pkg=$(newest)
	fi
	[ -n "$pkg" ] || die "no linux-image-6.1.0-NN-$flavour package found via apt-cache"
	version=${pkg#linux-image-}
	if valid "$kdir/$version"; then
		ln -sfn "$version" "$current"
		emit "$kdir/$version"
		exit 0
	fi
	log "downloading $pkg"
	mkdir -p "$kdir/dl"
	rm -f "$kdir/dl/"*.deb
	(cd "$kdir/dl" && run_timeout 900 apt-get download -q "$pkg" </dev/null >&2) ||
		die "apt-get download $pkg failed"
	deb=$(ls "$kdir/dl/${pkg}_"*.deb)
fi

[ -f "$deb" ] || die "no such package file: $deb"
tmp=$kdir/.unpack.$$
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
log "unpacking $(basename "$deb")"
run_timeout 600 dpkg-deb -x "$deb" "$tmp"
vmlinuz=$(find "$tmp/boot" -maxdepth 1 -name "vmlinuz-*" 2>/dev/null | head -n1)
[ -n "$vmlinuz" ] || die "$deb has no boot/vmlinuz-*"
version=${vmlinuz##*/vmlinuz-}
[ -d "$tmp/lib/modules/$version" ] || die "$deb has no lib/modules/$version"
# Keep the kernel and its modules only (drop docs etc.).
rm -rf "${tmp:?}/usr" "${tmp:?}/etc"
log "depmod $version"
run_timeout 300 depmod -b "$tmp" "$version" >&2 || die "depmod failed"
rm -rf "${kdir:?}/$version"
mv "$tmp" "$kdir/$version"
trap - EXIT
ln -sfn "$version" "$current"
rm -rf "$kdir/dl"
emit "$kdir/$version"

#!/usr/bin/env bash
# Builds a busybox initramfs (newc cpio, gzip).
#   mkinitramfs.sh OUT.cpio.gz --init SCRIPT [--modules "mod1 mod2"]
#                  [--file SRC:DEST ...] [--moddir DIR]
# Contents: busybox-static with symlinks for all its applets, /dev /proc /sys
# /tmp /run /root /etc, SCRIPT as /init, and the given kernel modules plus
# their dependencies (resolved via modules.dep) under /lib/modules/VERSION.
# /lib/modules/load-order lists the module files in a valid insmod order.
# Without --moddir the modules come from fetch-kernel.sh (or $MODDIR).
set -euo pipefail
# shellcheck source=tests/harness/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 OUT.cpio.gz --init SCRIPT [--modules \"m1 m2\"] [--file SRC:DEST ...] [--moddir DIR]" >&2
	exit 2
}

out='' init='' modules='' moddir=${MODDIR:-}
files=()
[ $# -ge 1 ] || usage
out=$1
shift
while [ $# -gt 0 ]; do
	case $1 in
	--init) init=${2:?}; shift 2 ;;
	--modules) modules=${2?}; shift 2 ;;
	--file) files+=("${2:?}"); shift 2 ;;
	--moddir) moddir=${2:?}; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$init" ] || usage
[ -f "$init" ] || die "no init script: $init"

ensure_cmds busybox-static:/bin/busybox cpio:cpio gzip:gzip
busybox=/bin/busybox
file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked' &&
	die "$busybox is dynamically linked; install busybox-static"

stage=$(mktemp -d "${TMPDIR:-/tmp}/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,mnt,lib/modules}
chmod 1777 "$stage/tmp"

# busybox and one symlink per applet (busybox --list-full: "usr/bin/awk").
cp "$busybox" "$stage/bin/busybox"
# As root, one busybox process makes them all (fast even in a slow nested
# host); otherwise one ln per applet.
if [ "$(id -u)" -ne 0 ] || ! chroot "$stage" /bin/busybox --install -s 2>/dev/null; then
	while read -r applet; do
		if [ -z "$applet" ] || [ -e "$stage/$applet" ]; then continue; fi
		mkdir -p "$stage/$(dirname "$applet")"
		ln -s /bin/busybox "$stage/$applet"
	done < <("$busybox" --list-full)
fi
[ -e "$stage/bin/sh" ] || ln -s busybox "$stage/bin/sh"

# Device nodes the kernel wants before devtmpfs is up (needs root; the
# kernel's built-in initramfs has /dev/console anyway).
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$stage/dev/null" c 1 3 2>/dev/null || true

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"

cp "$init" "$stage/init"
chmod 755 "$stage/init"

# Kernel modules, in dependency (load) order.
: >"$stage/lib/modules/load-order"
if [ -n "${modules// /}" ]; then
	if [ -z "$moddir" ]; then
		eval "$("$HARNESS_DIR/fetch-kernel.sh")"
		moddir=$MODDIR
	fi
	dep=$moddir/modules.dep
	[ -s "$dep" ] || die "no modules.dep in $moddir (run depmod -b ROOT VERSION)"
	kver=$(basename "$moddir")
	# modpath NAME: the modules.dep key of module NAME ('-' and '_' alike).
	modpath() {
		local want=${1//-/_}
		awk -F: -v want="$want" '{
			n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n)
			if (n == want) { print $1; exit }
		}' "$dep"
	}
	order=()
	add() { # add PATH: append PATH unless already listed
		local p
		for p in "${order[@]}"; do [ "$p" = "$1" ] && return 0; done
		order+=("$1")
	}
	for m in $modules; do
		p=$(modpath "$m")
		if [ -z "$p" ]; then
			if grep -qE "/${m//[-_]/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null; then
				log "module $m is built in; skipping"
				continue
			fi
			die "module $m not found in $dep"
		fi
		# modules.dep lists dependencies so that the last must load first.
		read -r -a deps <<<"$(grep -m1 "^$p:" "$dep" | cut -d: -f2)"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add "${deps[i]}"; done
		add "$p"
	done
	for p in "${order[@]}"; do
		mkdir -p "$stage/lib/modules/$kver/$(dirname "$p")"
		case $p in
		*.ko) cp "$moddir/$p" "$stage/lib/modules/$kver/$p" ;;
		*.ko.xz) xz -dc "$moddir/$p" >"$stage/lib/modules/$kver/${p%.xz}" ;;
		*.ko.zst) zstd -qdc "$moddir/$p" >"$stage/lib/modules/$kver/${p%.zst}" ;;
		*.ko.gz) gzip -dc "$moddir/$p" >"$stage/lib/modules/$kver/${p%.gz}" ;;
		esac
		p=${p%.xz} p=${p%.zst} p=${p%.gz}
		echo "/lib/modules/$kver/$p" >>"$stage/lib/modules/load-order"
	done
	cp "$dep" "$stage/lib/modules/$kver/modules.dep"
fi

for f in ${files[@]+"${files[@]}"}; do
	src=${f%%:*} dst=${f#*:}
	if [ "$src" = "$f" ] || [ -z "$dst" ]; then die "--file wants SRC:DEST, got $f"; fi
	[ -e "$src" ] || die "no such file: $src"
	mkdir -p "$stage/$(dirname "$dst")"
	cp -a "$src" "$stage/$dst"
done

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) | gzip -6n >"$out.tmp"
mv "$out.tmp" "$out"
log "built $out ($(du -h "$out" | cut -f1); modules: $(wc -l <"$stage/lib/modules/load-order"))"

# shellcheck shell=bash
# Shared helpers for the vessel test harness. Source it; do not run it.
#   HARNESS_DIR  this directory        REPO   the repository root
#   CACHE        $REPO/.cache (git-ignored; override with VESSEL_CACHE)

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS_DIR/../.." && pwd)
CACHE=${VESSEL_CACHE:-$REPO/.cache}
export HARNESS_DIR REPO CACHE

# Exit codes with a fixed meaning across the harness scripts.
# shellcheck disable=SC2034 # used by the scripts that source this
readonly H_EXIT_HARNESS=125 # the harness itself failed (nested host hung, ...)
# shellcheck disable=SC2034
readonly H_EXIT_TIMEOUT=124 # a step ran out of time
# shellcheck disable=SC2034
# A script run by nested-host.sh asks for a fresh nested host with this.
readonly NESTED_EXIT_FRESH=75

log() { printf '[harness %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { log "warning: $*"; }
die() {
	log "error: $*"
	exit 1
}
# harness_fail MSG: a failure of the test machinery, not of the code under test.
harness_fail() {
	log "harness failure: $*"
	exit "$H_EXIT_HARNESS"
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# cpu_ticks: "busy total" jiffies of all CPUs of this machine since boot;
# cpu_busy BEFORE AFTER: the percentage of CPU time busy between the two.
cpu_ticks() {
	local _ user nice sys idle iowait irq softirq steal
	read -r _ user nice sys idle iowait irq softirq steal _ </proc/stat
	echo "$((user + nice + sys + irq + softirq + steal)) $((user + nice + sys + idle + iowait + irq + softirq + steal))"
}
cpu_busy() {
	local b0 a0 b1 a1
	read -r b0 a0 <<<"$1"
	read -r b1 a1 <<<"$2"
	[ $((a1 - a0)) -gt 0 ] || { echo -; return; }
	echo $(((b1 - b0) * 100 / (a1 - a0)))
}

# proc_tree PID: PID and its descendants, one a line, breadth first.
proc_tree() {
	local todo=("$1") p c
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		[ -d "/proc/$p" ] || continue
		echo "$p"
		# shellcheck disable=SC2013 # pids, one or more a line
		for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do todo+=("$c"); done
	done
}

# vmm_pids PID: a VMM's processes, one a line: PID, its descendants
# (proc_tree), and the vhost workers they own (kernel threads named after
# their owner, Linux < 6.4).
vmm_pids() {
	local p
	for p in $(proc_tree "$1"); do
		echo "$p"
		pgrep -x "vhost-$p" 2>/dev/null || true
	done
}

# proc_threads PID: every thread of the VMM PID (vmm_pids), one line each:
# pid/tid, name, state, CPU ticks used over one second, wchan, and the top
# of its kernel stack (readable by root). What a VMM is doing when its
# guest stops answering: a vCPU halted in kvm_vcpu_block waiting for an
# interrupt, a vCPU running, a thread stuck on a futex.
proc_threads() {
	local pids p t f st name wchan stack
	local -A t0
	mapfile -t pids < <(vmm_pids "$1")
	for p in "${pids[@]}"; do
		for t in /proc/"$p"/task/*; do
			read -ra f <<<"$(sed 's/.*) //' "$t/stat" 2>/dev/null)"
			t0[$t]=$((${f[11]:-0} + ${f[12]:-0}))
		done
	done
	sleep 1
	for p in "${pids[@]}"; do
		for t in /proc/"$p"/task/*; do
			read -ra f <<<"$(sed 's/.*) //' "$t/stat" 2>/dev/null)" || continue
			[ ${#f[@]} -gt 12 ] || continue
			st=${f[0]}
			name=$(cat "$t/comm" 2>/dev/null)
			wchan=$(cat "$t/wchan" 2>/dev/null)
			stack=$(awk '{ sub(/\+0x.*/, "", $2); printf "%s%s", (NR > 1 ? " < " : ""), $2 } NR == 6 { exit }' "$t/stack" 2>/dev/null)
			printf '%s/%s %s state %s cpu %s ticks/s wchan %s stack %s\n' "$p" "${t##*/}" "$name" "$st" \
				"$((f[11] + f[12] - ${t0[$t]:-0}))" "${wchan:-?}" "${stack:-?}"
		done
	done
}

# run_timeout SECS CMD...: CMD with a time limit; SIGTERM at SECS, SIGKILL
# 10 s later. Returns CMD's status, or 124 if it timed out (137 if killed).
run_timeout() {
	local secs=$1
	shift
	timeout -k 10 "$secs" "$@"
}

# ensure_cmds PKG:CMD ...: apt-get installs PKG when CMD is missing (root +
# Debian only; otherwise dies with what to install).
ensure_cmds() {
	local spec pkg cmd missing=()
	for spec in "$@"; do
		pkg=${spec%%:*} cmd=${spec#*:}
		if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$cmd" ]; then
			missing+=("$pkg")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		die "missing packages: ${missing[*]} (install them, e.g. apt-get install ${missing[*]})"
	fi
	log "installing ${missing[*]}"
	apt_get update -qq || warn "apt-get update failed"
	apt_get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# apt_get ARGS...: non-interactive apt-get with a time limit.
apt_get() {
	DEBIAN_FRONTEND=noninteractive run_timeout 600 apt-get \
		-o Dpkg::Use-Pty=0 -o APT::Color=0 "$@" </dev/null
}

# have_hw_kvm: true when /dev/kvm is backed by hardware virtualization
# (kvm_intel or kvm_amd), not a software KVM such as kvm_pvm.
have_hw_kvm() {
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
		{ [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }
}

# mktemp_dir PREFIX: a fresh directory under $CACHE/tmp (same filesystem as
# the cache, visible at the same path inside the nested host).
mktemp_dir() {
	mkdir -p "$CACHE/tmp"
	mktemp -d "$CACHE/tmp/${1:-tmp}.XXXXXX"
}

# host_modprobe MOD...: loads host kernel modules. In the nested host (whose
# kernel is the guest kernel, with no /lib/modules of its own) from the
# unpacked guest kernel package. Says on stderr which one failed.
host_modprobe() {
	local m root=''
	for m in "$@"; do
		[ ! -d "/sys/module/${m//-/_}" ] || continue
		! modprobe -q "$m" 2>/dev/null || continue
		if [ -z "$root" ]; then
			# shellcheck disable=SC2034 # set by the eval; KERNEL unused
			local KERNEL MODDIR KVERSION
			eval "$("$HARNESS_DIR/fetch-kernel.sh")" || return 1
			if [ "$KVERSION" != "$(uname -r)" ]; then
				log "modprobe $m failed (and $KVERSION is not the running kernel)"
				return 1
			fi
			root=${MODDIR%/lib/modules/*}
		fi
		modprobe -d "$root" "$m" || {
			log "modprobe -d $root $m failed"
			return 1
		}
	done
}

# build_guest_initrd OUT TOKEN: the test guests' initramfs (busybox, the
# tests/integration/guest-init.sh /init, TOKEN in /etc/vessel-token).
build_guest_initrd() {
	local out=$1 token=$2 tokfile
	tokfile=$(mktemp "${TMPDIR:-/tmp}/token.XXXXXX")
	printf '%s\n' "$token" >"$tokfile"
	run_timeout 300 "$HARNESS_DIR/mkinitramfs.sh" "$out" \
		--init "$REPO/tests/integration/guest-init.sh" \
		--file "$tokfile:/etc/vessel-token" || {
		rm -f "$tokfile"
		return 1
	}
	rm -f "$tokfile"
}

# random_token: 16 hex digits.
random_token() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }

# Modules of the virtio test guests (mkinitramfs.sh adds their dependencies;
# crc32c_generic is what ext4 and jbd2 ask the crypto API for).
VIRTIO_GUEST_MODULES="virtio_pci virtio_blk virtio_net virtio_rng crc32c_generic ext4"

# build_virtio_initrd OUT [TOKEN]: the virtio test guests' initramfs:
# busybox, the tests/integration/virtio-init.sh /init, $VIRTIO_GUEST_MODULES
# (loaded at boot), and this machine's mke2fs (as /usr/local/sbin/mke2fs and
# mkfs.ext4, ahead of busybox's in the guest's PATH) with /etc/mke2fs.conf,
# its shared libraries and the dynamic loader; TOKEN, if given, in
# /etc/vessel-token (the tests add theirs; see virtio_guest).
build_virtio_initrd() {
	local out=$1 token=${2:-} tmp mke2fs lib rc=0
	local args=()
	ensure_cmds e2fsprogs:mke2fs libc-bin:ldd
	mke2fs=$(command -v mke2fs)
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/virtio-initrd.XXXXXX")
	if [ -n "$token" ]; then
		printf '%s\n' "$token" >"$tmp/token"
		args+=(--file "$tmp/token:/etc/vessel-token")
	fi
	# A relative symlink (mkinitramfs.sh copies it as one; the placeholder
	# only lets it resolve here).
	: >"$tmp/mke2fs"
	ln -s mke2fs "$tmp/mkfs.ext4"
	args+=(--file "$(readlink -f "$mke2fs"):/usr/local/sbin/mke2fs"
		--file "$tmp/mkfs.ext4:/usr/local/sbin/mkfs.ext4")
	[ ! -f /etc/mke2fs.conf ] || args+=(--file /etc/mke2fs.conf:/etc/mke2fs.conf)
	# Each library copied as a regular file under the path the loader uses.
	while read -r lib; do
		args+=(--file "$(readlink -f "$lib"):$lib")
	done < <(_virtio_mke2fs_libs "$mke2fs")
	run_timeout 300 "$HARNESS_DIR/mkinitramfs.sh" "$out" \
		--init "$REPO/tests/integration/virtio-init.sh" \
		--modules "$VIRTIO_GUEST_MODULES" "${args[@]}" || rc=$?
	rm -rf "$tmp"
	return "$rc"
}

# _virtio_mke2fs_libs MKE2FS: its libraries and loader, from ldd's
# "libc.so.6 => /lib/.../libc.so.6 (0x...)" and "/lib64/ld-linux... (0x...)".
_virtio_mke2fs_libs() {
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# virtio_initrd_cached: prints the path of the virtio guests' initramfs
# (build_virtio_initrd, no token) kept in $CACHE/virtio-guest under a key of
# its inputs (virtio-init.sh, mkinitramfs.sh, this function set, the modules,
# the kernel version, mke2fs and its libraries); builds it when missing.
# Written under a temporary name and renamed, so concurrent runs are safe.
virtio_initrd_cached() {
	# shellcheck disable=SC2034 # set by the eval; only KVERSION is used
	local KERNEL MODDIR KVERSION key dir out tmp mke2fs
	eval "$("$HARNESS_DIR/fetch-kernel.sh")" || return 1
	ensure_cmds e2fsprogs:mke2fs libc-bin:ldd
	mke2fs=$(command -v mke2fs)
	key=$({
		cat "$REPO/tests/integration/virtio-init.sh" "$HARNESS_DIR/mkinitramfs.sh"
		declare -f build_virtio_initrd _virtio_mke2fs_libs
		echo "$VIRTIO_GUEST_MODULES $KVERSION"
		# shellcheck disable=SC2046 # one word per file
		stat -L -c '%n %s %Y' "$mke2fs" /etc/mke2fs.conf $(_virtio_mke2fs_libs "$mke2fs") 2>&1
	} | sha256sum | cut -c1-16)
	dir=$CACHE/virtio-guest
	out=$dir/initrd-$key.cpio.gz
	if [ ! -s "$out" ]; then
		mkdir -p "$dir"
		tmp=$dir/.initrd-$key.$$.cpio.gz
		build_virtio_initrd "$tmp" >&2 || {
			rm -f "$tmp"
			return 1
		}
		mv -f "$tmp" "$out"
		# Other keys' images, unused for a day, are stale.
		find "$dir" -maxdepth 1 -name 'initrd-*.cpio.gz' ! -name "initrd-$key.cpio.gz" -mmin +1440 -delete 2>/dev/null || true
	fi
	echo "$out"
}

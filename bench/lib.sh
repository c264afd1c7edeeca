# shellcheck shell=bash
# shellcheck disable=SC2034 # the VM_*, ST_* globals are read by the callers
# Shared helpers for bench/*.sh. Source it; do not run it. Builds on
# tests/harness/lib.sh (log, die, now_ms, have_hw_kvm, build_guest_initrd...).
#
# A benchmark records into $BENCH_OUT (bench/results/STAMP/run/: run.sh
# puts the measurements of one `make bench` there, its own notes one up):
#   meta.tsv     KEY<TAB>VALUE           facts about the run (mode, versions)
#   metrics.tsv  ID<TAB>LABEL<TAB>UNIT   the table's rows, in order
#   samples.tsv  ID<TAB>SIDE<TAB>VALUE   one measured value
#   notes.tsv    SIDE<TAB>TEXT           footnotes: SIDE's options, or "all"
#   status.tsv   BENCH<TAB>RC<TAB>SECS   how each benchmark script ended
#   logs/        consoles and stderr of every VM run
# bench_render_md / bench_render_json turn STAMP/ and STAMP/run/ into the
# table and the JSON.
#
# Sides: "vessel" and its peers, "qemu-microvm" and "qemu-q35" (QEMU on KVM,
# same kernel, initramfs, vCPUs and memory), and "qemu" (the binary itself).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$BENCH_DIR/../tests/harness/lib.sh"

BENCH_SIDES=(vessel qemu-microvm qemu-q35)
BENCH_MEM_MIB=256
BENCH_VCPUS=1
# BENCH_CMDLINE_EXTRA: kernel parameters for every side (default none).
BENCH_CMDLINE_BASE="console=ttyS0 quiet${BENCH_CMDLINE_EXTRA:+ $BENCH_CMDLINE_EXTRA}"
BENCH_QEMU=${BENCH_QEMU:-qemu-system-x86_64}
BENCH_MICROVM_OPTS=microvm,x-option-roms=off,pit=on,pic=on,rtc=on,isa-serial=on
BENCH_VM_TIMEOUT=${BENCH_VM_TIMEOUT:-180}

# ---- recording -----------------------------------------------------------

_bench_out() {
	: "${BENCH_OUT:?BENCH_OUT must name the results directory (run bench/run.sh)}"
	mkdir -p "$BENCH_OUT"
}

# bench_metric ID LABEL UNIT: declares a table row (first declaration wins).
bench_metric() {
	_bench_out
	touch "$BENCH_OUT/metrics.tsv"
	grep -q "^$1	" "$BENCH_OUT/metrics.tsv" ||
		printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$BENCH_OUT/metrics.tsv"
}

# bench_sample ID SIDE VALUE: one measured value.
bench_sample() {
	_bench_out
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$BENCH_OUT/samples.tsv"
}

# bench_note SIDE TEXT: a footnote about SIDE (or "all"); duplicates dropped.
bench_note() {
	_bench_out
	local line
	line=$(printf '%s\t%s' "$1" "${2//	/ }")
	touch "$BENCH_OUT/notes.tsv"
	grep -qxF -- "$line" "$BENCH_OUT/notes.tsv" || printf '%s\n' "$line" >>"$BENCH_OUT/notes.tsv"
}

# bench_meta KEY VALUE: a fact about the run (last one wins).
bench_meta() {
	_bench_out
	printf '%s\t%s\n' "$1" "${2//	/ }" >>"$BENCH_OUT/meta.tsv"
}

# ---- small utilities -----------------------------------------------------

# bench_now VAR: sets VAR to microseconds since the epoch (no fork).
bench_now() { printf -v "$1" '%s' "${EPOCHREALTIME/[.,]/}"; }

# us_to_ms MICROSECONDS: milliseconds with one decimal.
us_to_ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# kib_to_mib KIB: MiB with two decimals.
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }

# bench_stats: reads numbers (one a line), prints "N MEDIAN MIN MAX".
bench_stats() {
	sort -g | awk '{ v[++n] = $1 }
		END {
			if (n == 0) { print 0, "", "", ""; exit }
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			print n, m, v[1], v[n]
		}'
}

# bench_selected NAME: true when NAME is among $BENCH_ONLY (commas or
# spaces), or when BENCH_ONLY is empty.
bench_selected() {
	local want=${BENCH_ONLY:-} w
	[ -n "${want//[ ,]/}" ] || return 0
	for w in ${want//,/ }; do [ "$w" = "$1" ] && return 0; done
	return 1
}

# ---- the guest -----------------------------------------------------------

# bench_guest_setup: sets BENCH_WORK (scratch dir), and BENCH_KERNEL and
# BENCH_INITRD, copies of the guest kernel and initramfs inside it (inside
# the nested host the scratch dir is on tmpfs, so every VMM reads its
# kernel from memory, not 9p). Takes them from BENCH_GUEST_DIR (made by
# bench_guest_build) when set, else fetches and builds them.
bench_guest_setup() {
	if [ -n "${BENCH_WORK:-}" ] && [ -s "${BENCH_KERNEL:-}" ] && [ -s "${BENCH_INITRD:-}" ]; then
		return 0
	fi
	BENCH_WORK=$(mktemp_dir bench)
	if [ -s "${BENCH_GUEST_DIR:-}/vmlinuz" ] && [ -s "${BENCH_GUEST_DIR:-}/initrd.cpio.gz" ]; then
		cp "$BENCH_GUEST_DIR/vmlinuz" "$BENCH_GUEST_DIR/initrd.cpio.gz" "$BENCH_WORK/"
		[ ! -s "$BENCH_GUEST_DIR/System.map" ] || cp "$BENCH_GUEST_DIR/System.map" "$BENCH_WORK/"
	else
		bench_guest_build "$BENCH_WORK"
	fi
	BENCH_KERNEL=$BENCH_WORK/vmlinuz BENCH_INITRD=$BENCH_WORK/initrd.cpio.gz
	# vessel's kernel cache, on the scratch dir (root's /var/cache is
	# read-only in the nested host); the first vessel boot fills it.
	export VESSEL_KERNEL_CACHE=${VESSEL_KERNEL_CACHE:-$BENCH_WORK/kernel-cache}
	export BENCH_WORK BENCH_KERNEL BENCH_INITRD
}

# bench_guest_build DIR: DIR/vmlinuz (Debian's kernel), DIR/System.map (its
# symbols, for a stalled guest's KVM trace) and DIR/initrd.cpio.gz (the test
# guests' busybox initramfs); exports BENCH_KVERSION.
bench_guest_build() {
	local dir=$1 token
	eval "$("$HARNESS_DIR/fetch-kernel.sh")" || die "fetching the guest kernel failed"
	cp "$KERNEL" "$dir/vmlinuz"
	cp "${KERNEL%/*}/System.map-$KVERSION" "$dir/System.map" 2>/dev/null || true
	token=$(random_token)
	build_guest_initrd "$dir/initrd.cpio.gz" "$token" || die "building the guest initramfs failed"
	export BENCH_KVERSION=$KVERSION
}

# bench_cmd SIDE MODE: sets the array BENCH_CMD to the command that boots
# the guest on SIDE with vessel_test=MODE (poweroff|shell; sample means
# poweroff).
bench_cmd() {
	local side=$1 mode=${2/sample/poweroff} cmdline yaml
	cmdline="$BENCH_CMDLINE_BASE vessel_test=$mode"
	case $side in
	vessel | vessel-nocache)
		# vessel-nocache: the bzImage decompresses itself in the guest.
		yaml=$BENCH_WORK/bench-$mode${side#vessel}.yaml
		[ -f "$yaml" ] || cat >"$yaml" <<-YAML
			name: bench-$mode
			vcpus: $BENCH_VCPUS
			memory: ${BENCH_MEM_MIB}M
			kernel: $(basename "$BENCH_KERNEL")
			initrd: $(basename "$BENCH_INITRD")
			cmdline: "$cmdline"
			on_reboot: exit
			kernel_cache: $([ "$side" = vessel ] && echo true || echo false)
		YAML
		BENCH_CMD=("$VESSEL" run "$yaml")
		;;
	qemu-microvm | qemu-q35)
		local machine=q35
		[ "$side" = qemu-q35 ] || machine=$BENCH_MICROVM_OPTS
		BENCH_CMD=("$BENCH_QEMU" -accel kvm -cpu host -M "$machine"
			-smp "$BENCH_VCPUS" -m "${BENCH_MEM_MIB}M"
			-nodefaults -no-user-config -display none -no-reboot -serial stdio
			-kernel "$BENCH_KERNEL" -initrd "$BENCH_INITRD" -append "$cmdline")
		;;
	*) die "unknown side $side" ;;
	esac
}

# bench_note_sides: footnotes with each side's exact command line.
bench_note_sides() {
	local side
	for side in "${BENCH_SIDES[@]}"; do
		bench_cmd "$side" poweroff
		case $side in
		vessel)
			bench_note vessel "\`vessel run\` ($("$VESSEL" version 2>/dev/null | head -n1 || echo '?')): vcpus: $BENCH_VCPUS, memory: ${BENCH_MEM_MIB}M, kernel + initrd, on_reboot: exit, cmdline \"$BENCH_CMDLINE_BASE vessel_test=MODE\" (to which vessel adds noreplace-smp for 1 vCPU, cmdline_auto's default, unless it is there); the kernel from the kernel cache (filled by the warm-up round)"
			;;
		vessel-nocache)
			bench_note vessel-nocache "the same with kernel_cache: false: the bzImage decompresses itself in the guest"
			;;
		*)
			local qargs="${BENCH_CMD[*]}"
			qargs=${qargs//"$BENCH_WORK/"/}
			qargs=${qargs/ vessel_test=poweroff/ vessel_test=MODE}
			bench_note "$side" "$("$BENCH_QEMU" --version | head -n1 | sed 's/ *Copyright.*//'): \`${qargs/-append /-append \"}\"\`"
			;;
		esac
	done
}

# vmm_pid ROOT EXE: the pid of the first descendant of ROOT (or ROOT itself)
# running EXE, or nothing.
vmm_pid() {
	local p
	for p in $(proc_tree "$1"); do
		if [[ /proc/$p/exe -ef $2 ]]; then
			echo "$p"
			return 0
		fi
	done
	return 0
}

# proc_status PID: sets ST_THREADS, ST_RSS, ST_HWM (kB) from /proc/PID/status
# (builtins only; leaves them empty when PID is gone).
proc_status() {
	local k v _
	ST_THREADS='' ST_RSS='' ST_HWM=''
	[ -r "/proc/$1/status" ] || return 0
	while read -r k v _; do
		case $k in
		Threads:) ST_THREADS=$v ;;
		VmRSS:) ST_RSS=$v ;;
		VmHWM:) ST_HWM=$v ;;
		esac
	done <"/proc/$1/status" 2>/dev/null || true
}

# smaps_split PID: prints "TOTAL_RSS GUEST_SIZE GUEST_RSS TOTAL_PRIVATE
# GUEST_PRIVATE" in kB, the guest RAM being the largest anonymous mapping
# no larger than guest RAM + 2 MiB (which leaves out, e.g., TCG's code
# buffer if QEMU ever runs without KVM).
smaps_split() {
	awk -v cap=$(((BENCH_MEM_MIB + 2) * 1024)) '
		/^[0-9a-f]+-[0-9a-f]+ / { i++; anon[i] = (NF < 6); next }
		/^Size:/ { size[i] = $2 }
		/^Rss:/ { rss[i] = $2; trss += $2 }
		/^Private_(Clean|Dirty):/ { priv[i] += $2; tpriv += $2 }
		END {
			g = 0
			for (j = 1; j <= i; j++) if (anon[j] && size[j] <= cap && size[j] > size[g]) g = j
			printf "%d %d %d %d %d\n", trss, size[g], rss[g], tpriv, priv[g]
		}' "/proc/$1/smaps"
}

# bench_vm_run SIDE MODE TAG: boots the guest once on SIDE.
#   MODE poweroff: stdin /dev/null; the timed boot.
#   MODE sample:   stdin /dev/null; under GNU time; the VMM's threads are
#                  sampled every 50 ms; when the guest's /init prints
#                  VESSEL-USERSPACE-OK, bench_on_ready PID runs at once
#                  (define it; the guest powers off right after).
#   MODE shell:    the same, but stdin is a FIFO, the guest boots to a shell,
#                  bench_on_ready runs at VESSEL-SHELL-READY, then `exit` is
#                  sent and the guest powers off.
# Sets VM_RC (VMM status; 124: timed out), VM_MARKER_US (launch to
# VESSEL-USERSPACE-OK, -1 if not seen), VM_EXIT_US (launch to the VMM's
# exit), VM_UPTIME_MS (the guest's VESSEL-UPTIME), VM_KCLOCK_MS (its
# kvm-clock at /init: the uptime plus the ticks it lost early in the boot,
# VESSEL-SCHED-CLOCK-OFFSET-NS; empty where kvm-clock is not stable), VM_OK (1 if the run did
# what it should), VM_WHY (else why not), VM_CONSOLE (the console, \r
# removed), VM_PEAK_KB and VM_THREADS_MAX (sample and shell modes).
bench_vm_run() {
	local side=$1 mode=$2 tag=$3 out fifo err t0 t1 tm='' line pid rc=0 buf=''
	local infifo=/dev/null wfd='' rfd ready='' vpid='' exe marker=VESSEL-USERSPACE-OK
	out=$BENCH_WORK/$tag.console fifo=$BENCH_WORK/$tag.out err=$BENCH_WORK/$tag.err
	bench_cmd "$side" "$mode"
	: >"$out"
	rm -f "$fifo"
	mkfifo "$fifo"
	VM_PEAK_KB='' VM_THREADS_MAX=0 VM_UPTIME_MS='' VM_KCLOCK_MS='' VM_WHY=''
	if [ "$mode" = poweroff ]; then
		bench_now t0
		timeout -k 5 "$BENCH_VM_TIMEOUT" "${BENCH_CMD[@]}" </dev/null >"$fifo" 2>"$err" &
		pid=$!
		while IFS= read -r line; do
			if [ -z "$tm" ] && [[ $line == *VESSEL-USERSPACE-OK* ]]; then bench_now tm; fi
			printf '%s\n' "${line%$'\r'}"
		done <"$fifo" >"$out"
		wait "$pid" || rc=$?
		bench_now t1
	else
		if [ "$mode" = shell ]; then
			infifo=$BENCH_WORK/$tag.in marker=VESSEL-SHELL-READY
			rm -f "$infifo"
			mkfifo "$infifo"
		fi
		exe=$(readlink -f "$(command -v "${BENCH_CMD[0]}")")
		bench_now t0
		/usr/bin/time -f %M -o "$BENCH_WORK/$tag.time" \
			timeout -k 5 "$BENCH_VM_TIMEOUT" "${BENCH_CMD[@]}" <"$infifo" >"$fifo" 2>"$err" &
		pid=$!
		[ "$mode" != shell ] || exec {wfd}>"$infifo"
		exec {rfd}<"$fifo"
		while :; do
			if IFS= read -r -t 0.05 -u "$rfd" line; then
				line=$buf$line buf=''
				line=${line%$'\r'}
				if [ -z "$tm" ] && [[ $line == *VESSEL-USERSPACE-OK* ]]; then bench_now tm; fi
				printf '%s\n' "$line" >>"$out"
				if [ -z "$ready" ] && [[ $line == *"$marker"* ]]; then
					ready=1
					[ -n "$vpid" ] || vpid=$(vmm_pid "$pid" "$exe")
					if [ -n "$vpid" ]; then
						bench_on_ready "$vpid"
					else
						VM_WHY="could not find the $exe process"
					fi
					# In a subshell: if the VMM is gone, SIGPIPE ends only that.
					[ -z "$wfd" ] || (printf 'exit\n' >&"$wfd") 2>/dev/null || true
				fi
			else
				rc=$?
				# >128: timed out, possibly with a partial line; else EOF.
				if [ "$rc" -gt 128 ]; then
					buf+=$line
					rc=0
				else
					buf+=$line
					[ -z "$buf" ] || printf '%s\n' "${buf%$'\r'}" >>"$out"
					rc=0
					break
				fi
			fi
			[ -n "$vpid" ] || vpid=$(vmm_pid "$pid" "$exe")
			if [ -n "$vpid" ]; then
				proc_status "$vpid"
				[ -z "$ST_THREADS" ] || [ "$ST_THREADS" -le "$VM_THREADS_MAX" ] || VM_THREADS_MAX=$ST_THREADS
			fi
		done
		exec {rfd}<&-
		[ -z "$wfd" ] || exec {wfd}>&-
		wait "$pid" || rc=$?
		bench_now t1
		VM_PEAK_KB=$(tail -n1 "$BENCH_WORK/$tag.time" 2>/dev/null | grep -E '^[0-9]+$' || true)
		[ "$infifo" = /dev/null ] || rm -f "$infifo"
	fi
	rm -f "$fifo"
	[ -f "$out" ] || : >"$out"
	VM_RC=$rc VM_CONSOLE=$out
	VM_EXIT_US=$((t1 - t0))
	if [ -n "$tm" ]; then VM_MARKER_US=$((tm - t0)); else VM_MARKER_US=-1; fi
	local up off cpus
	up=$(grep -a -m1 '^VESSEL-UPTIME=' "$out" | cut -d= -f2 || true)
	[ -z "$up" ] || VM_UPTIME_MS=$(awk -v s="$up" 'BEGIN { printf "%.0f", s * 1000 }')
	off=$(grep -a -m1 '^VESSEL-SCHED-CLOCK-OFFSET-NS=' "$out" | cut -d= -f2 | tr -d '\r' || true)
	[ -z "$up" ] || [[ ! $off =~ ^-?[0-9]+$ ]] ||
		VM_KCLOCK_MS=$(awk -v s="$up" -v o="$off" 'BEGIN { printf "%.0f", s * 1000 - o / 1e6 }')
	cpus=$(grep -a -m1 '^VESSEL-CPUINFO=' "$out" | cut -d= -f2 || true)
	if [ "$rc" -ne 0 ]; then
		VM_WHY="exit status $rc${VM_WHY:+; $VM_WHY}"
	elif [ "$VM_MARKER_US" -lt 0 ]; then
		VM_WHY="no VESSEL-USERSPACE-OK"
	elif ! grep -q '^VESSEL-POWEROFF' "$out"; then
		VM_WHY="no VESSEL-POWEROFF"
	elif [ "$cpus" != "$BENCH_VCPUS" ]; then
		VM_WHY="guest saw $cpus CPUs, want $BENCH_VCPUS"
	elif [ "$mode" != poweroff ] && [ -z "$ready" ]; then
		VM_WHY="no $marker"
	fi
	if [ -z "$VM_WHY" ]; then VM_OK=1; else VM_OK=0; fi
	# Keep the evidence (outside the timed part).
	mkdir -p "$BENCH_OUT/logs"
	cp "$out" "$BENCH_OUT/logs/$tag.console" 2>/dev/null || true
	[ ! -s "$err" ] || cp "$err" "$BENCH_OUT/logs/$tag.stderr" 2>/dev/null || true
	rm -f "$err" "$BENCH_WORK/$tag.time"
}

# bench_run_fail_note BENCH SIDE FAILED TOTAL REASONS: notes failed runs.
bench_run_fail_note() {
	[ "$3" -eq 0 ] || bench_note "$2" "$1: $3 of $4 measured runs failed and are left out ($5); see run/logs/ in the results directory"
}

# ---- rendering -----------------------------------------------------------

# _bench_awk MODE DIR: the table (MODE md) or the JSON (MODE json).
_bench_awk() {
	local mode=$1 dir=$2 f d files=()
	# The outer run's files, then the inner's (run/, see run.sh --inner).
	for f in meta metrics samples notes status; do
		for d in "$dir" "$dir/run"; do [ ! -f "$d/$f.tsv" ] || files+=("$d/$f.tsv"); done
	done
	[ ${#files[@]} -gt 0 ] || files=(/dev/null)
	awk -F'\t' -v mode="$mode" '
	function fmt(x) {
		if (x == "") return "n/a"
		if (x == int(x)) return sprintf("%d", x)
		if (x >= 100 || x <= -100) return sprintf("%.0f", x)
		if (x >= 10 || x <= -10) return sprintf("%.1f", x)
		return sprintf("%.2f", x)
	}
	function num(x) { return (x == "") ? "null" : sprintf("%.10g", x) }
	# join(s, c, with): s with every character c replaced by the string with
	function join(s, c, with,    p, n, i, o) {
		n = split(s, p, c); o = p[1]
		for (i = 2; i <= n; i++) o = o with p[i]
		return o
	}
	function jstr(s) {
		s = join(s, "\\", "\\\\"); s = join(s, "\"", "\\\""); gsub(/\t/, " ", s)
		return "\"" s "\""
	}
	# stats(key): fills S_n, S_med, S_min, S_max and S_list (sorted, comma-separated)
	function stats(key,    i, j, t, a, n) {
		n = cnt[key]
		for (i = 1; i <= n; i++) a[i] = val[key, i]
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		S_n = n; S_med = S_min = S_max = ""; S_list = ""
		if (n == 0) return
		S_med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		S_min = a[1]; S_max = a[n]
		for (i = 1; i <= n; i++) S_list = S_list (i > 1 ? ", " : "") num(val[key, i])
	}
	function cell(key) {
		stats(key)
		if (S_n == 0) return "n/a"
		if (S_n == 1 || fmt(S_min) == fmt(S_max)) return fmt(S_med)
		return fmt(S_med) " (" fmt(S_min) "–" fmt(S_max) ")"
	}
	function addside(s) { if (s != "" && s != "all" && !(s in sidx)) { sidx[s] = ++ns; side[ns] = s } }
	BEGIN { addside("vessel") }
	FILENAME ~ /meta\.tsv$/ { if (!($1 in meta)) mk[++nmeta] = $1; meta[$1] = $2; next }
	FILENAME ~ /metrics\.tsv$/ { if (!($1 in lab)) { mid[++nm] = $1; lab[$1] = $2; unit[$1] = $3 }; next }
	FILENAME ~ /samples\.tsv$/ {
		if ($3 == "") next
		k = $1 SUBSEP $2; val[k, ++cnt[k]] = $3 + 0; has[$1, $2] = 1; addside($2); next
	}
	FILENAME ~ /notes\.tsv$/ { nside[++nn] = $1; ntext[nn] = $2; addside($1); next }
	FILENAME ~ /status\.tsv$/ { sb[++nst] = $1; src[nst] = $2; ssec[nst] = $3; next }
	END {
		if (mode == "md") md(); else json()
	}
	function md(    i, m, s, np, vk, pk, r, any) {
		print "| metric | vessel [1] | peer | ratio (vessel/peer) | unit |"
		print "|---|---|---|---|---|"
		for (i = 1; i <= nm; i++) {
			m = mid[i]; vk = m SUBSEP "vessel"; np = 0
			for (s = 2; s <= ns; s++) {
				if (!((m, side[s]) in has)) continue
				np++; pk = m SUBSEP side[s]
				stats(vk); r = S_med; stats(pk)
				r = (r != "" && S_med != "" && S_med != 0) ? sprintf("%.2f", r / S_med) : "—"
				printf "| %s | %s | %s [%d]: %s | %s | %s |\n", lab[m], cell(vk), side[s], s, cell(pk), r, unit[m]
			}
			if (np == 0) printf "| %s | %s | — | — | %s |\n", lab[m], cell(vk), unit[m]
		}
		print ""
		print "Cells: median (min–max) over the measured runs (one value when all runs agree); ratio: vessel median / peer median (below 1: vessel is smaller/faster)."
		print ""
		for (s = 1; s <= ns; s++) {
			any = 0
			for (i = 1; i <= nn; i++) if (nside[i] == side[s]) {
				printf "%s %s\n", (any++ ? "   " : "[" s "] " side[s] ":"), ntext[i]
			}
			if (!any) printf "[%d] %s\n", s, side[s]
		}
		for (i = 1; i <= nn; i++) if (nside[i] == "all") printf "- %s\n", ntext[i]
		for (i = 1; i <= nst; i++) if (src[i] != 0) printf "- benchmark %s did not finish cleanly (status %s)\n", sb[i], src[i]
	}
	function json(    i, m, s, k, first, r, vmed) {
		print "{"
		printf "  \"meta\": {"
		for (i = 1; i <= nmeta; i++) printf "%s\n    %s: %s", (i > 1 ? "," : ""), jstr(mk[i]), jstr(meta[mk[i]])
		print "\n  },"
		print "  \"metrics\": ["
		for (i = 1; i <= nm; i++) {
			m = mid[i]
			printf "    {\"id\": %s, \"label\": %s, \"unit\": %s,\n      \"sides\": {", jstr(m), jstr(lab[m]), jstr(unit[m])
			first = 1
			for (s = 1; s <= ns; s++) {
				k = m SUBSEP side[s]
				if (!((m, side[s]) in has)) continue
				stats(k)
				printf "%s\n        %s: {\"n\": %d, \"median\": %s, \"min\": %s, \"max\": %s, \"samples\": [%s]}", (first ? "" : ","), jstr(side[s]), S_n, num(S_med), num(S_min), num(S_max), S_list
				first = 0
			}
			printf "\n      },\n      \"ratio_vessel_to\": {"
			stats(m SUBSEP "vessel"); vmed = S_med; first = 1
			for (s = 2; s <= ns; s++) {
				if (!((m, side[s]) in has)) continue
				stats(m SUBSEP side[s])
				r = (vmed != "" && S_med != "" && S_med != 0) ? sprintf("%.3f", vmed / S_med) : "null"
				printf "%s%s: %s", (first ? "" : ", "), jstr(side[s]), r
				first = 0
			}
			printf "}}%s\n", (i < nm ? "," : "")
		}
		print "  ],"
		printf "  \"notes\": ["
		for (i = 1; i <= nn; i++) printf "%s\n    {\"side\": %s, \"text\": %s}", (i > 1 ? "," : ""), jstr(nside[i]), jstr(ntext[i])
		print "\n  ],"
		printf "  \"benchmarks\": ["
		for (i = 1; i <= nst; i++) printf "%s\n    {\"name\": %s, \"status\": %d, \"seconds\": %d}", (i > 1 ? "," : ""), jstr(sb[i]), src[i], ssec[i]
		print "\n  ]"
		print "}"
	}
	' "${files[@]}"
}

# bench_render_md DIR: the Markdown table with its footnotes.
bench_render_md() { _bench_awk md "$1"; }

# bench_render_json DIR: the same data as JSON.
bench_render_json() { _bench_awk json "$1"; }

# ---- containers (bench/container.sh) -------------------------------------
# Sides: "vessel" (`vessel run FILE.yaml`), "crun" and "runc" (`RUNTIME run
# --bundle DIR ID`, Debian's packages), all on one busybox rootfs.

BENCH_CT_SIDES=(vessel crun runc)
BENCH_CT_NAME=ctbench
BENCH_CT_TIMEOUT=${BENCH_CT_TIMEOUT:-60}
# vessel's own default capability set for uid 0 (caps.h: Docker's without
# MKNOD, CapEff 00000000a00425fb), given to the OCI runtimes too.
BENCH_CT_CAPS=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL
	CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_NET_RAW
	CAP_SYS_CHROOT CAP_AUDIT_WRITE CAP_SETFCAP)
# The syscalls vessel's default filter (container/seccomp_filter.h, without
# a user namespace) denies with EPERM; clone with a CLONE_NEW* flag is
# denied too, and clone3 gets ENOSYS. The OCI runtimes get the same filter.
BENCH_CT_SECCOMP_DENY=(kexec_load kexec_file_load init_module finit_module
	delete_module swapon swapoff acct unshare setns keyctl add_key
	request_key ptrace process_vm_readv process_vm_writev pidfd_getfd kcmp
	perf_event_open settimeofday clock_settime clock_adjtime stime bpf
	open_by_handle_at userfaultfd lookup_dcookie quotactl nfsservctl uselib
	ioperm iopl io_uring_setup io_uring_enter io_uring_register syslog
	reboot mount umount2 umount pivot_root fsopen fsconfig fsmount fspick
	move_mount open_tree mount_setattr)
# CLONE_NEWNS NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWCGROUP NEWTIME
BENCH_CT_CLONE_NS_FLAGS=(131072 67108864 134217728 268435456 536870912
	1073741824 33554432 128)

# bench_ct_setup: sets BENCH_CT_DIR (a fresh directory under BENCH_WORK, or
# under the cache's tmp/) holding rootfs/ (busybox-static and its applet
# links, /etc/passwd and /etc/group), ctbench.yaml for vessel and the OCI
# bundles crun/ and runc/ (config.json only; root.path is the same rootfs/).
bench_ct_setup() {
	local dir r a side
	if [ -n "${BENCH_WORK:-}" ] && [ -d "$BENCH_WORK" ]; then
		dir=$(mktemp -d "$BENCH_WORK/ct.XXXXXX")
	else
		dir=$(mktemp_dir ct)
	fi
	chmod 755 "$dir"
	r=$dir/rootfs
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/root"
	cp /bin/busybox "$r/bin/busybox"
	# Every applet as a link to /bin/busybox, in one exec (not one ln each).
	chroot "$r" /bin/busybox --install -s /bin ||
		die "could not install busybox's applet links in $r"
	[ -L "$r/bin/true" ] || die "no /bin/true applet link in $r"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	chmod 1777 "$r/tmp"
	cat >"$dir/$BENCH_CT_NAME.yaml" <<-YAML
		name: $BENCH_CT_NAME
		kind: container
		rootfs: rootfs
		readonly: true
		command: [/bin/true]
	YAML
	for side in crun runc; do
		mkdir -p "$dir/$side"
		bench_ct_oci_config "$side" "$r" >"$dir/$side/config.json" ||
			die "could not write the $side bundle's config.json"
	done
	BENCH_CT_DIR=$dir
	export BENCH_CT_DIR
}

# bench_ct_oci_config RUNTIME ROOTFS: prints the bundle's config.json:
# RUNTIME's own `spec` (the OCI default: pid, net, ipc, uts and mount
# namespaces, read-only root, /proc /dev /sys /sys/fs/cgroup mounts, masked
# and read-only paths, no_new_privs, a device cgroup that denies all), with
# the command /bin/true, no terminal, the shared rootfs and, to match what
# vessel does by default, its hostname, a cgroup namespace, Docker's
# default capabilities (in all five sets, as vessel has them),
# RLIMIT_NOFILE 1024/524288 (or the lower hard limit) and vessel's
# seccomp filter.
bench_ct_oci_config() {
	local rt=$1 root=$2 tmp caps flags deny hard rc=0
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocispec.XXXXXX")
	(cd "$tmp" && run_timeout 30 "$rt" spec) >&2 || rc=$?
	if [ "$rc" -ne 0 ] || [ ! -s "$tmp/config.json" ]; then
		rm -rf "$tmp"
		log "error: \`$rt spec\` failed (status $rc)"
		return 1
	fi
	caps=$(printf '%s\n' "${BENCH_CT_CAPS[@]}" | jq -R . | jq -s -c .)
	deny=$(printf '%s\n' "${BENCH_CT_SECCOMP_DENY[@]}" | jq -R . | jq -s -c .)
	flags=$(printf '%s\n' "${BENCH_CT_CLONE_NS_FLAGS[@]}" | jq -s -c .)
	# vessel asks for a hard limit of 524288 and settles for the current one
	# when it may not raise it; so do the OCI runtimes here.
	hard=$(ulimit -Hn)
	[[ $hard =~ ^[0-9]+$ ]] && [ "$hard" -lt 524288 ] || hard=524288
	jq --arg root "$root" --arg host "$BENCH_CT_NAME" --argjson caps "$caps" \
		--argjson deny "$deny" --argjson flags "$flags" --argjson hard "$hard" '
		.process.terminal = false
		| .process.args = ["/bin/true"]
		| .process.capabilities = {bounding: $caps, effective: $caps,
			permitted: $caps, inheritable: $caps, ambient: $caps}
		| .process.rlimits = [{type: "RLIMIT_NOFILE", hard: $hard, soft: 1024}]
		| .root = {path: $root, readonly: true}
		| .hostname = $host
		| .linux.namespaces |= (map(select(.type != "cgroup")) + [{type: "cgroup"}])
		| .linux.seccomp = {
			defaultAction: "SCMP_ACT_ALLOW",
			architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
			syscalls: ([{names: $deny, action: "SCMP_ACT_ERRNO", errnoRet: 1},
				{names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38}]
				+ [$flags[] | {names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: 1,
					args: [{index: 0, value: ., valueTwo: ., op: "SCMP_CMP_MASKED_EQ"}]}])}
		' "$tmp/config.json" || rc=$?
	rm -rf "$tmp"
	return "$rc"
}

# bench_ct_cmd SIDE ID: sets the array BENCH_CMD to the command that runs
# the container once on SIDE (ID: the OCI container id; vessel's name is
# always $BENCH_CT_NAME).
bench_ct_cmd() {
	case $1 in
	vessel) BENCH_CMD=("$VESSEL" run "$BENCH_CT_DIR/$BENCH_CT_NAME.yaml") ;;
	crun | runc) BENCH_CMD=("$1" run --bundle "$BENCH_CT_DIR/$1" "$2") ;;
	*) die "unknown container side $1" ;;
	esac
}

# bench_ct_run SIDE MODE TAG: runs /bin/true in a container once on SIDE,
# stdin /dev/null, stdout and stderr to files.
#   MODE time: the runtime is started by this shell directly (fork + exec,
#     nothing in between), timed from just before the fork until `wait`
#     returns; a `sleep` started (and running) before the clock starts is
#     the time limit. Sets CT_US (launch to exit, microseconds) and
#     CT_CPU_US (user + sys of the runtime and every descendant it reaped,
#     from bash's `times`, microsecond source, millisecond output).
#   MODE rss: `timeout /usr/bin/time -f %M RUNTIME ...`; sets CT_PEAK_KB.
# Sets CT_RC (the runtime's status; 124: timed out), CT_OK (1 if the run
# did what it should) and CT_WHY (else why not). Keeps stdout and stderr
# in $BENCH_OUT/logs/TAG.stderr when the run failed or wrote anything.
bench_ct_run() {
	local side=$1 mode=$2 tag=$3 id out err tf t0 t1 rc=0 line sp pid first='' i c
	local cu0 cs0 cu1 cs1
	id=vb-$side-$tag
	out=$BENCH_CT_DIR/$tag.out err=$BENCH_CT_DIR/$tag.err tf=$BENCH_CT_DIR/$tag.time
	bench_ct_cmd "$side" "$id"
	CT_RC=0 CT_US='' CT_CPU_US='' CT_PEAK_KB='' CT_WHY=''
	if [ "$mode" = time ]; then
		sleep "$BENCH_CT_TIMEOUT" &
		sp=$!
		# Wait (up to 5 s, no forks) until it is sleep, not a bash child
		# still on its way there: none of that in the timed part.
		for ((i = 0; i < 500; i++)); do
			[[ /proc/$sp/exe -ef $BENCH_CT_SLEEP ]] && break
			read -r -t 0.01 -u "$BENCH_CT_NEVER_FD" c || true
		done
		times >"$tf"
		bench_now t0
		"${BENCH_CMD[@]}" </dev/null >"$out" 2>"$err" &
		pid=$!
		wait -n -p first "$pid" "$sp" || rc=$?
		bench_now t1
		times >"$tf.1"
		if [ "$first" != "$pid" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			rc=124
		else
			kill "$sp" 2>/dev/null || true
			wait "$sp" 2>/dev/null || true
		fi
		CT_US=$((t1 - t0))
		{ read -r _ _ && read -r cu0 cs0; } <"$tf" || true
		{ read -r _ _ && read -r cu1 cs1; } <"$tf.1" || true
		CT_CPU_US=$(($(_ct_times_us "$cu1") + $(_ct_times_us "$cs1") - $(_ct_times_us "$cu0") - $(_ct_times_us "$cs0")))
		rm -f "$tf.1"
	else
		timeout -k 5 "$BENCH_CT_TIMEOUT" /usr/bin/time -f %M -o "$tf" \
			"${BENCH_CMD[@]}" </dev/null >"$out" 2>"$err" || rc=$?
		line=''
		while read -r c; do line=$c; done <"$tf" 2>/dev/null || true
		[[ ! $line =~ ^[0-9]+$ ]] || CT_PEAK_KB=$line
	fi
	CT_RC=$rc
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		CT_WHY="timed out after ${BENCH_CT_TIMEOUT}s"
	elif [ "$rc" -ne 0 ]; then
		line=''
		while read -r c; do [[ $c == 'Command exited with'* ]] || line=$c; done <"$err" 2>/dev/null || true
		CT_WHY="exit status $rc: ${line:0:200}"
	elif [ -s "$out" ]; then
		read -r line <"$out" || true
		CT_WHY="unexpected output: ${line:0:200}"
	elif [ "$mode" = rss ] && [ -z "$CT_PEAK_KB" ]; then
		CT_WHY="no figure from GNU time"
	fi
	if [ -z "$CT_WHY" ]; then CT_OK=1; else CT_OK=0; fi
	if [ "$CT_OK" -ne 1 ] || [ -s "$err" ]; then
		mkdir -p "$BENCH_OUT/logs"
		cat "$out" "$err" >"$BENCH_OUT/logs/$tag.stderr" 2>/dev/null || true
	fi
	# A failed OCI run may leave its state (and cgroup) behind.
	if [ "$CT_OK" -ne 1 ] && [ "$side" != vessel ]; then
		run_timeout 30 "$side" delete --force "$id" >/dev/null 2>&1 || true
	fi
	rm -f "$out" "$err" "$tf"
}

# _ct_times_us XmY.ZZZs: bash `times` output (either decimal mark) in
# microseconds; 0 for anything else.
_ct_times_us() {
	local t=$1 m s f
	if [[ $t =~ ^([0-9]+)m([0-9]+)[.,]([0-9]+)s$ ]]; then
		m=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]} f=${BASH_REMATCH[3]}000000
		echo $(((10#$m * 60 + 10#$s) * 1000000 + 10#${f:0:6}))
	else
		echo 0
	fi
}

# bench_ct_open_helpers: BENCH_CT_SLEEP (sleep's real path) and
# BENCH_CT_NEVER_FD (a FIFO open read-write that never has data: `read -t`
# on it sleeps without a fork). Call after bench_ct_setup.
bench_ct_open_helpers() {
	BENCH_CT_SLEEP=$(readlink -f "$(command -v sleep)")
	mkfifo "$BENCH_CT_DIR/never"
	exec {BENCH_CT_NEVER_FD}<>"$BENCH_CT_DIR/never"
}

# us_fmt_ms US VAR / kib_fmt_mib KIB VAR: like us_to_ms and kib_to_mib, into
# VAR, without a fork (a fork costs ~0.1 s in the nested host).
us_fmt_ms() { printf -v "$2" '%d.%d' $((($1 + 50) / 1000)) $(((($1 + 50) / 100) % 10)); }
kib_fmt_mib() { printf -v "$2" '%d.%02d' $((($1 * 100 + 512) / 102400)) $((($1 * 100 + 512) / 1024 % 100)); }

# bench_sample_fast ID SIDE VALUE: bench_sample without its per-call mkdir
# (for loops of many samples; BENCH_OUT must exist).
bench_sample_fast() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$BENCH_OUT/samples.tsv"
}

# ---- virtio guests driven from their shell (blk, net) --------------------
#
# bench/blk.sh and bench/net.sh boot the virtio test guests' initramfs
# (tests/integration/virtio-init.sh as /init: loads virtio_pci, virtio_blk,
# virtio_net and friends, then a shell on the console) with the static load
# generators bench/blkload.c and bench/netload.c in /usr/local/bin. The VMs
# of one benchmark all run at once; each measurement is one command sent to
# one guest's shell (its console's stdin is a FIFO held open here), so the
# sides take turns measurement by measurement while the others sit idle.

BENCH_TOOLS="blkload netload"
BENCH_VIRTIO_CMDLINE=$BENCH_CMDLINE_BASE

# bench_tools_build DIR: DIR/blkload and DIR/netload, static binaries.
bench_tools_build() {
	local dir=$1 t
	ensure_cmds gcc:gcc
	mkdir -p "$dir"
	for t in $BENCH_TOOLS; do
		run_timeout 120 gcc -static -O2 -Wall -Wextra -Werror -o "$dir/$t" "$BENCH_DIR/$t.c" ||
			die "compiling bench/$t.c (gcc -static; needs libc6-dev) failed"
	done
}

# bench_virtio_guest_build DIR: DIR/virtio-initrd.cpio.gz (the virtio test
# guests' initramfs from virtio_initrd_cached, plus a second cpio archive
# with blkload and netload in /usr/local/bin) and DIR/tools/ (the same
# binaries, for the host's side of the measurements).
bench_virtio_guest_build() {
	local dir=$1 base stage
	base=$(virtio_initrd_cached) || die "building the virtio guests' initramfs failed"
	bench_tools_build "$dir/tools"
	stage=$(mktemp -d "${TMPDIR:-/tmp}/bench-tools.XXXXXX")
	mkdir -p "$stage/usr/local/bin"
	cp "$dir/tools/blkload" "$dir/tools/netload" "$stage/usr/local/bin/"
	(cd "$stage" && find usr | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$stage.cpio.gz" || {
		rm -rf "$stage" "$stage.cpio.gz"
		die "packing the load generators into a cpio archive failed"
	}
	cat "$base" "$stage.cpio.gz" >"$dir/virtio-initrd.cpio.gz"
	rm -rf "$stage" "$stage.cpio.gz"
}

# bench_virtio_setup: sets BENCH_VIRTIO_INITRD and BENCH_TOOLS_DIR (copies
# in BENCH_WORK, from BENCH_GUEST_DIR when run.sh built them there, else
# built now) and BENCH_KERNEL (bench_guest_setup).
bench_virtio_setup() {
	bench_guest_setup
	BENCH_VIRTIO_INITRD=$BENCH_WORK/virtio-initrd.cpio.gz BENCH_TOOLS_DIR=$BENCH_WORK/tools
	[ ! -s "$BENCH_VIRTIO_INITRD" ] || [ ! -x "$BENCH_TOOLS_DIR/netload" ] || return 0
	if [ -s "${BENCH_GUEST_DIR:-}/virtio-initrd.cpio.gz" ] && [ -x "${BENCH_GUEST_DIR:-}/tools/netload" ]; then
		cp -r "$BENCH_GUEST_DIR/virtio-initrd.cpio.gz" "$BENCH_GUEST_DIR/tools" "$BENCH_WORK/"
	else
		bench_virtio_guest_build "$BENCH_WORK"
	fi
}

# bench_ext4_dir DIR MIB: mounts a fresh ext4 filesystem (a sparse DIR.img
# of MIB MiB on a loop device) at DIR: a filesystem with O_DIRECT, which the
# tmpfs scratch dirs of the nested host lack. Undo with bench_ext4_undo DIR.
bench_ext4_dir() {
	local dir=$1 mib=$2
	[ "$(id -u)" -eq 0 ] || die "a loop-mounted ext4 for the disk images needs root"
	ensure_cmds e2fsprogs:mkfs.ext4
	host_modprobe loop crc32c_generic ext4 || die "cannot load the loop and ext4 modules on this host"
	mkdir -p "$dir"
	truncate -s "${mib}M" "$dir.img"
	run_timeout 120 mkfs.ext4 -q -F "$dir.img" || die "mkfs.ext4 $dir.img failed"
	run_timeout 60 mount -o loop "$dir.img" "$dir" || die "mounting $dir.img (loop) failed"
}

# bench_ext4_undo DIR: unmounts what bench_ext4_dir mounted, removes DIR.img.
bench_ext4_undo() {
	if mountpoint -q "$1"; then
		run_timeout 60 umount "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
	fi
	rm -f "$1.img"
}

# Per VM (by ID): the VMM's pid and the descriptor of its stdin FIFO; its
# console and stderr go to $BENCH_WORK/ID.console and ID.err.
declare -gA SHVM_PID SHVM_FD
SHVM_SEQ=0

# bench_shvm_start ID LIMIT CMD...: starts the VMM command CMD in the
# background under `timeout LIMIT`, stdin a FIFO held open here, the
# console (stdout) to $BENCH_WORK/ID.console.
bench_shvm_start() {
	local id=$1 limit=$2 in fd
	shift 2
	in=$BENCH_WORK/$id.in
	rm -f "$in"
	mkfifo "$in"
	exec {fd}<>"$in"
	: >"$BENCH_WORK/$id.console"
	timeout -k 5 "$limit" "$@" <"$in" >"$BENCH_WORK/$id.console" 2>"$BENCH_WORK/$id.err" &
	SHVM_PID[$id]=$! SHVM_FD[$id]=$fd
}

# bench_shvm_alive ID: true while ID's VMM runs.
bench_shvm_alive() { kill -0 "${SHVM_PID[$1]}" 2>/dev/null; }

# bench_shvm_wait ID TEXT SECS: waits for a console line containing TEXT
# (fixed string). Status 0 once seen, 1 if the VMM exited first, 124 after
# SECS.
bench_shvm_wait() {
	local id=$1 text=$2 end
	end=$((EPOCHSECONDS + $3))
	while :; do
		! grep -aqF -- "$text" "$BENCH_WORK/$id.console" || return 0
		if ! bench_shvm_alive "$id"; then
			! grep -aqF -- "$text" "$BENCH_WORK/$id.console" || return 0
			return 1
		fi
		[ "$EPOCHSECONDS" -lt "$end" ] || return 124
		sleep 0.1
	done
}

# bench_shvm_cmd ID SECS COMMAND: runs the shell command COMMAND (one line)
# in ID's guest and waits up to SECS for it to finish. Sets SHVM_OUT (its
# console output, \r removed), SHVM_RC (its status in the guest; empty if
# it did not finish: then SHVM_WHY says why) and SHVM_US (host time from
# sending the line until its end was seen, µs).
bench_shvm_cmd() {
	local id=$1 secs=$2 cmd=$3 n t0 t1 rc=0
	SHVM_SEQ=$((SHVM_SEQ + 1))
	n=$SHVM_SEQ SHVM_OUT='' SHVM_RC='' SHVM_WHY='' SHVM_US=''
	bench_now t0
	# The markers are split in the command text ("BB""-7."), so the tty's
	# echo of the line does not contain them; only the output does.
	printf 'echo "BB""-%s."; %s; echo "BE""-%s=$?"\n' "$n" "$cmd" "$n" >&"${SHVM_FD[$id]}"
	bench_shvm_wait "$id" "BE-$n=" "$secs" || rc=$?
	bench_now t1
	SHVM_US=$((t1 - t0))
	case $rc in
	0) ;;
	1) SHVM_WHY="the VMM exited while the guest ran '$cmd'" ;;
	*)
		SHVM_WHY="no answer within ${secs}s from the guest running '$cmd'"
		# What the VMM's threads are doing (vCPUs halted or running, a
		# thread stuck on a lock), a second of what KVM does for them
		# (exits, interrupts injected, wake-ups) and, from vessel, its
		# vCPUs' registers and stacks (SIGUSR2 to it, the child of
		# timeout): kept beside the console.
		if [ -n "${BENCH_OUT:-}" ] && mkdir -p "$BENCH_OUT/logs"; then
			{
				proc_threads "${SHVM_PID[$id]}"
				echo "--- KVM, one second:"
				timeout 30 python3 "$HARNESS_DIR/kvm-trace.py" \
					"$(vmm_pids "${SHVM_PID[$id]}" | paste -sd,)" 1 "${BENCH_WORK:-}/System.map"
				case $id in *vessel*)
					pkill -USR2 -P "${SHVM_PID[$id]}" && sleep 3
					echo "--- vessel's vCPUs (SIGUSR2):"
					sed -n '/state on request/,$p' "$BENCH_WORK/$id.err"
					;;
				esac
			} >"$BENCH_OUT/logs/$id.threads" 2>&1 || true
			SHVM_WHY+="; the VMM's threads and a KVM trace then: run/logs/$id.threads"
		fi
		;;
	esac
	# One fork (they are slow in the nested host): the output, then the
	# status as a last line "=N" when the end marker is there.
	SHVM_OUT=$(awk -v b="BB-$n." -v e="BE-$n=" '
		{ sub(/\r$/, "") }
		(i = index($0, e)) { s = substr($0, i + length(e)); sub(/[^0-9].*/, "", s); print "=" s; exit }
		on { print }
		index($0, b) { on = 1 }' "$BENCH_WORK/$id.console")
	if [ "$rc" -eq 0 ] && [[ $SHVM_OUT =~ (^|$'\n')=([0-9]+)$ ]]; then
		SHVM_RC=${BASH_REMATCH[2]}
		SHVM_OUT=${SHVM_OUT%=*}
		SHVM_OUT=${SHVM_OUT%$'\n'}
	fi
}

# bench_shvm_stop ID SECS: tells ID's guest shell to exit (virtio-init.sh
# then syncs and powers off) and waits up to SECS for the VMM to exit, then
# kills it. Sets SHVM_EXIT (the VMM's status; 124: timed out, killed) and
# keeps the console and stderr in $BENCH_OUT/logs/.
bench_shvm_stop() {
	local id=$1 secs=$2 end fd pid=${SHVM_PID[$1]}
	end=$((EPOCHSECONDS + secs))
	fd=${SHVM_FD[$id]}
	{ printf 'exit\n' >&"$fd"; } 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ "$EPOCHSECONDS" -lt "$end" ]; do sleep 0.2; done
	if kill -0 "$pid" 2>/dev/null; then
		bench_shvm_kill "$id"
		SHVM_EXIT=124
	else
		SHVM_EXIT=0
		wait "$pid" || SHVM_EXIT=$?
	fi
	exec {fd}>&-
	rm -f "$BENCH_WORK/$id.in"
	mkdir -p "$BENCH_OUT/logs"
	tr -d '\r' <"$BENCH_WORK/$id.console" >"$BENCH_OUT/logs/$id.console" 2>/dev/null || true
	[ ! -s "$BENCH_WORK/$id.err" ] || cp "$BENCH_WORK/$id.err" "$BENCH_OUT/logs/$id.stderr" 2>/dev/null || true
}

# bench_shvm_kill ID: stops ID's VMM now: SIGTERM to its `timeout`, which
# passes it on and SIGKILLs the VMM 5 s later if need be.
bench_shvm_kill() {
	local pid=${SHVM_PID[$1]} i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# bench_vms_up BENCH LIFETIME WHAT CHECK ID...: boots a shell VM per ID
# side by side (vm_cmd ID, the caller's, sets BENCH_CMD), each named
# BENCH-ID and given LIFETIME s, then waits for each one's shell and runs
# CHECK ID, the caller's function that returns non-zero with SHVM_WHY set
# when the VM is not usable. Fills the global associative array dead:
# dead[ID] is empty for a VM that is up, else "WHAT: why".
bench_vms_up() {
	local bench=$1 life=$2 what=$3 check=$4 id rc
	shift 4
	declare -gA dead
	for id; do
		vm_cmd "$id"
		bench_shvm_start "$bench-$id" "$life" "${BENCH_CMD[@]}"
		dead[$id]=''
	done
	for id; do
		rc=0
		bench_shvm_wait "$bench-$id" VESSEL-SHELL-READY "$BENCH_VM_TIMEOUT" || rc=$?
		if [ "$rc" -eq 0 ]; then
			"$check" "$id" || rc=1
		else
			SHVM_WHY="no VESSEL-SHELL-READY (status $rc)"
		fi
		if [ "$rc" -ne 0 ]; then
			dead[$id]="$what: $SHVM_WHY"
			log "$bench: $id ${dead[$id]}; console tail:"
			bench_shvm_tail "$bench-$id" >&2
		else
			log "$bench: $id is up ($(grep -ac . "$BENCH_WORK/$bench-$id.console") console lines)"
		fi
	done
}

# bench_shvm_tail ID [N]: the last N (20) lines of ID's console, \r removed.
bench_shvm_tail() { tail -n "${2:-20}" "$BENCH_WORK/$1.console" | tr -d '\r'; }

# bench_kv LINE KEY VAR: sets VAR to the value of the word KEY=VALUE in
# LINE (e.g. a BLKLOAD line), or to nothing. No fork.
bench_kv() {
	local _bkv_re="(^| )$2=([^ ]*)"
	if [[ $1 =~ $_bkv_re ]]; then printf -v "$3" '%s' "${BASH_REMATCH[2]}"; else printf -v "$3" '%s' ''; fi
}

# bench_line TEXT PREFIX VAR: sets VAR to the first line of TEXT that
# contains PREFIX, from PREFIX on (or to nothing). No fork.
bench_line() {
	local _bl_l
	printf -v "$3" '%s' ''
	while IFS= read -r _bl_l; do
		[[ $_bl_l == *"$2"* ]] || continue
		printf -v "$3" '%s' "$2${_bl_l#*"$2"}"
		return 0
	done <<<"$1"
}

# bench_us_ms US VAR: VAR = US microseconds as milliseconds, one decimal.
bench_us_ms() { printf -v "$2" '%d.%d' $((($1 + 50) / 1000)) $(((($1 + 50) / 100) % 10)); }

# bench_q35_guest DIR NAME MEM_MIB CMDLINE: the snapshot and migrate
# benches' guest. DIR/script/test.sh joins the virtio initramfs as
# DIR/initrd.cpio.gz (initrd); DIR/vessel.yaml is vessel's definition;
# qemu_cmd QMP_PATH sets BENCH_CMD to QEMU's command line for the same
# guest (q35, QMP on the pipe QMP_PATH.in/.out), and qargs is that line
# as the notes show it.
bench_q35_guest() {
	local d=$1 name=$2 mem_mib=$3 cmdline=$4
	(cd "$d/script" && echo test.sh | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$d/script.cpio.gz"
	cat "$BENCH_VIRTIO_INITRD" "$d/script.cpio.gz" >"$d/initrd.cpio.gz"
	initrd=$d/initrd.cpio.gz
	cat >"$d/vessel.yaml" <<-YAML
		name: $name
		vcpus: 1
		memory: ${mem_mib}M
		kernel: $BENCH_KERNEL
		initrd: $initrd
		cmdline: "$cmdline"
		on_reboot: exit
		rng: false
	YAML
	_q35_mem=$mem_mib _q35_cmdline=$cmdline
	qemu_cmd QMP
	qargs="${BENCH_CMD[*]}"
	qargs=${qargs//"$d/"/}
	qargs=${qargs//"$BENCH_WORK/"/}
	qargs=${qargs/-append $cmdline/-append \"$cmdline\"}
}

# qemu_cmd QMP_PATH (after bench_q35_guest): sets BENCH_CMD.
qemu_cmd() {
	# shellcheck disable=SC2054 # commas inside QEMU's arguments
	BENCH_CMD=("$BENCH_QEMU" -accel kvm -cpu host -M q35 -smp 1 -m "${_q35_mem}M"
		-nodefaults -no-user-config -display none -no-reboot -serial stdio
		-kernel "$BENCH_KERNEL" -initrd "$initrd" -append "$_q35_cmdline"
		-chardev "pipe,id=qmp,path=$1" -mon chardev=qmp,mode=control)
}

# ---- guests whose console prints "TN" ticks (snapshot, migrate) ----
# wait_console FILE REGEX SECS [PID]: waits for a line of FILE matching
# REGEX (grep -E); 1 if PID exits first, 124 on time out.
wait_console() {
	local end=$((EPOCHSECONDS + $3))
	while :; do
		! grep -aqE -- "$2" "$1" 2>/dev/null || return 0
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			! grep -aqE -- "$2" "$1" 2>/dev/null || return 0
			return 1
		fi
		[ "$EPOCHSECONDS" -lt "$end" ] || return 124
		sleep 0.2
	done
}
# last_t FILE: the number of FILE's last complete "TN" line (0: none).
last_t() { tr -d '\r' <"$1" | sed -n 's/^T\([0-9][0-9]*\)$/\1/p' | tail -n 1 | grep . || echo 0; }
# ticking FILE SECS [PID]: waits until FILE gets 3 more T lines.
ticking() {
	local from end
	from=$(last_t "$1")
	end=$((EPOCHSECONDS + $2))
	while [ "$(last_t "$1")" -lt $((from + 3)) ]; do
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then return 1; fi
		[ "$EPOCHSECONDS" -lt "$end" ] || return 124
		sleep 0.2
	done
}

# ---- QMP over a pipe chardev (QI/QO: the fds in use; log: $d/qmp.log) ----
# qmp_read_until REGEX SECS: reads QMP lines until one matches REGEX (bash
# =~); it is in QMP_LINE. 1 on time out.
qmp_read_until() {
	local end=$((EPOCHSECONDS + $2))
	QMP_LINE=''
	while [ "$EPOCHSECONDS" -lt "$end" ]; do
		IFS= read -r -t 1 -u "$QO" QMP_LINE || continue
		printf '%s\n' "$QMP_LINE" >>"$d/qmp.log"
		[[ ! $QMP_LINE =~ $1 ]] || return 0
	done
	return 1
}
# qmp JSON: sends a command, waits for its "return" (events in between are
# logged). 1 (QMP_LINE: the error) on an error reply or time out.
qmp() {
	printf '%s\n' "$1" >>"$d/qmp.log"
	printf '%s\n' "$1" >&"$QI"
	local end=$((EPOCHSECONDS + 60))
	while [ "$EPOCHSECONDS" -lt "$end" ]; do
		IFS= read -r -t 1 -u "$QO" QMP_LINE || continue
		printf '%s\n' "$QMP_LINE" >>"$d/qmp.log"
		[[ $QMP_LINE != *'"return"'* ]] || return 0
		[[ $QMP_LINE != *'"error"'* ]] || return 1
	done
	return 1
}

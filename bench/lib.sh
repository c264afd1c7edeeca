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
BENCH_CMDLINE_BASE="console=ttyS0 quiet"
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
	else
		bench_guest_build "$BENCH_WORK"
	fi
	BENCH_KERNEL=$BENCH_WORK/vmlinuz BENCH_INITRD=$BENCH_WORK/initrd.cpio.gz
	export BENCH_WORK BENCH_KERNEL BENCH_INITRD
}

# bench_guest_build DIR: DIR/vmlinuz (Debian's kernel) and DIR/initrd.cpio.gz
# (the test guests' busybox initramfs); exports BENCH_KVERSION.
bench_guest_build() {
	local dir=$1 token
	eval "$("$HARNESS_DIR/fetch-kernel.sh")" || die "fetching the guest kernel failed"
	cp "$KERNEL" "$dir/vmlinuz"
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
	vessel)
		yaml=$BENCH_WORK/bench-$mode.yaml
		[ -f "$yaml" ] || cat >"$yaml" <<-YAML
			name: bench-$mode
			vcpus: $BENCH_VCPUS
			memory: ${BENCH_MEM_MIB}M
			kernel: $(basename "$BENCH_KERNEL")
			initrd: $(basename "$BENCH_INITRD")
			cmdline: "$cmdline"
			on_reboot: exit
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
			bench_note vessel "\`vessel run\` ($("$VESSEL" version 2>/dev/null | head -n1 || echo '?')): vcpus: $BENCH_VCPUS, memory: ${BENCH_MEM_MIB}M, kernel + initrd, on_reboot: exit, cmdline \"$BENCH_CMDLINE_BASE vessel_test=MODE\""
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
	local todo=("$1") p c
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		if [[ /proc/$p/exe -ef $2 ]]; then
			echo "$p"
			return 0
		fi
		# shellcheck disable=SC2013 # pids, one or more a line
		for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do todo+=("$c"); done
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
# exit), VM_UPTIME_MS (the guest's VESSEL-UPTIME), VM_OK (1 if the run did
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
	VM_PEAK_KB='' VM_THREADS_MAX=0 VM_UPTIME_MS='' VM_WHY=''
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
	local up cpus
	up=$(grep -a -m1 '^VESSEL-UPTIME=' "$out" | cut -d= -f2 || true)
	[ -z "$up" ] || VM_UPTIME_MS=$(awk -v s="$up" 'BEGIN { printf "%.0f", s * 1000 }')
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

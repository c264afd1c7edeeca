# bench/initcalls.awk: the table of bench/boot.sh's BENCH_BOOT_INITCALLS=1.
# Input lines: SIDE RUN [ SECONDS] MESSAGE, a guest kernel's log line (from
# its /init's VESSEL-KLOG lines). Output, in Markdown, per side (the order
# of -v sides="A B ..."), medians over that side's runs: the kernel's time
# at "Run /init", the sum of the initcalls listed (guest-init.sh lists
# those of 100 us or more), then the 25 initcalls whose
# medians differ most between sides (an initcall a run lacks counts 0;
# "–": listed in none of that side's runs: under 0.1 ms, or not there).
function median(side, key,   n, i, j, t, v, r, any) {
	n = 0; any = 0
	for (i = 1; i <= nruns[side]; i++) {
		r = run_at[side, i]
		v[++n] = ((side, r, key) in val) ? val[side, r, key] : 0
		if ((side, r, key) in val) any = 1
	}
	if (!any) return ""
	for (i = 2; i <= n; i++)        # insertion sort: a handful of runs
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
	side = $1; run = $2
	if (!((side, run) in seen)) { seen[side, run] = 1; run_at[side, ++nruns[side]] = run }
	line = $0
	sub(/^[^ ]+ [^ ]+ +\[ *[0-9.]+\] /, "", line)
	match($0, /\[ *[0-9.]+\]/)
	t = substr($0, RSTART + 1, RLENGTH - 2) + 0
	if (line ~ /^Run \/init as init process/) val[side, run, "@init"] = t * 1000
	else if (match(line, /^initcall [^ ]+ returned .* after [0-9]+ usecs/)) {
		split(line, w, " ")
		name = w[2]; sub(/\+0x.*/, "", name)
		us = w[length(w) - 1] / 1000
		val[side, run, name] += us
		val[side, run, "@sum"] += us
		names[name] = 1
	}
}
END {
	ns = split(sides, s, " ")
	hdr = "| |"; sep = "|---|"
	for (i = 1; i <= ns; i++) if (nruns[s[i]] > 0) { col[++nc] = s[i]; hdr = hdr " " s[i] " |"; sep = sep "---:|" }
	if (nc == 0) { print "No VESSEL-KLOG lines: no table."; exit 0 }
	printf "Guest kernel's own times, ms: medians per side over its runs (runs:"
	for (i = 1; i <= nc; i++) printf " %s %d%s", col[i], nruns[col[i]], i < nc ? "," : ").\n\n"
	print hdr; print sep
	row("kernel's clock at `Run /init`", "@init")
	row("initcalls of 0.1 ms or more, together", "@sum")
	for (name in names) {
		lo = hi = ""
		for (i = 1; i <= nc; i++) {
			m = median(col[i], name) + 0
			if (lo == "" || m < lo) lo = m
			if (hi == "" || m > hi) hi = m
		}
		spread[name] = hi - lo
	}
	for (k = 0; k < 25; k++) {
		best = ""
		for (name in spread) if (best == "" || spread[name] > spread[best] || (spread[name] == spread[best] && name < best)) best = name
		if (best == "") break
		row("`" best "`", best)
		delete spread[best]
	}
}
function row(label, key,   i, line, m) {
	line = "| " label " |"
	for (i = 1; i <= nc; i++) {
		m = median(col[i], key)
		line = line (m == "" ? " – |" : sprintf(" %.1f |", m))
	}
	print line
}

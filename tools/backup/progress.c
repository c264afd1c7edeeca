/* The progress line (progress.h). */
#include "progress.h"
#include "../base/clock.h"

#include <stdio.h>

const char *human_bytes(uint64_t v, char *buf, unsigned len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
	return buf;
}

void progress_start(struct progress *p, bool on, uint64_t total)
{
	*p = (struct progress){ .on = on, .total = total };
	p->t0 = p->last = now_ms();
}

void progress_show(struct progress *p, bool final)
{
	char a[32], b[32], c[32], d[32];
	long long now = now_ms(), ms = now - p->t0;
	double rate;

	if ((!p->on && !p->report) || (!final && now - p->last < 200))
		return;
	p->last = now;
	if (p->report) {
		p->report(p->report_opaque, p);
		return;
	}
	rate = ms > 0 ? (double)p->done * 1000.0 / (double)ms : 0;
	fprintf(stderr, "\rread %s", human_bytes(p->read, a, sizeof(a)));
	if (p->total)
		fprintf(stderr, " (%s of %s)", human_bytes(p->done, b, sizeof(b)),
			human_bytes(p->total, c, sizeof(c)));
	fprintf(stderr, ", stored %s, %s/s", human_bytes(p->stored, b, sizeof(b)),
		human_bytes((uint64_t)rate, d, sizeof(d)));
	if (p->total && rate > 0 && !final)
		fprintf(stderr, ", ETA %.0f s", (double)(p->total - p->done) / rate);
	fprintf(stderr, final ? "\033[K\n" : "\033[K");
	fflush(stderr);
}

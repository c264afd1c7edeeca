/* The process's boot timeline (see timeline.h). A mark claims its slot with
 * a compare-and-swap, writes the detail, then publishes the time with a
 * release store; readers load the time with acquire, so a published time
 * always comes with its complete detail. */
#include "timeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const names[MS_COUNT] = {
	[MS_CONFIG_PARSED] = "config parsed",
	[MS_KVM_OPENED] = "/dev/kvm opened",
	[MS_MEMORY_MAPPED] = "memory mapped",
	[MS_KERNEL_LOADED] = "kernel loaded",
	[MS_INITRD_LOADED] = "initrd loaded",
	[MS_TABLES_WRITTEN] = "tables written",
	[MS_FIRST_KVM_RUN] = "first KVM_RUN",
	[MS_FIRST_SERIAL_BYTE] = "first byte on the serial console",
	[MS_DEBUG_PORT] = "guest's first write to debug port 0x80",
};

static struct {
	int claimed;
	int64_t ns;                     /* 0: not published yet */
	char detail[TIMELINE_DETAIL_MAX];
} slot[MS_COUNT];

static int64_t start_ns;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "Launch": before main(), once the dynamic loader is done. */
__attribute__((constructor)) static void timeline_start(void)
{
	start_ns = mono_ns();
}

int64_t timeline_now(void)
{
	return mono_ns() - start_ns;
}

static bool claim(enum milestone m)
{
	int expect = 0;

	if ((unsigned)m >= MS_COUNT)
		return false;
	return __atomic_compare_exchange_n(&slot[m].claimed, &expect, 1, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static void publish(enum milestone m, int64_t ns)
{
	/* 0 means unpublished: a mark in the very first nanosecond is 1. */
	__atomic_store_n(&slot[m].ns, ns > 0 ? ns : 1, __ATOMIC_RELEASE);
}

void timeline_mark(enum milestone m)
{
	int64_t ns = timeline_now();

	if (claim(m))
		publish(m, ns);
}

void timeline_mark_detail(enum milestone m, const char *fmt, ...)
{
	int64_t ns = timeline_now();
	va_list ap;

	if (!claim(m))
		return;
	va_start(ap, fmt);
	vsnprintf(slot[m].detail, sizeof(slot[m].detail), fmt, ap);
	va_end(ap);
	publish(m, ns);
}

void timeline_note(enum milestone m, const char *fmt, ...)
{
	va_list ap;

	if (timeline_marked(m))
		return;
	va_start(ap, fmt);
	vsnprintf(slot[m].detail, sizeof(slot[m].detail), fmt, ap);
	va_end(ap);
}

bool timeline_marked(enum milestone m)
{
	return (unsigned)m < MS_COUNT &&
	       __atomic_load_n(&slot[m].claimed, __ATOMIC_RELAXED);
}

void timeline_get(enum milestone m, struct timeline_entry *e)
{
	int64_t ns;

	memset(e, 0, sizeof(*e));
	e->ns = -1;
	if ((unsigned)m >= MS_COUNT)
		return;
	e->name = names[m];
	ns = __atomic_load_n(&slot[m].ns, __ATOMIC_ACQUIRE);
	if (!ns)
		return;
	e->ns = ns;
	memcpy(e->detail, slot[m].detail, sizeof(e->detail));
	e->detail[sizeof(e->detail) - 1] = '\0';
}

void timeline_reset(void)
{
	memset(slot, 0, sizeof(slot));
}

/* The boot timeline: when each milestone of the first boot happened, in
 * nanoseconds of CLOCK_MONOTONIC since the process started. One per
 * process (a vessel process runs one guest), so the code that reaches a
 * milestone marks it without a handle being passed down. The first mark
 * of a milestone wins: reboots do not move it. Any thread may mark. */
#ifndef VESSEL_TIMELINE_H
#define VESSEL_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

enum milestone {
	MS_CONFIG_PARSED,
	MS_KVM_OPENED,
	MS_MEMORY_MAPPED,
	MS_KERNEL_LOADED,       /* detail: cache hit / miss / off, entry */
	MS_INITRD_LOADED,
	MS_TABLES_WRITTEN,
	MS_FIRST_KVM_RUN,
	MS_FIRST_SERIAL_BYTE,
	MS_DEBUG_PORT,          /* the guest's first write to DEBUG_PORT */
	MS_COUNT,
};

#define TIMELINE_DETAIL_MAX 256

void timeline_mark(enum milestone m);
void timeline_mark_detail(enum milestone m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Set the detail of m before it is marked (by the thread that will mark
 * it with timeline_mark); ignored once m is marked. */
void timeline_note(enum milestone m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Has m been marked yet? Cheap: for callers on hot paths. */
bool timeline_marked(enum milestone m);

/* A milestone as recorded: ns < 0 if it was never reached. */
struct timeline_entry {
	const char *name;
	int64_t ns;
	char detail[TIMELINE_DETAIL_MAX];
};
void timeline_get(enum milestone m, struct timeline_entry *e);
/* Nanoseconds since the process started, now. */
int64_t timeline_now(void);
/* Forget every mark (tests). */
void timeline_reset(void);

#endif

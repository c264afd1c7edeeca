/* The guests of a directory of definitions, as `vessel up` and `vessel
 * down` treat them, and as `vessel init` (the appliance's PID 1) starts
 * and stops them: loaded and validated together, started lowest order:
 * first (ties by name) with each one's up_delay, stopped in reverse. */
#ifndef VESSEL_GUEST_SET_H
#define VESSEL_GUEST_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

struct guest_set {
	struct guest_config *v;
	size_t n;
};

enum guest_event {
	GUEST_STARTED,		/* pid: its supervisor */
	GUEST_ALREADY,		/* running already: left alone */
	GUEST_STOPPED,
	GUEST_FAILED,		/* msg: why (a bad file, a failed start/stop) */
};

/* What happened to one guest (name may be NULL for a bad file). */
typedef void guest_report_fn(enum guest_event ev, const char *name,
			     pid_t pid, const char *msg);

/* Load dir's *.yaml and *.yml (not dotfiles): only those with autostart:
 * true unless all. Every bad file is reported; then -1, nothing kept. */
int guest_set_load(const char *dir, bool all, struct guest_set *s,
		   guest_report_fn *report);
void guest_set_free(struct guest_set *s);
/* Start each guest not running yet, in order. Returns how many failed. */
size_t guest_set_up(const struct guest_set *s, guest_report_fn *report);
/* Stop each running guest in reverse order, like `vessel stop` with
 * timeout and force, waiting for it to be gone. Returns how many failed. */
size_t guest_set_down(const struct guest_set *s, double timeout, bool force,
		      guest_report_fn *report);

/* A guest definition's file name: *.yaml or *.yml, not a dotfile. */
bool guest_set_is_file(const char *name);

#endif

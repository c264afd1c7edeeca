/* Masked and read-only paths, applied after pivot_root: the lists of the
 * ct_spec (spec.h), by default the OCI defaults:
 *
 * Masked (files get /dev/null bound over them, directories an empty
 * read-only tmpfs): /proc/acpi /proc/asound /proc/kcore /proc/keys
 * /proc/latency_stats /proc/sched_debug /proc/scsi /proc/sysrq-trigger
 * /proc/timer_list /proc/timer_stats /sys/firmware
 * /sys/devices/virtual/powercap.
 * Read-only: /proc/bus /proc/fs /proc/irq /proc/sys.
 * Paths this kernel does not have are skipped. */
#ifndef VESSEL_MASKS_H
#define VESSEL_MASKS_H

#include "../tools/base/error.h"
#include "spec.h"

int masks_apply(const struct ct_spec *s, struct error *err);

#endif

/* linux.sysctl of an OCI spec: written to /proc/sys in the container,
 * after pivot_root and before /proc/sys is made read-only. Only the
 * namespaced ones are allowed (as runc): kernel.msg*, kernel.sem,
 * kernel.shm*, fs.mqueue.*, net.* (with a network namespace of the
 * container's own), kernel.hostname and kernel.domainname (with a uts
 * namespace of its own); anything else is an error naming the key. */
#ifndef VESSEL_SYSCTL_H
#define VESSEL_SYSCTL_H

#include <stdbool.h>

#include "../tools/base/error.h"
#include "spec.h"

/* Parse time: is key allowed with these namespaces of the container's
 * own (CLONE_NEW*: new or joined by path)? */
int oci_sysctl_check(const char *key, unsigned long ns_new, struct error *err);
int oci_sysctl_apply(const struct ct_spec *s, struct error *err);

#endif

/* A seccomp filter compiled to classic BPF: built (or read from the
 * cache, seccomp_cache.h) while the container is created, loaded into
 * PID 1 right before it executes its command (process.h). */
#ifndef VESSEL_SECCOMP_PROG_H
#define VESSEL_SECCOMP_PROG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>

#include "../tools/base/error.h"

struct seccomp_prog {
	struct sock_filter *insns;	/* NULL: no filter */
	unsigned short len;
	unsigned int flags;		/* SECCOMP_FILTER_FLAG_* */
	bool owned;			/* insns is malloc'd */
};

/* Into the calling thread (no_new_privs or CAP_SYS_ADMIN); nothing for
 * an empty program. */
int seccomp_prog_load(const struct seccomp_prog *p, struct error *err);
/* Checks a program from outside (a cache file) as the kernel will when
 * it is loaded: 1 to BPF_MAXINSNS instructions, each one seccomp takes,
 * loads within struct seccomp_data, jumps within the program, ending in
 * a return. */
int seccomp_prog_check(const struct sock_filter *insns, size_t len,
		       struct error *err);
void seccomp_prog_free(struct seccomp_prog *p);

/* The cache's file format (seccomp_cache.h): the instructions, then the
 * flags as a host-order u32. parse checks it and copies the program into
 * out (owned). */
#define SECCOMP_PROG_FILE_MAX \
	(BPF_MAXINSNS * sizeof(struct sock_filter) + sizeof(uint32_t))
int seccomp_prog_parse(const void *buf, size_t len, struct seccomp_prog *out,
		       struct error *err);

#endif

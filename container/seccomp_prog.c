/* Compiled seccomp filters (seccomp_prog.h). */
#include "seccomp_prog.h"

#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int seccomp_prog_load(const struct seccomp_prog *p, struct error *err)
{
	struct sock_fprog fprog = { .len = p->len, .filter = p->insns };

	if (!p->insns)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags,
		    &fprog) < 0)
		return err_sys(err, "loading the seccomp filter");
	return 0;
}

/* The classic BPF instructions seccomp accepts (the kernel's
 * seccomp_check_filter). */
static bool known_code(uint16_t code)
{
	switch (code) {
	case BPF_LD | BPF_W | BPF_ABS: case BPF_LD | BPF_W | BPF_LEN:
	case BPF_LDX | BPF_W | BPF_LEN: case BPF_RET | BPF_K:
	case BPF_RET | BPF_A: case BPF_ALU | BPF_ADD | BPF_K:
	case BPF_ALU | BPF_ADD | BPF_X: case BPF_ALU | BPF_SUB | BPF_K:
	case BPF_ALU | BPF_SUB | BPF_X: case BPF_ALU | BPF_MUL | BPF_K:
	case BPF_ALU | BPF_MUL | BPF_X: case BPF_ALU | BPF_DIV | BPF_K:
	case BPF_ALU | BPF_DIV | BPF_X: case BPF_ALU | BPF_AND | BPF_K:
	case BPF_ALU | BPF_AND | BPF_X: case BPF_ALU | BPF_OR | BPF_K:
	case BPF_ALU | BPF_OR | BPF_X: case BPF_ALU | BPF_XOR | BPF_K:
	case BPF_ALU | BPF_XOR | BPF_X: case BPF_ALU | BPF_LSH | BPF_K:
	case BPF_ALU | BPF_LSH | BPF_X: case BPF_ALU | BPF_RSH | BPF_K:
	case BPF_ALU | BPF_RSH | BPF_X: case BPF_ALU | BPF_NEG:
	case BPF_LD | BPF_IMM: case BPF_LDX | BPF_IMM:
	case BPF_MISC | BPF_TAX: case BPF_MISC | BPF_TXA:
	case BPF_LD | BPF_MEM: case BPF_LDX | BPF_MEM:
	case BPF_ST: case BPF_STX: case BPF_JMP | BPF_JA:
	case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
	case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
	case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
	case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
		return true;
	}
	return false;
}

int seccomp_prog_check(const struct sock_filter *insns, size_t len,
		       struct error *err)
{
	size_t pc;

	if (!len || len > BPF_MAXINSNS)
		return err_set(err, "seccomp: a filter of %zu instructions "
			       "(1 to %d)", len, BPF_MAXINSNS);
	for (pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &insns[pc];
		size_t left = len - pc - 1;	/* instructions after this */

		if (!known_code(f->code))
			return err_set(err, "seccomp: instruction %zu: code "
				       "%#x", pc, f->code);
		if (f->code == (BPF_LD | BPF_W | BPF_ABS) &&
		    (f->k % 4 || f->k >= sizeof(struct seccomp_data)))
			return err_set(err, "seccomp: instruction %zu loads "
				       "offset %u", pc, f->k);
		if ((f->code == (BPF_LD | BPF_MEM) ||
		     f->code == (BPF_LDX | BPF_MEM) || f->code == BPF_ST ||
		     f->code == BPF_STX) && f->k >= BPF_MEMWORDS)
			return err_set(err, "seccomp: instruction %zu: scratch "
				       "word %u", pc, f->k);
		if (f->code == (BPF_ALU | BPF_DIV | BPF_K) && !f->k)
			return err_set(err, "seccomp: instruction %zu divides "
				       "by zero", pc);
		if (f->code == (BPF_JMP | BPF_JA) ? f->k >= left :
		    BPF_CLASS(f->code) == BPF_JMP &&
		    (f->jt >= left || f->jf >= left))
			return err_set(err, "seccomp: instruction %zu jumps "
				       "out of the filter", pc);
	}
	if (BPF_CLASS(insns[len - 1].code) != BPF_RET)
		return err_set(err, "seccomp: the filter does not end in a "
			       "return");
	return 0;
}

int seccomp_prog_parse(const void *buf, size_t len, struct seccomp_prog *out,
		       struct error *err)
{
	struct sock_filter *insns;
	uint32_t flags;
	size_t n;

	if (len <= sizeof(flags) || len > SECCOMP_PROG_FILE_MAX ||
	    (len - sizeof(flags)) % sizeof(*insns))
		return err_set(err, "seccomp: a program file of %zu bytes", len);
	n = (len - sizeof(flags)) / sizeof(*insns);
	insns = malloc(n * sizeof(*insns));
	if (!insns)
		return err_set(err, "out of memory");
	memcpy(insns, buf, n * sizeof(*insns));
	memcpy(&flags, (const unsigned char *)buf + n * sizeof(*insns),
	       sizeof(flags));
	if (flags & ~(uint32_t)(SECCOMP_FILTER_FLAG_LOG |
				SECCOMP_FILTER_FLAG_SPEC_ALLOW)) {
		free(insns);
		return err_set(err, "seccomp: flags %#x", flags);
	}
	if (seccomp_prog_check(insns, n, err) < 0) {
		free(insns);
		return -1;
	}
	*out = (struct seccomp_prog){ .insns = insns, .len = (unsigned short)n,
				      .flags = flags, .owned = true };
	return 0;
}

void seccomp_prog_free(struct seccomp_prog *p)
{
	if (p->owned)
		free(p->insns);
	p->insns = NULL;
	p->len = 0;
	p->owned = false;
}

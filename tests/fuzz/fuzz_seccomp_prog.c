/* libFuzzer: a compiled seccomp filter as the OCI state root's cache keeps
 * it (container/seccomp_prog.c, seccomp_cache.h). What parses is a
 * program the kernel's checks would take (every jump lands inside it, it
 * ends in a return, loads stay inside struct seccomp_data) and holds the
 * input's bytes. */
#include <stdlib.h>
#include <string.h>

#include "../../container/seccomp_prog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	struct seccomp_prog p;
	size_t pc;

	if (seccomp_prog_parse(data, size, &p, &err) < 0)
		return 0;
	if (!p.owned || !p.len || p.len > BPF_MAXINSNS ||
	    size != p.len * sizeof(*p.insns) + sizeof(uint32_t) ||
	    memcmp(p.insns, data, p.len * sizeof(*p.insns)) ||
	    BPF_CLASS(p.insns[p.len - 1].code) != BPF_RET)
		abort();
	for (pc = 0; pc < p.len; pc++) {
		const struct sock_filter *f = &p.insns[pc];

		if (BPF_CLASS(f->code) != BPF_JMP)
			continue;
		if (BPF_OP(f->code) == BPF_JA ? pc + 1 + f->k >= p.len :
		    pc + 1 + f->jt >= p.len || pc + 1 + f->jf >= p.len)
			abort();
	}
	seccomp_prog_free(&p);
	return 0;
}

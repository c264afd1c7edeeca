/* What an x86 vCPU shows of itself for a diagnosis: its registers, and on
 * request the words of its stack, read from guest RAM through the guest's
 * own page tables (KVM_TRANSLATE). Guest memory is only read, and only
 * where it translates into RAM. */
#include "vm.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define STACK_WORDS_MAX 2048    /* 16 KiB: Linux's THREAD_SIZE, its IRQ stack */
#define KERNEL_HALF (1ULL << 63)

void vcpu_dump_regs(const struct vcpu *v, uint64_t *rsp)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	*rsp = 0;
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0) {
		*rsp = r.rsp;
		fprintf(stderr,
			" rip %016llx rsp %016llx rflags %08llx\n"
			" rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
			" rsi %016llx rdi %016llx rbp %016llx\n"
			" r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
			" r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n",
			r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx,
			r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11,
			r.r12, r.r13, r.r14, r.r15);
	}
	if (ioctl(v->fd, KVM_GET_SREGS, &s) == 0) {
		fprintf(stderr,
			" cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx\n"
			" efer %llx cs %04x ss %04x gdt %llx+%x idt %llx+%x\n",
			s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector,
			s.ss.selector, s.gdt.base, s.gdt.limit, s.idt.base,
			s.idt.limit);
	}
}

/* The host address of the guest-virtual page holding va, or NULL. */
static const uint8_t *page_at(const struct vcpu *v, uint64_t va)
{
	struct kvm_translation t = { .linear_address = va & ~0xfffULL };

	if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return NULL;
	return gmem_ptr(&v->vm->mem, t.physical_address & ~0xfffULL, 4096);
}

/* The words from va up to the end of its 16 KiB (a Linux stack's size and
 * alignment) or the first page that does not translate (a stack's guard
 * page), four to a line, all-zero lines left out. Returns the last word
 * read (0 if none). */
static uint64_t dump_words(const struct vcpu *v, uint64_t va)
{
	const uint8_t *page = NULL;
	uint64_t line[4], last = 0, page_va = 1;
	unsigned n = 0, words;

	va &= ~7ULL;
	words = (unsigned)((((va | (8ULL * STACK_WORDS_MAX - 1)) - va) >> 3) + 1);
	for (unsigned i = 0; i < words; i++, va += 8) {
		if ((va & ~0xfffULL) != page_va) {
			page_va = va & ~0xfffULL;
			page = page_at(v, va);
		}
		if (!page)
			break;
		memcpy(&line[n], page + (va & 0xfff), 8);
		last = line[n];
		if (++n == 4 || (va & 0xfff) == 0xff8) {
			bool zero = true;

			for (unsigned k = 0; k < n; k++)
				zero = zero && !line[k];
			if (!zero) {
				fprintf(stderr, "  %016llx:", (unsigned long long)(va - 8 * (n - 1)));
				for (unsigned k = 0; k < n; k++)
					fprintf(stderr, " %016llx", (unsigned long long)line[k]);
				fputc('\n', stderr);
			}
			n = 0;
		}
		if (va + 8 < va)
			break;
	}
	return last;
}

void vcpu_dump_stack(const struct vcpu *v, uint64_t rsp)
{
	uint64_t top;

	fprintf(stderr, " stack from rsp %016llx (non-zero lines):\n",
		(unsigned long long)rsp);
	top = dump_words(v, rsp);
	/* Linux keeps the interrupted stack's pointer in the last word of
	 * its IRQ stack: follow one such switch. */
	if (top >= KERNEL_HALF && (top < rsp || top - rsp >= 8 * STACK_WORDS_MAX) &&
	    page_at(v, top)) {
		fprintf(stderr, " stack from %016llx (the last word above):\n",
			(unsigned long long)top);
		dump_words(v, top);
	}
}

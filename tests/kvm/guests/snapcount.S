/* The snapshot test's guest (tests/unit/test_vcpu_state.c): counts for
 * ever. Each round it increments a counter in RAM and reports it, its
 * LAPIC timer ticks (%r12) and its TSC on ports 0x520..0x52f (outl:
 * counter, ticks, TSC low, TSC high). The timer is the x2APIC's in
 * TSC-deadline mode, vector 0x40, re-armed 10^7 TSC cycles ahead at each
 * tick. Any other vector is reported on port 0x530 and the guest stops. */
#include "bzhdr.inc"

#define PORT      0x520
#define DELTA     10000000

main:
	mov $0xff, %al                  /* PICs masked: LAPIC timer only */
	out %al, $0x21
	out %al, $0xa1
	lea idt(%rip), %rdi
	lea unexpected(%rip), %rax
	mov $256, %r8d
1:	call set_gate
	add $16, %rdi
	dec %r8d
	jnz 1b
	lea idt+0x40*16(%rip), %rdi
	lea tick(%rip), %rax
	call set_gate
	lea idt+0xff*16(%rip), %rdi
	lea spurious(%rip), %rax
	call set_gate
	lea idtr(%rip), %rdi
	lea idt(%rip), %rax
	movw $256*16-1, (%rdi)
	mov %rax, 2(%rdi)
	lidt (%rdi)
	mov $0x1b, %ecx                 /* IA32_APIC_BASE: enable, x2APIC */
	rdmsr
	or $0xc00, %eax
	wrmsr
	mov $0x80f, %ecx                /* SVR: APIC on, spurious vector 0xff */
	mov $0x1ff, %eax
	xor %edx, %edx
	wrmsr
	mov $0x832, %ecx                /* LVT timer: 0x40, TSC-deadline mode */
	mov $(0x40 | (2 << 17)), %eax
	wrmsr
	call arm
	xor %r12, %r12
	sti
loop:
	incq counter(%rip)
	mov counter(%rip), %rax
	mov $PORT, %dx
	out %eax, %dx
	mov %r12d, %eax
	mov $PORT+4, %dx
	out %eax, %dx
	rdtsc
	mov %edx, %esi
	mov $PORT+8, %dx
	out %eax, %dx
	mov %esi, %eax
	mov $PORT+12, %dx
	out %eax, %dx
	jmp loop

/* IA32_TSC_DEADLINE = TSC + DELTA */
arm:
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	add $DELTA, %rax
	mov %rax, %rdx
	shr $32, %rdx
	mov $0x6e0, %ecx
	wrmsr
	ret

tick:
	push %rax
	push %rcx
	push %rdx
	inc %r12
	call arm
	xor %eax, %eax                  /* x2APIC EOI */
	xor %edx, %edx
	mov $0x80b, %ecx
	wrmsr
	pop %rdx
	pop %rcx
	pop %rax
	iretq

spurious:
	iretq

unexpected:
	mov $0xee, %al
	mov $PORT+16, %dx
	out %al, %dx
	cli
1:	hlt
	jmp 1b

/* The 64-bit interrupt gate at %rdi for the handler at %rax. */
set_gate:
	mov %ax, (%rdi)
	mov %cs, %cx
	mov %cx, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	mov %rax, %rdx
	shr $16, %rdx
	mov %dx, 6(%rdi)
	shr $16, %rdx
	mov %edx, 8(%rdi)
	movl $0, 12(%rdi)
	ret

	.balign 16
idt:	.fill 256 * 16, 1, 0
idtr:	.word 0
	.quad 0
	.balign 8
counter: .quad 0

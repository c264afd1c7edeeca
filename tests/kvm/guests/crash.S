/* Loads an empty IDT and raises an exception: a triple fault (or, on PVM, a
 * KVM internal error). vessel must report a crash and dump registers. */
#include "bzhdr.inc"
main:
	PUTS(msg)
	lidt idt(%rip)
	mov $0xc0ffee, %rax     /* recognisable in the register dump */
	ud2
	hlt
msg:	.asciz "tiny-guest: about to crash\n"
	.p2align 4
idt:	.word 0
	.quad 0
